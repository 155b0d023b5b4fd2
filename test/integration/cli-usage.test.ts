/**
 * The CLI as a user types it (`node bin/fleetprobe.js ...` as a child process): --help
 * and -h of every command, "unknown command" for a typo, flags alone meaning run, and
 * the messages that came out garbled before (a doubled "invalid configuration", "1
 * workers", "fleetprobe stopped" after a start that never happened). Loopback only; no
 * privileges needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMAND_NAMES, COMMANDS } from '../../src/commands.js';
import { ExporterProcess, runCli, tempDir } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';

test("COMMAND --help and -h print that command's usage and exit 0, for every command", async () => {
  for (const name of COMMAND_NAMES) {
    for (const flag of ['--help', '-h']) {
      const r = await runCli([name, flag]);
      assert.equal(r.code, 0, `${name} ${flag}: exit ${r.code}\n${r.stderr}`);
      assert.equal(r.stderr, '', `${name} ${flag}: nothing on stderr`);
      assert.ok(r.stdout.startsWith(`usage: ${COMMANDS[name].usage}\n`), `${name} ${flag}: ${r.stdout.slice(0, 200)}`);
    }
    const viaHelp = await runCli(['help', name]);
    assert.equal(viaHelp.code, 0);
    assert.ok(viaHelp.stdout.startsWith(`usage: ${COMMANDS[name].usage}\n`), `help ${name}`);
  }
  // --help anywhere among a command's arguments, even after other flags.
  const late = await runCli(['run', '--config', '/nonexistent.yaml', '--help']);
  assert.equal(late.code, 0);
  assert.ok(late.stdout.startsWith(`usage: ${COMMANDS.run.usage}\n`));
  assert.match(late.stdout, /--target ADDRESS/);
  // Without a command: the overview with every command and every key.
  for (const args of [['--help'], ['-h'], ['help']]) {
    const r = await runCli(args);
    assert.equal(r.code, 0, args.join(' '));
    for (const name of COMMAND_NAMES) assert.ok(r.stdout.includes(COMMANDS[name].usage), `${args.join(' ')} lists ${name}`);
    assert.match(r.stdout, /--web\.listen-address VALUE/);
  }
  const version = await runCli(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^fleetprobe \d+\.\d+\.\d+ \(node v\d+/);
});

test('a typo is an unknown command with a suggestion (exit 2), not an "unexpected argument" of run', async () => {
  const r = await runCli(['rnu']);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.equal(
    r.stderr,
    'fleetprobe: unknown command "rnu" (did you mean "run"?); commands: run, responder, check-config, test, version, help; see fleetprobe --help\n',
  );
  const addr = await runCli(['127.0.0.1']);
  assert.equal(addr.code, 2);
  assert.match(addr.stderr, /unknown command "127\.0\.0\.1" \(to probe it: fleetprobe run --target 127\.0\.0\.1\)/);
  const helpTypo = await runCli(['help', 'respnder']);
  assert.equal(helpTypo.code, 2);
  assert.match(helpTypo.stderr, /unknown command "respnder" \(did you mean "responder"\?\)/);
  const extra = await runCli(['version', 'now']);
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /"version" takes no arguments/);
  const responderTarget = await runCli(['responder', '--target', '127.0.0.1']);
  assert.equal(responderTarget.code, 2);
  assert.match(responderTarget.stderr, /--target: the responder probes nothing; targets are for "fleetprobe run"/);
});

test('flags alone mean run; with no target at all it serves and is ready', { timeout: 30_000 }, async (t) => {
  const dir = tempDir('fp-cli-usage');
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const cfg = dir.file('c.yaml', { workers: 1, flush_interval: '100ms', web: { listen_address: listen }, targets: [] });
  const exp = new ExporterProcess(['--config', cfg], listen);
  t.after(async () => {
    await exp.stop(3000);
    dir.cleanup();
  });
  await exp.waitReady(15_000);
  const status = JSON.parse((await exp.request('/api/v1/status')).text()) as { mode: string; config: string; targets: { probing: number } };
  assert.equal(status.mode, 'run');
  assert.equal(status.config, cfg);
  assert.equal(status.targets.probing, 0);
  const stop = await exp.stop(5000);
  assert.equal(stop.code, 0, exp.tail());
  assert.match(exp.stdout, /"msg":"fleetprobe stopped"/, 'a process that ran says it stopped');
});

test('mended messages: "invalid configuration" once, "1 worker", nothing on stdout when the start failed', async (t) => {
  const dir = tempDir('fp-cli-msgs');
  t.after(() => dir.cleanup());
  const bad = await runCli(['run', '--config', dir.file('bad.yaml', { workers: 0, web: { listen_address: 'nowhere' } })]);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.match(/invalid configuration/g)?.length, 1, bad.stderr);
  assert.match(bad.stderr, /^fleetprobe: invalid configuration: 2 problems\n {2}- workers: /);
  assert.equal(bad.stdout, '', 'no "fleetprobe stopped" (or anything else) when nothing started');
  const missing = await runCli(['check-config', '--config', `${dir.path}/missing.yaml`]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--config: cannot be read: ENOENT: no such file or directory \(value: /);
  assert.doesNotMatch(missing.stderr, /ENOENT ENOENT/);
  const one = await runCli(['check-config', '--target', '127.0.0.1', '--workers', '1']);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(one.stdout, '(command line): ok (1 target, 1 worker)\n');
  const two = await runCli(['check-config', '--target', '127.0.0.1', '--target', '127.0.0.1:22', '--workers', '2']);
  assert.equal(two.stdout, '(command line): ok (2 targets, 2 workers)\n');
});

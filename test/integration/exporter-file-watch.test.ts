/**
 * A running exporter (the CLI as a child process) picks up changed target files and a
 * changed mesh peers file without a signal: a new target appears in /metrics, a removed
 * one disappears, a truncated write keeps the running set and is reported like a failed
 * reload, a rename over the file is seen, a generator writing in several steps causes
 * one reload, and an invalid peers file changes nothing and is reported. With
 * file_watch.enabled false, nothing is picked up until SIGHUP (the control that shows
 * the watch is what does it).
 *
 * TCP connect targets to a listener of this test on loopback: no privileges needed.
 * Reloads are counted from the exporter's log lines ("configuration reloaded" with
 * their trigger).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { stringify as toYaml } from 'yaml';
import { ExporterProcess, sleep, tempDir, waitFor, type Metrics } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';

interface LogLine {
  msg?: string;
  trigger?: string;
  status?: string;
  [k: string]: unknown;
}

function logLines(exp: ExporterProcess): LogLine[] {
  return exp.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

/** Reload outcomes (log lines that carry a trigger) caused by a file change. */
function fileReloads(exp: ExporterProcess): LogLine[] {
  return logLines(exp).filter((l) => typeof l.trigger === 'string' && l.trigger.startsWith('file changed: ') && typeof l.status === 'string');
}

const names = (m: Metrics): string[] => [...m.labelValues('fleetprobe_probe_sent_total', 'target')].sort();

async function tcpServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.on('error', () => undefined).end());
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return { server, port: (server.address() as { port: number }).port };
}

test('changed target and peer files are picked up without a signal', { timeout: 120_000 }, async (t) => {
  const dir = tempDir('fp-watch-it');
  const peer = await tcpServer();
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const target = (name: string) => ({ name, address: `127.0.0.1:${peer.port}` });
  const file = dir.file('targets.json', [target('a')]);
  const peers = dir.file('peers.yaml', [{ name: 'self', address: '127.0.0.1' }]);
  const cfg = dir.file('c.yaml', {
    workers: 1,
    flush_interval: '100ms',
    web: { listen_address: listen },
    probe_defaults: { kind: 'tcp', interval: '200ms', timeout: '100ms' },
    target_files: ['targets.json'],
    mesh: { name: 'self', peers_file: 'peers.yaml', kinds: ['tcp'] },
  });
  const exp = new ExporterProcess(['run', '--config', cfg], listen);
  t.after(async () => {
    await exp.stop(3000);
    peer.server.close();
    dir.cleanup();
  });
  await exp.waitReady(20_000);
  const scrapeUntil = (what: string, ok: (m: Metrics) => boolean, ms = 15_000) =>
    waitFor(
      what,
      async () => {
        if (exp.exit) throw new Error(`exited\n${exp.tail()}`);
        const m = await exp.scrape();
        return ok(m) && m;
      },
      ms,
      100,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${exp.tail(15)}`);
    });

  await t.test('a target added to the file appears, one removed disappears', async () => {
    assert.deepEqual(names(await exp.scrape()), ['a']);
    writeFileSync(file, JSON.stringify([target('a'), target('b')]));
    await scrapeUntil('b in /metrics', (m) => names(m).includes('b'));
    writeFileSync(file, JSON.stringify([target('b')]));
    const m = await scrapeUntil('a gone from /metrics', (x) => !names(x).includes('a'));
    assert.deepEqual(names(m), ['b']);
    const reloads = fileReloads(exp);
    assert.equal(reloads.length, 2, JSON.stringify(reloads));
    assert.ok(
      reloads.every((l) => l.status === 'reloaded' && l.msg === 'configuration reloaded' && /targets\.json/.test(l.trigger ?? '')),
      JSON.stringify(reloads),
    );
    assert.ok(
      logLines(exp).some((l) => typeof l.msg === 'string' && /^file changed: .*targets\.json; reloading$/.test(l.msg)),
      'the log says why it reloads',
    );
  });

  await t.test('a truncated write keeps the running targets and is reported; the fixed file applies', async () => {
    const before = await exp.scrape();
    writeFileSync(file, '[{"name": "c", "addr');
    const m = await scrapeUntil(
      'the failed read to be reported',
      (x) =>
        x.value('fleetprobe_target_file_last_read_successful', { file: 'targets.json' }) === 0 || x.value('fleetprobe_target_file_last_read_successful') === 0,
    );
    assert.equal(m.value('fleetprobe_config_last_reload_successful'), 0);
    assert.deepEqual(names(m), ['b'], 'b is kept');
    const status = JSON.parse((await exp.request('/api/v1/status')).text()) as { last_reload: { status: string; problems: Array<{ message: string }> } };
    assert.equal(status.last_reload.status, 'partial');
    assert.match(status.last_reload.problems[0].message, /is not valid JSON.*keeping its 1 targets/);
    await scrapeUntil(
      'b still probed',
      (x) => x.value('fleetprobe_probe_sent_total', { target: 'b' })! > before.value('fleetprobe_probe_sent_total', { target: 'b' })!,
    );
    writeFileSync(file, JSON.stringify([target('b'), target('c')]));
    const fixed = await scrapeUntil('c in /metrics', (x) => names(x).includes('c'));
    assert.equal(fixed.value('fleetprobe_config_last_reload_successful'), 1);
    assert.deepEqual(
      fileReloads(exp)
        .slice(-2)
        .map((l) => l.status),
      ['partial', 'reloaded'],
    );
  });

  await t.test('a new file renamed over the old one is picked up', async () => {
    const tmp = dir.file('.targets.json.new', JSON.stringify([target('b'), target('c'), target('d')]));
    renameSync(tmp, file);
    await scrapeUntil('d in /metrics', (m) => names(m).includes('d'));
  });

  await t.test('a generator writing in several steps causes one reload', async () => {
    const count = fileReloads(exp).length;
    // Truncate, then the new content in pieces: one event each.
    writeFileSync(file, '');
    appendFileSync(file, '[');
    appendFileSync(file, `${JSON.stringify(target('b'))},`);
    appendFileSync(file, JSON.stringify(target('e')));
    appendFileSync(file, ']');
    const m = await scrapeUntil('e in /metrics', (x) => names(x).includes('e'));
    assert.deepEqual(names(m), ['b', 'e']);
    await sleep(2000); // four debounce periods: any further reload would be logged by now
    const reloads = fileReloads(exp).slice(count);
    assert.equal(reloads.length, 1, `one reload for the burst: ${JSON.stringify(reloads)}`);
    assert.equal(reloads[0].status, 'reloaded');
  });

  await t.test('the mesh peers file: a new peer becomes targets; an invalid file changes nothing and is reported', async () => {
    writeFileSync(
      peers,
      toYaml([
        { name: 'self', address: '127.0.0.1' },
        { name: 'p2', address: '127.0.0.2' },
      ]),
    );
    await scrapeUntil('p2/tcp in /metrics', (m) => names(m).includes('p2/tcp'));
    const count = fileReloads(exp).length;
    writeFileSync(peers, 'peers: [unterminated');
    await waitFor('the invalid peers file to be reported', () => fileReloads(exp).length > count, 15_000, 100);
    const outcome = fileReloads(exp)[count];
    assert.equal(outcome.status, 'invalid', JSON.stringify(outcome));
    assert.match(outcome.trigger ?? '', /peers\.yaml/);
    const m = await exp.scrape();
    assert.deepEqual(names(m), ['b', 'e', 'p2/tcp'], 'the running set is kept');
    assert.equal(m.value('fleetprobe_config_last_reload_successful'), 0);
  });
});

test('with file_watch.enabled false a change waits for SIGHUP', { timeout: 60_000 }, async (t) => {
  const dir = tempDir('fp-nowatch-it');
  const peer = await tcpServer();
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const target = (name: string) => ({ name, address: `127.0.0.1:${peer.port}` });
  const file = dir.file('targets.json', [target('a')]);
  const cfg = dir.file('c.yaml', {
    workers: 1,
    flush_interval: '100ms',
    web: { listen_address: listen },
    probe_defaults: { kind: 'tcp', interval: '200ms', timeout: '100ms' },
    target_files: ['targets.json'],
    file_watch: { enabled: false, check_interval: '1s' },
  });
  const exp = new ExporterProcess(['run', '--config', cfg], listen);
  t.after(async () => {
    await exp.stop(3000);
    peer.server.close();
    dir.cleanup();
  });
  await exp.waitReady(20_000);
  writeFileSync(file, JSON.stringify([target('a'), target('b')]));
  await sleep(2500); // five debounce periods and two check intervals
  assert.deepEqual(names(await exp.scrape()), ['a'], 'not picked up without the watch');
  exp.signal('SIGHUP');
  await waitFor('b after SIGHUP', async () => names(await exp.scrape()).includes('b'), 15_000, 100);
});

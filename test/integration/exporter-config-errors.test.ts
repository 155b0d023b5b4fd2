/**
 * Configuration errors through the real CLI (`node bin/fleetprobe.js`): exit status 2,
 * every bad key named on stderr, nothing started; and `check-config` on good and bad
 * target files. Needs no privileges: nothing here gets as far as probing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { runCli, tempDir } from '../helpers/exporter-process.js';
import { freePort, portIsFree } from '../helpers/free-port.js';

test('run with three bad keys exits 2, names all three on stderr, and listens on nothing', { timeout: 20_000 }, async (t) => {
  const dir = tempDir('fp-badcfg');
  t.after(() => dir.cleanup());
  const webPort = await freePort();
  const echoPort = await freePort();
  const cfg = dir.file('bad.yaml', {
    workers: -1,
    probe_defaults: { interval: 'fast' },
    web: { listen_address: `127.0.0.1:${webPort}`, bogus: 1 },
    responder: { tcp_echo: `127.0.0.1:${echoPort}` },
    targets: [{ name: 'lo4', address: '127.0.0.1' }],
  });
  const r = await runCli(['run', '--config', cfg], { timeoutMs: 10_000 });
  assert.equal(r.code, 2, `exit ${r.code} ${r.signal}\n${r.stderr}\n${r.stdout}`);
  for (const key of ['workers', 'probe_defaults.interval', 'web.bogus']) {
    assert.match(r.stderr, new RegExp(`^\\s*- ${key.replace('.', '\\.')}: `, 'm'), `stderr names ${key}:\n${r.stderr}`);
  }
  assert.match(r.stderr, /3 problems/);
  assert.doesNotMatch(r.stdout, /listening/, 'no listener was started');
  assert.equal(await portIsFree(webPort), true);
  assert.equal(await portIsFree(echoPort), true);
});

test('a bad flag value is a configuration error too (exit 2)', { timeout: 20_000 }, async (t) => {
  const dir = tempDir('fp-badflag');
  t.after(() => dir.cleanup());
  const cfg = dir.file('ok.yaml', { workers: 1, targets: [{ name: 'lo4', address: '127.0.0.1' }] });
  const r = await runCli(['run', '--config', cfg, '--web.listen-address', 'not-an-address'], { timeoutMs: 10_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /web\.listen_address/);
});

test('check-config on a valid config exits 0 and says ok', { timeout: 20_000 }, async (t) => {
  const dir = tempDir('fp-checkok');
  t.after(() => dir.cleanup());
  dir.file('targets.json', [
    { name: 'f1', address: '127.0.0.5' },
    { name: 'f2', address: '127.0.0.1:4000' },
  ]);
  const cfg = dir.file('ok.yaml', { workers: 2, targets: [{ name: 'lo4', address: '127.0.0.1' }], target_files: ['targets.json'] });
  const r = await runCli(['check-config', '--config', cfg], { timeoutMs: 10_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /ok \(3 targets, 2 workers\)/);
});

test('check-config with a malformed and a duplicate entry in a target file exits 2 naming file, entry and reason', { timeout: 20_000 }, async (t) => {
  const dir = tempDir('fp-checkbad');
  t.after(() => dir.cleanup());
  const file = dir.file('targets.json', [
    { name: 'good', address: '127.0.0.1' },
    { name: 'bad-interval', address: '127.0.0.2', interval: 'soon' },
    { name: 'good', address: '127.0.0.3' },
  ]);
  const cfg = dir.file('c.yaml', { workers: 1, target_files: ['targets.json'] });
  const r = await runCli(['check-config', '--config', cfg], { timeoutMs: 10_000 });
  assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
  const lines = r.stderr.split('\n');
  const malformed = lines.find((l) => l.includes(`${basename(file)}[1]`));
  assert.ok(malformed, `entry [1] named:\n${r.stderr}`);
  assert.match(malformed, /bad-interval/);
  assert.match(malformed, /interval/);
  const dup = lines.find((l) => l.includes(`${basename(file)}[2]`));
  assert.ok(dup, `entry [2] named:\n${r.stderr}`);
  assert.match(dup, /duplicate target name "good"/);
  assert.match(dup, /targets\.json\[0\]/, 'names where the first definition is');
  assert.match(r.stderr, /2 targets rejected/);
});

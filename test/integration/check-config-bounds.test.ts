/**
 * Validation through the real CLI: out-of-bound durations and limits, a timeout over
 * 15 intervals and a huge label exit 2 at `check-config`, every key named in one pass;
 * `run` refuses the responder limits the responder would refuse (exit 2 with the key,
 * not exit 1 with a stack trace once it starts). Needs no privileges: nothing here
 * gets as far as probing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, tempDir } from '../helpers/exporter-process.js';
import { freePort, portIsFree } from '../helpers/free-port.js';

/** The "  - key: ..." lines of a ConfigError on stderr, as keys. */
function namedKeys(stderr: string): string[] {
  return [...stderr.matchAll(/^\s*- (\S+): /gm)].map((m) => m[1]).sort();
}

test(
  'check-config: 100000h durations, responder limits out of range, a timeout over 15 intervals and a 50 MB label all exit 2, each key named, in one pass',
  { timeout: 30_000 },
  async (t) => {
    const dir = tempDir('fp-bounds');
    t.after(() => dir.cleanup());
    const cfg = dir.file('c.json', {
      flush_interval: '100000h',
      dns: { refresh_interval: '100000h' },
      probe_defaults: { interval: '100000h' },
      targets: [
        { name: 'span', address: '127.0.0.1', interval: '100ms', timeout: '2s' },
        { name: 'label', address: '127.0.0.2', labels: { big: 'x'.repeat(50 * 1024 * 1024) } },
      ],
      responder: {
        tcp_echo: '127.0.0.1:0',
        max_frame_bytes: 8,
        max_datagram_bytes: 70000,
        idle_timeout: '100000h',
        http_body_bytes: 10,
        http_max_body_bytes: 5,
      },
    });
    const r = await runCli(['check-config', '--config', cfg], { timeoutMs: 20_000 });
    assert.equal(r.code, 2, `exit ${r.code}\n${r.stdout}\n${r.stderr.slice(0, 2000)}`);
    assert.deepEqual(namedKeys(r.stderr), [
      'dns.refresh_interval',
      'flush_interval',
      'probe_defaults.interval',
      'responder.http_body_bytes',
      'responder.idle_timeout',
      'responder.max_datagram_bytes',
      'responder.max_frame_bytes',
      'targets[0].timeout',
      'targets[1].labels',
    ]);
    assert.match(r.stderr, /9 problems/);
    assert.match(r.stderr, /targets\[0\]\.timeout: timeout 2s spans more than 15 intervals of 100ms/);
    assert.match(r.stderr, /targets\[1\]\.labels: label "big" value is 52428800 bytes; at most 1024/);
    assert.ok(r.stderr.length < 20_000, `the report of a 50 MB label is ${r.stderr.length} bytes`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  },
);

test('check-config: a bad probe_defaults leaf and bad inline targets are all reported in one pass', { timeout: 20_000 }, async (t) => {
  const dir = tempDir('fp-onepass');
  t.after(() => dir.cleanup());
  const cfg = dir.file('c.yaml', {
    probe_defaults: { timeout: 'later' },
    targets: [
      { name: 'a', address: '127.0.0.1' },
      { name: 'b', address: '127.0.0.1:80' },
      { name: 'c', kind: 'http', url: 'ftp://127.0.0.1/' },
      { name: 'a', address: '127.0.0.2' },
    ],
    mesh: { kinds: ['icmp', 'ping'] },
  });
  const r = await runCli(['check-config', '--config', cfg], { timeoutMs: 10_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.deepEqual(namedKeys(r.stderr), ['mesh.kinds[1]', 'probe_defaults.timeout', 'targets[1].address', 'targets[2].url', 'targets[3].name']);
});

test(
  'run: responder limits the responder would refuse exit 2 naming the key before anything listens (was: exit 1 with a stack trace)',
  { timeout: 20_000 },
  async (t) => {
    const dir = tempDir('fp-resp-limits');
    t.after(() => dir.cleanup());
    const webPort = await freePort();
    const echoPort = await freePort();
    const cfg = dir.file('c.yaml', {
      web: { listen_address: `127.0.0.1:${webPort}` },
      responder: { tcp_echo: `127.0.0.1:${echoPort}`, max_frame_bytes: 8, allow_cidrs: ['127.0.0.0/8', '10.0.0.1/8'] },
      targets: [{ name: 'lo', address: '127.0.0.1' }],
    });
    const check = await runCli(['check-config', '--config', cfg], { timeoutMs: 10_000 });
    assert.equal(check.code, 2, check.stdout + check.stderr);
    const r = await runCli(['run', '--config', cfg], { timeoutMs: 10_000 });
    assert.equal(r.code, 2, `exit ${r.code}\n${r.stderr}`);
    assert.deepEqual(namedKeys(r.stderr), ['responder.allow_cidrs[1]', 'responder.max_frame_bytes']);
    assert.match(r.stderr, /host bits are set/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(await portIsFree(webPort), true);
    assert.equal(await portIsFree(echoPort), true);
  },
);

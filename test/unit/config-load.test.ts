import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, ConfigError, embeddedDefaultPath, configSchemaDocs, formatConfigHelp } from '../../src/config/index.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { optionsOf } from '../../src/kinds/index.js';

/** Loopback only: 127.0.0.0/8, ::1, localhost. */
function isLoopback(addr: string): boolean {
  if (addr === '::1' || addr === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(addr)) return true;
  const m = /^\[(.*)\]:\d+$/.exec(addr) ?? /^([^:]+):\d+$/.exec(addr);
  return m ? isLoopback(m[1]) : false;
}

function dir(): string {
  return makeTempDir('fleetprobe-config').path;
}
function file(d: string, name: string, text: string): string {
  const p = join(d, name);
  writeFileSync(p, text);
  return p;
}
function problemsOf(fn: () => unknown): ConfigError['problems'] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.problems;
  }
  assert.fail('expected a ConfigError');
}

test('the embedded default loads, probes only loopback, and runs its own responder', () => {
  const c = loadConfig({ argv: [], env: {} });
  assert.equal(c.configFile, '(embedded default)');
  assert.ok(embeddedDefaultPath().endsWith('config/default.yaml'));
  const kinds = new Set(c.targets.map((t) => t.kind));
  assert.deepEqual([...kinds].sort(), ['http', 'icmp', 'tcp', 'tcp_echo', 'udp']);
  for (const t of c.targets) assert.ok(isLoopback(t.kind === 'http' ? new URL(t.url as string).hostname : t.address), t.name);
  assert.deepEqual(
    c.targets.filter((t) => t.kind === 'icmp').map((t) => t.address),
    ['127.0.0.1', '::1', '127.0.0.2', '127.0.0.3'],
  );
  assert.equal(c.responder.tcpEcho, '127.0.0.1:4000');
  assert.equal(c.responder.http, '127.0.0.1:4001');
  assert.equal(c.web.listenAddress, '127.0.0.1:9798');
});

test('defaults: durations in ms, 19 doubling rtt buckets from 50us past 10s, shard 0/1', () => {
  const d = dir();
  const c = loadConfig({ argv: ['--config', file(d, 'c.yaml', 'targets: []\n')], env: {} });
  assert.equal(c.flushIntervalMs, 500);
  assert.equal(c.dns.refreshIntervalMs, 60_000);
  assert.equal(c.probeDefaults.intervalMs, 1000);
  assert.equal(c.probeDefaults.timeoutMs, 1000);
  assert.equal(c.probeDefaults.lossWindow, 100);
  assert.equal(c.probeDefaults.payloadSize, 56);
  assert.equal(c.metrics.rttBuckets.length, 19);
  assert.equal(c.metrics.rttBuckets[0], 0.00005);
  assert.ok(c.metrics.rttBuckets[18] >= 10);
  for (let i = 1; i < 19; i++) assert.ok(Math.abs(c.metrics.rttBuckets[i] / c.metrics.rttBuckets[i - 1] - 2) < 1e-9);
  assert.deepEqual(c.shard, { index: 0, count: 1 });
  assert.equal(c.web.telemetryPath, '/metrics');
  assert.equal(c.log.level, 'info');
  assert.ok(c.workers >= 1);
  assert.deepEqual(c.responder.allowCidrs, []);
  assert.equal(c.responder.tcpEcho, null);
});

test('precedence: defaults < file < environment < flags', () => {
  const d = dir();
  const p = file(d, 'c.yaml', 'web: { listen_address: "127.0.0.1:1111" }\nworkers: 3\nprobe_defaults: { interval: 2s }\n');
  const c1 = loadConfig({ argv: ['--config', p], env: {} });
  assert.equal(c1.web.listenAddress, '127.0.0.1:1111');
  assert.equal(c1.workers, 3);
  assert.equal(c1.probeDefaults.intervalMs, 2000);
  assert.equal(c1.probeDefaults.timeoutMs, 1000); // untouched default

  const env = { FLEETPROBE_WEB_LISTEN_ADDRESS: '127.0.0.1:2222', FLEETPROBE_WORKERS: '5' };
  const c2 = loadConfig({ argv: ['--config', p], env });
  assert.equal(c2.web.listenAddress, '127.0.0.1:2222');
  assert.equal(c2.workers, 5);
  assert.equal(c2.probeDefaults.intervalMs, 2000);

  const c3 = loadConfig({ argv: ['--config', p, '--web.listen-address', '127.0.0.1:0', '--workers=7'], env });
  assert.equal(c3.web.listenAddress, '127.0.0.1:0');
  assert.equal(c3.workers, 7);
});

test('environment and flags coerce lists, booleans and durations', () => {
  const d = dir();
  const p = file(d, 'c.json', '{}');
  const c = loadConfig({
    argv: ['--config', p, '--probe-defaults.http.keep-alive', 'true', '--dns.refresh-interval', '5m'],
    env: { FLEETPROBE_METRICS_RTT_BUCKETS: '0.001,0.01,0.1', FLEETPROBE_MESH_KINDS: '["icmp","udp"]', FLEETPROBE_TARGET_FILES: '' },
  });
  assert.deepEqual(c.metrics.rttBuckets, [0.001, 0.01, 0.1]);
  assert.deepEqual(c.mesh.kinds, ['icmp', 'udp']);
  assert.equal(c.probeDefaults.optionValues.http.keep_alive, true);
  assert.equal(c.dns.refreshIntervalMs, 300_000);
  assert.deepEqual(c.targetFiles, []);
});

test('a config with three bad keys reports all three, with value and reason', () => {
  const d = dir();
  const p = file(d, 'c.yaml', 'workers: zero\nweb: { listen_address: "127.0.0.1" }\nprobe_defaults: { interval: 5 }\n');
  const problems = problemsOf(() => loadConfig({ argv: ['--config', p], env: {} }));
  assert.equal(problems.length, 3, JSON.stringify(problems));
  const byKey = new Map(problems.map((x) => [x.key, x]));
  assert.equal(byKey.get('workers')?.value, 'zero');
  assert.match(byKey.get('workers')?.message ?? '', /integer/);
  assert.equal(byKey.get('web.listen_address')?.value, '127.0.0.1');
  assert.match(byKey.get('web.listen_address')?.message ?? '', /port/);
  assert.equal(byKey.get('probe_defaults.interval')?.value, 5);
  assert.match(byKey.get('probe_defaults.interval')?.message ?? '', /no unit/);
});

test('the ConfigError message lists every problem on its own line', () => {
  const d = dir();
  const p = file(d, 'c.yaml', 'workers: 0\nlog: { level: loud }\n');
  try {
    loadConfig({ argv: ['--config', p], env: {} });
    assert.fail('expected ConfigError');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    const lines = e.message.split('\n');
    assert.match(lines[0], /2 problems/);
    assert.ok(lines.some((l) => l.includes('workers') && l.includes('0')));
    assert.ok(lines.some((l) => l.includes('log.level') && l.includes('"loud"')));
  }
});

test('unknown keys, unknown sections, non-mapping sections, unknown flags and FLEETPROBE_ variables are errors', () => {
  const d = dir();
  const p = file(d, 'c.yaml', 'wokers: 2\nweb: { listen_adress: ":1" }\ndns: 5\nextra: { a: 1 }\n');
  const problems = problemsOf(() =>
    loadConfig({ argv: ['--config', p, '--web.listen-adress', 'x', 'stray'], env: { FLEETPROBE_WEB_LISTEN_ADRESS: 'y', OTHER_VAR: 'ignored' } }),
  );
  const keys = problems.map((x) => x.key).sort();
  assert.deepEqual(keys, ['--web.listen-adress', 'FLEETPROBE_WEB_LISTEN_ADRESS', 'dns', 'extra', 'stray', 'web.listen_adress', 'wokers']);
  assert.match(problems.find((x) => x.key === 'wokers')?.message ?? '', /unknown key/);
});

test('values from env and flags are checked too, and the message says where they came from', () => {
  const problems = problemsOf(() => loadConfig({ argv: ['--shard.count', 'two'], env: { FLEETPROBE_FLUSH_INTERVAL: '100' } }));
  const m = new Map(problems.map((x) => [x.key, x.message]));
  assert.match(m.get('shard.count') ?? '', /from --shard\.count/);
  assert.match(m.get('flush_interval') ?? '', /no unit.*from FLEETPROBE_FLUSH_INTERVAL/);
});

test('cross-key checks: shard.index must be below shard.count', () => {
  const problems = problemsOf(() => loadConfig({ argv: ['--shard.index', '2', '--shard.count', '2'], env: {} }));
  assert.deepEqual(
    problems.map((x) => x.key),
    ['shard.index'],
  );
});

test('JSON and YAML config files are both read; other extensions and broken files are errors', () => {
  const d = dir();
  const j = loadConfig({ argv: ['--config', file(d, 'c.json', '{"workers": 4, "targets": []}')], env: {} });
  assert.equal(j.workers, 4);
  const y = loadConfig({ argv: ['--config', file(d, 'c.yml', 'workers: 4\n')], env: {} });
  assert.equal(y.workers, 4);
  assert.match(problemsOf(() => loadConfig({ argv: ['--config', file(d, 'c.toml', 'x=1')], env: {} }))[0].message, /unsupported extension/);
  assert.match(problemsOf(() => loadConfig({ argv: ['--config', file(d, 'b.json', '{oops')], env: {} }))[0].message, /not valid JSON/);
  assert.match(problemsOf(() => loadConfig({ argv: ['--config', join(d, 'missing.yaml')], env: {} }))[0].message, /cannot be read/);
  assert.match(problemsOf(() => loadConfig({ argv: ['--config', file(d, 'l.yaml', '- 1\n- 2\n')], env: {} }))[0].message, /must be a mapping/);
});

test('--config is relative to cwd, FLEETPROBE_CONFIG works, and target_files are relative to the config file', () => {
  const d = dir();
  file(d, 'c.yaml', 'target_files: [t.json, /abs/t2.json]\n');
  const c = loadConfig({ argv: ['--config', 'c.yaml'], env: {}, cwd: d });
  assert.equal(c.configFile, join(d, 'c.yaml'));
  assert.deepEqual(c.targetFiles, [join(d, 't.json'), '/abs/t2.json']);
  const c2 = loadConfig({ argv: [], env: { FLEETPROBE_CONFIG: join(d, 'c.yaml') } });
  assert.equal(c2.configFile, join(d, 'c.yaml'));
});

test('inline targets: defaults and overrides applied, per-kind options flat on the target', () => {
  const d = dir();
  const p = file(
    d,
    'c.yaml',
    `probe_defaults: { labels: { env: test }, http: { keep_alive: true }, tcp_echo: { reconnect_max_backoff: 10s } }
targets:
  - { name: a, address: 127.0.0.1, labels: { rack: r1 }, interval: 500ms }
  - { name: b, kind: tcp_echo, address: "[::1]:4000", reconnect_max_backoff: 2s }
  - { name: c, kind: http, url: "https://127.0.0.1:4001/v1/ping", expect_status: "200,204", ca_file: null }
  - { name: d, kind: udp, address: "127.0.0.1:4000", source_ports: 3, payload_size: 100 }
`,
  );
  const c = loadConfig({ argv: ['--config', p], env: {} });
  const [a, b, cc, dd] = c.targets;
  assert.deepEqual(a.labels, { env: 'test', rack: 'r1' });
  assert.equal(a.intervalMs, 500);
  assert.equal(a.timeoutMs, 1000);
  assert.equal(a.source, `${p} targets[0]`);
  assert.equal(optionsOf(b.options, 'tcp_echo').reconnectMaxBackoffMs, 2000);
  assert.equal(optionsOf(b.options, 'tcp_echo').reconnectMinBackoffMs, 100);
  assert.equal(cc.url, 'https://127.0.0.1:4001/v1/ping');
  assert.equal(cc.address, '127.0.0.1:4001');
  const http = optionsOf(cc.options, 'http');
  assert.equal(http.keepAlive, true);
  assert.deepEqual(http.expectStatus, [
    [200, 200],
    [204, 204],
  ]);
  assert.equal(http.caFile, null, 'ca_file: null on the target is unset: the system store');
  assert.equal(optionsOf(dd.options, 'udp').sourcePorts, 3);
  assert.equal(dd.payloadSize, 100);
});

test('every bad field of every bad inline target is reported with its index', () => {
  const d = dir();
  const p = file(
    d,
    'c.yaml',
    `targets:
  - { name: ok, address: 127.0.0.1 }
  - { name: bad1, address: "127.0.0.1:80", interval: 1 }
  - { name: bad2, kind: tcp, address: "::1:80", labels: { target: x, __y: z, "1a": b } }
  - { name: bad3, kind: http, address: 127.0.0.1 }
  - { name: bad4, kind: udp, address: "127.0.0.1:9", keep_alive: true, colour: red }
  - { name: ok, address: 127.0.0.2 }
  - { kind: ping, address: 127.0.0.1 }
`,
  );
  const problems = problemsOf(() => loadConfig({ argv: ['--config', p], env: {} }));
  const keys = problems.map((x) => x.key);
  for (const k of [
    'targets[1].address',
    'targets[1].interval',
    'targets[2].address',
    'targets[3].address',
    'targets[3].url',
    'targets[4].keep_alive',
    'targets[4].colour',
    'targets[5].name',
    'targets[6].name',
    'targets[6].kind',
  ]) {
    assert.ok(keys.includes(k), `${k} missing from ${JSON.stringify(keys)}`);
  }
  assert.equal(problems.filter((x) => x.key === 'targets[2].labels').length, 3);
  assert.match(problems.find((x) => x.key === 'targets[5].name')?.message ?? '', /duplicate.*targets\[0\]/);
  assert.match(problems.find((x) => x.key === 'targets[4].keep_alive')?.message ?? '', /belongs to kind http/);
});

test('mesh peers: inline and from a peers file, validated, duplicates named', () => {
  const d = dir();
  file(
    d,
    'peers.json',
    JSON.stringify([
      { name: 'n2', address: '127.0.0.2' },
      { name: 'n1', address: '127.0.0.9' },
    ]),
  );
  const p = file(d, 'c.yaml', 'mesh: { peers: [ {name: n1, address: 127.0.0.1} ], peers_file: peers.json, kinds: [icmp, http] }\n');
  const problems = problemsOf(() => loadConfig({ argv: ['--config', p], env: {} }));
  assert.equal(problems.length, 1);
  assert.match(problems[0].message, /duplicate peer name.*mesh\.peers\[0\]/);
  const q = file(d, 'q.yaml', 'mesh: { peers: [ {name: n1, address: 127.0.0.1}, {name: "a/b", address: "x..y", port: 1} ], kinds: [icmp, ping] }\n');
  const keys = problemsOf(() => loadConfig({ argv: ['--config', q], env: {} }))
    .map((x) => x.key)
    .sort();
  // Every bad element is named with its index (mesh.kinds[1], not just mesh.kinds).
  assert.deepEqual(keys, ['mesh.kinds[1]', 'mesh.peers[1].address', 'mesh.peers[1].name', 'mesh.peers[1].port']);
});

test('responder keys: listeners optional, limits and CIDRs validated', () => {
  const d = dir();
  const ok = loadConfig({
    argv: ['--config', file(d, 'r.yaml', 'responder: { udp_echo: "[::1]:4000", allow_cidrs: ["127.0.0.0/8", "::1/128"], idle_timeout: 30s }\n')],
    env: {},
  });
  assert.equal(ok.responder.udpEcho, '[::1]:4000');
  assert.equal(ok.responder.tcpEcho, null);
  assert.equal(ok.responder.idleTimeoutMs, 30_000);
  assert.deepEqual(ok.responder.allowCidrs, ['127.0.0.0/8', '::1/128']);
  const keys = problemsOf(() =>
    loadConfig({
      argv: ['--config', file(d, 'b.yaml', 'responder: { http: "127.0.0.1:99999", allow_cidrs: ["127.0.0.0/33"], max_connections: 0 }\n')],
      env: {},
    }),
  )
    .map((x) => x.key)
    .sort();
  assert.deepEqual(keys, ['responder.allow_cidrs[0]', 'responder.http', 'responder.max_connections']);
});

test('the shipped example config loads with its target files', async () => {
  const c = loadConfig({ argv: ['--config', 'config/example.yaml'], env: {}, cwd: embeddedDefaultPath().replace(/config\/default\.yaml$/, '') });
  assert.equal(c.targetFiles.length, 2);
  assert.equal(c.mesh.name, 'node-a');
  const { loadTargets } = await import('../../src/targets/sources.js');
  const set = await loadTargets(c, { ownAddresses: new Set() });
  assert.deepEqual(set.rejected, []);
  assert.ok(set.targets.length > 10);
  for (const t of set.targets) assert.ok(isLoopback(t.kind === 'http' ? new URL(t.url as string).hostname : t.address), t.name);
});

test('schema docs: every key has a doc and a default; scalar keys have env and flag', () => {
  const docs = configSchemaDocs();
  const byKey = new Map(docs.map((d) => [d.key, d]));
  for (const d of docs) assert.ok(d.doc.length > 10, d.key);
  assert.equal(byKey.get('web.listen_address')?.flag, '--web.listen-address');
  assert.equal(byKey.get('web.listen_address')?.env, 'FLEETPROBE_WEB_LISTEN_ADDRESS');
  assert.equal(byKey.get('targets')?.flag, undefined);
  for (const k of [
    'log.level',
    'flush_interval',
    'dns.refresh_interval',
    'metrics.rtt_buckets',
    'shard.index',
    'shard.count',
    'web.telemetry_path',
    'responder.tcp_echo',
    'responder.udp_echo',
    'responder.http',
    'mesh.name',
    'mesh.peers',
    'mesh.peers_file',
    'mesh.kinds',
    'probe_defaults.http.keep_alive',
    'probe_defaults.udp.source_ports',
    'probe_defaults.tcp_echo.reconnect_max_backoff',
    'target_files',
  ]) {
    assert.ok(byKey.has(k), k);
  }
  assert.match(formatConfigHelp(), /--web\.listen-address VALUE/);
});

test('icmp.socket: auto by default; raw and dgram from file, variable and flag; anything else is named', () => {
  assert.equal(loadConfig({ argv: [], env: {} }).icmpSocket, 'auto');
  const d = dir();
  assert.equal(loadConfig({ argv: ['--config', file(d, 'r.yaml', 'icmp: { socket: raw }\n')], env: {} }).icmpSocket, 'raw');
  assert.equal(loadConfig({ argv: [], env: { FLEETPROBE_ICMP_SOCKET: 'dgram' } }).icmpSocket, 'dgram');
  assert.equal(loadConfig({ argv: ['--icmp.socket', 'raw'], env: {} }).icmpSocket, 'raw');
  const problems = problemsOf(() => loadConfig({ argv: ['--config', file(d, 'b.yaml', 'icmp: { socket: ping }\n')], env: {} }));
  assert.deepEqual(
    problems.map((p) => [p.key, p.value]),
    [['icmp.socket', 'ping']],
  );
  assert.match(problems[0].message, /auto, raw, dgram/);
});

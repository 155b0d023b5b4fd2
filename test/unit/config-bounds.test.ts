/**
 * Validation keeps its promise: every duration, count and size has a documented
 * bound; the rules the workers and the responder apply are the config's rules; every
 * problem is named in one pass; labels are bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { loadConfig, ConfigError, configSchemaDocs, formatConfigHelp, parseDuration } from '../../src/config/index.js';
import { COUNT_BOUNDS, DURATION_BOUNDS } from '../../src/config/bounds.js';
import { LABEL_BOUNDS } from '../../src/targets/fields.js';
import { MAX_TIMER_MS, type Range } from '../../src/values/range.js';
import { TIMEOUT_MAX_INTERVALS, TIMING_BOUNDS } from '../../src/kinds/timing.js';
import { TCP_ECHO_BOUNDS } from '../../src/kinds/tcp-echo.js';
import { UDP_BOUNDS } from '../../src/kinds/udp.js';
import { httpKind } from '../../src/kinds/http.js';
import { FORMATS } from '../../src/config/formats.js';
import { buildSchema, leaves } from '../../src/config/schema.js';
import { parseTargetDocument } from '../../src/targets/files.js';
import { parseTargetEntry } from '../../src/targets/spec.js';
import { RESPONDER_LIMIT_RULES, validateResponderOptions, type ResponderOptions } from '../../src/responder/limits.js';
import { IcmpProber } from '../../workers/probes/icmp.js';
import { buildHttpRequest } from '../../workers/probes/http-request.js';
import type { IcmpConn } from '../../workers/probes/icmp-socket.js';
import type { ProbeSink } from '../../workers/probes/prober.js';

const dirs: string[] = [];
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function configFile(doc: unknown): string {
  const d = mkdtempSync(join(tmpdir(), 'fleetprobe-bounds-'));
  dirs.push(d);
  const p = join(d, 'c.yaml');
  writeFileSync(p, typeof doc === 'string' ? doc : toYaml(doc));
  return p;
}

function problemsOf(doc: unknown): ConfigError['problems'] {
  try {
    loadConfig({ argv: ['--config', configFile(doc)], env: {} });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.problems;
  }
  assert.fail('expected a ConfigError');
}

const keysOf = (doc: unknown): string[] =>
  problemsOf(doc)
    .map((p) => p.key)
    .sort();
const defaults = () => loadConfig({ argv: [], env: {} }).probeDefaults;

test('out-of-bound durations (100000h), responder limits, a timeout over 15 intervals and a huge label: every key named in one pass', () => {
  const problems = problemsOf({
    flush_interval: '100000h',
    dns: { refresh_interval: '100000h' },
    probe_defaults: { interval: '100000h', labels: { big: 'x'.repeat(50 * 1024 * 1024) } },
    targets: [{ name: 'a', address: '127.0.0.1', interval: '10ms', timeout: '1s' }],
    responder: {
      tcp_echo: '127.0.0.1:4000',
      max_frame_bytes: 8,
      max_datagram_bytes: 70_000,
      idle_timeout: '100000h',
      max_connections: 0,
      http_max_body_bytes: 5,
      http_body_bytes: 10,
    },
  });
  const keys = problems.map((p) => p.key).sort();
  assert.deepEqual(keys, [
    'dns.refresh_interval',
    'flush_interval',
    'probe_defaults.interval',
    'probe_defaults.labels.big',
    'responder.http_body_bytes',
    'responder.idle_timeout',
    'responder.max_connections',
    'responder.max_datagram_bytes',
    'responder.max_frame_bytes',
    'targets[0].timeout',
  ]);
  const by = new Map(problems.map((p) => [p.key, p.message]));
  assert.match(by.get('flush_interval')!, /between 10ms and 1m/);
  assert.match(by.get('dns.refresh_interval')!, /between 1s and 24h/);
  assert.match(by.get('probe_defaults.interval')!, /between 1ms and 1h/);
  assert.match(by.get('targets[0].timeout')!, /spans more than 15 intervals/);
  assert.match(by.get('probe_defaults.labels.big')!, /52428800 bytes; at most 1024/);
  assert.match(by.get('responder.http_body_bytes')!, /at most responder\.http_max_body_bytes/);
  // The message about a 50 MB value stays small.
  assert.ok(new ConfigError(problems).message.length < 10_000);
});

test("a bad probe_defaults leaf no longer hides the inline targets' errors, nor the peers' or the cross-key rules'", () => {
  const keys = keysOf({
    probe_defaults: { interval: 'fast', payload_size: -1 },
    shard: { index: 3, count: 2 },
    targets: [
      { name: 'ok', address: '127.0.0.1' },
      { name: 'bad-addr', address: 'nope..x' },
      { name: 'bad-field', address: '127.0.0.2', bogus: 1 },
      { name: 'ok', address: '127.0.0.3' },
    ],
    mesh: { peers: [{ name: 'p/1', address: '127.0.0.1' }] },
  });
  assert.deepEqual(keys, [
    'mesh.peers[0].name',
    'probe_defaults.interval',
    'probe_defaults.payload_size',
    'shard.index',
    'targets[1].address',
    'targets[2].bogus',
    'targets[3].name',
  ]);
});

test('a rule between keys is not reported when one of its keys is itself bad (no problem caused by a substituted default)', () => {
  // interval is bad (replaced by 1s while checking); timeout 30s would span 30 default intervals.
  assert.deepEqual(keysOf({ probe_defaults: { interval: 'soon', timeout: '30s' } }), ['probe_defaults.interval']);
  assert.deepEqual(keysOf({ probe_defaults: { interval: 'soon' }, targets: [{ name: 'a', address: '127.0.0.1', timeout: '30s' }] }), [
    'probe_defaults.interval',
  ]);
  // A target setting both is still checked.
  assert.deepEqual(keysOf({ probe_defaults: { interval: 'soon' }, targets: [{ name: 'a', address: '127.0.0.1', interval: '1s', timeout: '30s' }] }), [
    'probe_defaults.interval',
    'targets[0].timeout',
  ]);
  assert.deepEqual(keysOf({ shard: { index: 'x', count: 1 } }), ['shard.index']);
  assert.deepEqual(keysOf({ responder: { http_max_body_bytes: -5, http_body_bytes: 10 } }), ['responder.http_max_body_bytes']);
});

test('list and mapping checks name every bad element with its index or key', () => {
  const keys = keysOf({
    metrics: { rtt_buckets: [0.1, 0.05, -1, 0.2, 7200] },
    mesh: { kinds: ['icmp', 'ping', 'icmp', 'pong'] },
    target_files: ['a.json', '', 'a.json'],
    responder: { allow_cidrs: ['10.0.0.1/8', '127.0.0.0/8', 'x', '::1/129'] },
    probe_defaults: {
      labels: { ok: 'a', '1bad': 'b', target: 'c', n: 5 },
      http: { headers: { Connection: 'close', 'X-Ok': 'y', 'Bad Name': 'z', 'X-Inj': 'a\r\nb' } },
    },
  });
  assert.deepEqual(keys, [
    'mesh.kinds[1]',
    'mesh.kinds[2]',
    'mesh.kinds[3]',
    'metrics.rtt_buckets[1]',
    'metrics.rtt_buckets[2]',
    'metrics.rtt_buckets[4]',
    'probe_defaults.http.headers.Bad Name',
    'probe_defaults.http.headers.Connection',
    'probe_defaults.http.headers.X-Inj',
    'probe_defaults.labels.1bad',
    'probe_defaults.labels.n',
    'probe_defaults.labels.target',
    'responder.allow_cidrs[0]',
    'responder.allow_cidrs[2]',
    'responder.allow_cidrs[3]',
    'target_files[1]',
    'target_files[2]',
  ]);
});

test('values from the environment and flags name the element too, and say where they came from', () => {
  try {
    loadConfig({ argv: ['--config', configFile({}), '--mesh.kinds', 'icmp,ping'], env: { FLEETPROBE_RESPONDER_ALLOW_CIDRS: '127.0.0.0/8,10.0.0.1/8' } });
    assert.fail('expected a ConfigError');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    const by = new Map(e.problems.map((p) => [p.key, p.message]));
    assert.match(by.get('mesh.kinds[1]')!, /\(from --mesh\.kinds\)/);
    assert.match(by.get('responder.allow_cidrs[1]')!, /\(from FLEETPROBE_RESPONDER_ALLOW_CIDRS\)/);
  }
});

test('every duration, count, size and capped list in the schema documents its range, and no duration bound reaches a timer overflow', () => {
  const docs = configSchemaDocs();
  const byKey = new Map(docs.map((d) => [d.key, d]));
  for (const [key, leaf] of leaves(buildSchema())) {
    const name = leaf.check ?? (leaf.format as string);
    const isBounded =
      /duration|interval|timeout|backoff|int|workers|shard|window|size|ports|body|bytes|connections|buckets|cidrs|paths|labels|headers|kinds/.test(name);
    if (!isBounded) continue;
    if (name === 'fp-kinds') continue; // bounded by uniqueness over the five kinds
    assert.ok(byKey.get(key)?.range, `${key} (${name}) has no documented range`);
  }
  // Every table of duration bounds: the process's, a target's timing, the tcp_echo kind's.
  for (const [name, r] of [...Object.entries(DURATION_BOUNDS), ...Object.entries(TIMING_BOUNDS), ...Object.entries(TCP_ECHO_BOUNDS)]) {
    // history.retention is not a timer: its 0 means "off".
    assert.ok(r.max <= MAX_TIMER_MS && (r.min >= 1 || name === 'historyRetention'), `${name}: ${r.min}..${r.max}`);
  }
  assert.ok(RESPONDER_LIMIT_RULES.idleTimeoutMs.max <= MAX_TIMER_MS);
  const help = formatConfigHelp();
  assert.match(help, /--probe-defaults\.interval VALUE[\s\S]*?range: 1ms to 1h/);
  assert.match(help, /--dns\.refresh-interval VALUE[\s\S]*?range: 1s to 24h/);
  assert.match(help, /--responder\.max-frame-bytes VALUE[\s\S]*?range: 16 to 67108864/);
  assert.match(help, /probe_defaults\.labels[\s\S]*?at most 32 labels/);
});

test('each duration bound is exact: the bound itself passes, one step past it fails', () => {
  const cases: Array<[string, Range, (v: string) => unknown]> = [
    ['fp-interval', TIMING_BOUNDS.interval, (v) => ({ probe_defaults: { interval: v, timeout: '1ms' } })],
    ['fp-flush-interval', DURATION_BOUNDS.flushInterval, (v) => ({ flush_interval: v })],
    ['fp-dns-refresh', DURATION_BOUNDS.dnsRefresh, (v) => ({ dns: { refresh_interval: v } })],
  ];
  for (const [format, r, doc] of cases) {
    assert.equal(FORMATS[format].check(`${r.max}ms`), null, `${format} max`);
    assert.equal(FORMATS[format].check(`${r.min}ms`), null, `${format} min`);
    assert.notEqual(FORMATS[format].check(`${r.max + 1}ms`), null, `${format} max+1`);
    assert.notEqual(FORMATS[format].check(`${r.min / 2}ms`), null, `${format} min/2`);
    assert.ok(keysOf(doc(`${r.max + 1}ms`)).length > 0);
  }
  assert.equal(FORMATS['fp-workers'].check(COUNT_BOUNDS.workers.max), null);
  assert.notEqual(FORMATS['fp-workers'].check(COUNT_BOUNDS.workers.max + 1), null);
});

test('the responder accepts exactly what the config accepts: one rule table, both ends of every bound', () => {
  const keyOf: Record<string, string> = {
    maxConnections: 'max_connections',
    maxFrameBytes: 'max_frame_bytes',
    maxDatagramBytes: 'max_datagram_bytes',
    idleTimeoutMs: 'idle_timeout',
    httpMaxBodyBytes: 'http_max_body_bytes',
    httpBodyBytes: 'http_body_bytes',
    udpRatePerSource: 'udp_rate_per_source',
    udpBurstPerSource: 'udp_burst_per_source',
    tcpConnectRatePerSource: 'tcp_connect_rate_per_source',
    tcpConnectBurstPerSource: 'tcp_connect_burst_per_source',
    rateLimitSources: 'rate_limit_sources',
  };
  const base: ResponderOptions = {
    tcpEcho: { host: '127.0.0.1', port: 0 },
    maxConnections: 10,
    maxFrameBytes: 1024,
    maxDatagramBytes: 1024,
    idleTimeoutMs: 1000,
    allowCidrs: [],
    httpBodyBytes: 0,
    httpMaxBodyBytes: RESPONDER_LIMIT_RULES.httpMaxBodyBytes.max,
  };
  for (const [option, rule] of Object.entries(RESPONDER_LIMIT_RULES)) {
    for (const [v, ok] of [
      [rule.min, true],
      [rule.max, true],
      [rule.min - 1, false],
      [rule.max + 1, false],
    ] as const) {
      const opts = { ...base, [option]: v };
      let responderOk = true;
      try {
        validateResponderOptions(opts);
      } catch {
        responderOk = false;
      }
      const configValue = rule.unit === 'ms' ? `${v}ms` : v;
      const configOk = (() => {
        try {
          loadConfig({
            argv: [
              '--config',
              configFile({ responder: { tcp_echo: '127.0.0.1:0', http_max_body_bytes: base.httpMaxBodyBytes, [keyOf[option]]: configValue } }),
            ],
            env: {},
          });
          return true;
        } catch (e) {
          assert.ok(e instanceof ConfigError);
          assert.ok(
            e.problems.some((p) => p.key === `responder.${keyOf[option]}`),
            e.message,
          );
          return false;
        }
      })();
      assert.equal(responderOk, ok, `responder ${option}=${v}`);
      assert.equal(configOk, ok, `config ${keyOf[option]}=${v}`);
    }
  }
  // A listener on a host name passed check-config and made the responder throw at start.
  assert.deepEqual(keysOf({ responder: { tcp_echo: 'localhost:4000' } }), ['responder.tcp_echo']);
});

class NullConn implements IcmpConn {
  constructor(readonly family: 4 | 6) {}
  send(): string | null {
    return null;
  }
  sendStamp(): number {
    return NaN;
  }
  onPacket(): void {}
  setFilters() {
    return { typeFilter: true, bpf: true, problems: [] };
  }
  close(): void {}
}
const nullSink: ProbeSink = { sent() {}, reply() {}, timeout() {}, error() {}, duplicate() {}, late() {}, dropped() {}, log() {} } as unknown as ProbeSink;

test("the timeout span rule is the icmp worker's rule: the config refuses exactly the targets the prober would refuse", () => {
  const prober = new IcmpProber(nullSink, { workerIndex: 0, cookie: 1, icmpIdentifier: 1, flushIntervalMs: 1000 }, { openConn: (f) => new NullConn(f) });
  const d = defaults();
  let slot = 0;
  let refused = 0;
  for (const interval of ['1ms', '7ms', '10ms', '100ms', '1s', '1.5s', '1h']) {
    for (const factor of [1, 14, 15, 15.0001, 16, 100]) {
      const intervalMs = parseDuration(interval);
      const timeoutMs = Math.min(TIMING_BOUNDS.timeout.max, intervalMs * factor);
      const entry = { name: `t${slot}`, address: '127.0.0.1', interval, timeout: `${timeoutMs}ms` };
      const parsed = parseTargetEntry(entry, 'test', d);
      let workerOk = true;
      try {
        prober.add({
          slot: slot++,
          name: entry.name,
          kind: 'icmp',
          ip: '127.0.0.1',
          family: 4,
          port: 0,
          intervalMs,
          phaseMs: 0,
          timeoutMs,
          payloadSize: 56,
          options: { kind: 'icmp' },
        });
      } catch (e) {
        workerOk = false;
        assert.match((e as Error).message, /spans more than/);
      }
      assert.equal(parsed.ok, workerOk, `interval ${interval} timeout ${timeoutMs}ms: config ${parsed.ok}, worker ${workerOk}`);
      if (!parsed.ok) {
        refused++;
        assert.match(parsed.problems.map((p) => p.message).join(), new RegExp(`more than ${TIMEOUT_MAX_INTERVALS} intervals`));
      }
    }
  }
  assert.ok(refused >= 10, `only ${refused} refused: the sweep did not cross the bound`);
  prober.close();
});

test('http headers: the config refuses exactly the headers the prober cannot send', () => {
  const url = new URL('http://127.0.0.1:8080/x');
  const cases: Record<string, string>[] = [
    { 'X-Ok': 'fine' },
    { 'x-tab': 'a\tb' },
    { Connection: 'close' },
    { 'Content-Length': '5' },
    { 'Transfer-Encoding': 'chunked' },
    { Upgrade: 'h2c' },
    { 'Bad Name': 'v' },
    { 'X-Inj': 'a\r\nX-Evil: 1' },
    { 'X-Nul': 'a\u0000b' },
    { 'X-Latin': 'caf\u00e9' },
  ];
  for (const headers of cases) {
    let proberOk = true;
    try {
      buildHttpRequest({ method: 'GET', url, keepAlive: false, headers });
    } catch {
      proberOk = false;
    }
    const configOk = httpKind.options.headers.format.check(headers) === null;
    assert.equal(configOk, proberOk, JSON.stringify(headers));
  }
});

test('file targets: a rule a worker would apply is a per-entry rejection with its reason; the rest load', () => {
  const r = parseTargetDocument(
    [
      { name: 'ok', address: '127.0.0.2' },
      { name: 'span', address: '127.0.0.3', interval: '10ms', timeout: '1s' },
      { name: 'span-inherited', address: '127.0.0.4', interval: '10ms' },
      { name: 'long', address: '127.0.0.5', interval: '100000h' },
      { name: 'big-label', address: '127.0.0.6', labels: { v: 'x'.repeat(LABEL_BOUNDS.valueBytes + 1) } },
      { name: 'many-labels', address: '127.0.0.7', labels: Object.fromEntries(Array.from({ length: LABEL_BOUNDS.perTarget + 1 }, (_, i) => [`l${i}`, 'v'])) },
      { name: 'long-name-label', address: '127.0.0.8', labels: { ['n'.repeat(LABEL_BOUNDS.nameBytes + 1)]: 'v' } },
      { name: 'backoff', kind: 'tcp_echo', address: '127.0.0.1:4000', reconnect_max_backoff: '2h' },
      { name: 'ports', kind: 'udp', address: '127.0.0.1:4000', source_ports: UDP_BOUNDS.sourcePorts.max + 1 },
      { name: 'hdr', kind: 'http', url: 'http://127.0.0.1:4001/', headers: { Connection: 'keep-alive' } },
      { name: 'url', kind: 'http', url: `http://127.0.0.1:4001/${'p'.repeat(3000)}` },
      { name: 'ca', kind: 'http', url: 'https://127.0.0.1:4001/', ca_file: '/nonexistent/ca.pem' },
      { name: 'toString', address: '127.0.0.9', constructor: 1 },
      { name: 'max-ok', address: '127.0.0.10', interval: '1h', timeout: '1h', labels: { v: 'x'.repeat(LABEL_BOUNDS.valueBytes) } },
    ],
    'targets.json',
    defaults(),
  );
  assert.deepEqual(
    r.targets.map((t) => t.name),
    ['ok', 'max-ok'],
  );
  const why = new Map(r.rejected.map((x) => [x.name, x.reason]));
  assert.match(why.get('span')!, /spans more than 15 intervals/);
  assert.match(why.get('span-inherited')!, /timeout 1s spans more than 15 intervals of 10ms/);
  assert.match(why.get('long')!, /between 1ms and 1h/);
  assert.match(why.get('big-label')!, /1025 bytes; at most 1024/);
  assert.match(why.get('many-labels')!, /33 labels; at most 32/);
  assert.match(why.get('long-name-label')!, /129 bytes; at most 128/);
  assert.match(why.get('backoff')!, /reconnect_max_backoff must be between 1ms and 1h/);
  assert.match(why.get('ports')!, /source_ports must be between 1 and 64/);
  assert.match(why.get('hdr')!, /set by the prober/);
  assert.match(why.get('url')!, /url is \d+ bytes; at most 2048/);
  assert.match(why.get('ca')!, /cannot be read: ENOENT/);
  assert.match(why.get('toString')!, /unknown target field "constructor"/);
  for (const reason of why.values()) assert.ok(reason.length < 1000, `reason too long: ${reason.length}`);
});

test("labels of probe_defaults count towards each target's cap; mesh peers' labels are bounded too", () => {
  const many = (n: number, prefix: string) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, 'v']));
  assert.deepEqual(
    keysOf({
      probe_defaults: { labels: many(30, 'd') },
      targets: [
        { name: 'a', address: '127.0.0.1', labels: many(3, 't') },
        { name: 'b', address: '127.0.0.2', labels: many(2, 't') },
      ],
    }),
    ['targets[0].labels'],
  );
  assert.deepEqual(
    keysOf({
      probe_defaults: { labels: many(31, 'd') },
      mesh: {
        peers: [
          { name: 'p1', address: '127.0.0.1', labels: many(2, 'p') },
          { name: 'p2', address: '127.0.0.2', labels: { v: 'x'.repeat(2000) } },
        ],
      },
    }),
    ['mesh.peers[0].labels', 'mesh.peers[1].labels'],
  );
});

test("the README's table of limits shows every key's range exactly as the schema declares it", () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Limits'), readme.indexOf('### Probe kinds'));
  assert.ok(section.length > 100, 'README has a Limits section');
  for (const d of configSchemaDocs()) {
    if (!d.range) continue;
    const row = section.split('\n').find((l) => l.startsWith(`| \`${d.key}\` |`));
    assert.ok(row, `README Limits has no row for ${d.key}`);
    assert.equal(row.split('|')[2].trim(), d.range, `README range of ${d.key}`);
  }
  assert.match(section, new RegExp(`at most ${TIMEOUT_MAX_INTERVALS} × the interval`));
});

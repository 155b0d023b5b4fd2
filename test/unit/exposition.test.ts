import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ERROR_REASON_NAMES, ErrorReason, HTTP_PHASE_NAMES, ProbeEvent } from '../../src/protocol/events.js';
import { TargetStore } from '../../src/aggregate/store.js';
import { escapeLabelValue } from '../../src/aggregate/labels.js';
import { formatNumber } from '../../src/metrics/format.js';
import { ChunkWriter } from '../../src/metrics/chunk-writer.js';
import {
  PER_TARGET_FAMILIES as F,
  ZERO_ERROR_REASONS,
  DEFAULT_CHUNK_BYTES,
  expositionChunks,
  renderExpositionChunks,
  renderExpositionText,
} from '../../src/metrics/exposition.js';
import { parsePrometheusText, type Sample } from '../../src/metrics/text-parse.js';

function batch(records: [number, number, number?, number?, number?][]): ArrayBuffer {
  const w = new BatchWriter(4);
  for (const [s, e, r = 0, a = 0, v = 0] of records) w.push(s, e, r, a, v);
  return w.take(0, 1);
}

function find(samples: Sample[], name: string, labels: Record<string, string>): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}
function one(samples: Sample[], name: string, labels: Record<string, string>): number {
  const m = find(samples, name, labels);
  assert.equal(m.length, 1, `${name} ${JSON.stringify(labels)}: ${m.length} matches`);
  return m[0].value;
}

test('formatNumber writes numbers like prom-client, with NaN, +Inf, -Inf and exact big integers', () => {
  const cases: [number, string][] = [
    [0, '0'],
    [-0, '0'],
    [1, '1'],
    [42, '42'],
    [-7, '-7'],
    [1.5, '1.5'],
    [0.00005, '0.00005'],
    [1e-7, '1e-7'],
    [123456789012, '123456789012'],
    [2 ** 53, '9007199254740992'],
    [1e21, '1000000000000000000000'],
    [NaN, 'NaN'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
  ];
  for (const [v, s] of cases) assert.equal(formatNumber(v), s, String(v));
});

test('ChunkWriter.number writes exactly what formatNumber prints', () => {
  const values = [
    0,
    1,
    9,
    10,
    99,
    100,
    999999,
    1000000,
    2147483647,
    2147483648,
    4294967296,
    2 ** 53 - 1,
    2 ** 53,
    1e21,
    1e22,
    0.1,
    0.3333333333333333,
    1.7976931348623157e308,
    5e-324,
    -1,
    -2.5,
    NaN,
    Infinity,
    -Infinity,
  ];
  for (let i = 0; i < 2000; i++) values.push(Math.floor(Math.random() * 10 ** (i % 16)), Math.random() * 10 ** ((i % 20) - 10));
  const w = new ChunkWriter(64);
  const expected: string[] = [];
  for (const v of values) {
    w.number(v);
    w.byte(0x20);
    expected.push(formatNumber(v));
  }
  assert.equal(Buffer.concat(w.take(true)).toString('latin1'), expected.join(' ') + ' ');
});

test('escapeLabelValue escapes backslash, double quote and newline only', () => {
  assert.equal(escapeLabelValue('plain é ✓'), 'plain é ✓');
  assert.equal(escapeLabelValue('a\\b"c\nd\te'), 'a\\\\b\\"c\\nd\te');
  assert.equal(escapeLabelValue('\\n'), '\\\\n', 'a literal backslash-n is not a newline');
});

test('an empty store renders nothing', () => {
  assert.deepEqual(renderExpositionChunks(new TargetStore().snapshot()), []);
});

test('label values with quotes, backslashes, newlines and unicode round-trip through the text format', () => {
  const st = new TargetStore();
  const names = ['a"b', 'c\\d', 'e\nf', 'ünï✓ 日本', '\\n', '"', 'trailing\\'];
  names.forEach((name, i) => st.defineSlot(i, { name, kind: 'icmp', address: `127.0.0.${i + 1}`, labels: { note: name + '!' } }));
  const { samples } = parsePrometheusText(renderExpositionText(st.snapshot()));
  for (const [i, name] of names.entries()) {
    const s = find(samples, F.sent, { target: name });
    assert.equal(s.length, 1, name);
    assert.deepEqual(s[0].labels, { target: name, address: `127.0.0.${i + 1}`, kind: 'icmp', note: name + '!' });
  }
});

test('series carry labels in the fixed order target, address, kind, user labels sorted', () => {
  const st = new TargetStore();
  st.defineSlot(0, { name: 't', kind: 'icmp', address: '::1', labels: { zz: '1', aa: '2', mm: '3' } });
  const text = renderExpositionText(st.snapshot());
  assert.ok(text.includes(`${F.sent}{target="t",address="::1",kind="icmp",aa="2",mm="3",zz="1"} 0\n`), text.slice(0, 400));
  assert.ok(text.includes(`${F.rtt}_bucket{target="t",address="::1",kind="icmp",aa="2",mm="3",zz="1",le="0.00005"} 0\n`));
});

test('every family has HELP and TYPE once and its samples are contiguous', () => {
  const st = new TargetStore();
  st.defineSlot(0, { name: 'i', kind: 'icmp', address: '127.0.0.1', labels: {} });
  st.defineSlot(1, { name: 'e', kind: 'tcp_echo', address: '127.0.0.1:7', labels: {} });
  st.defineSlot(2, { name: 'h', kind: 'http', url: 'http://127.0.0.1/', labels: {} });
  const text = renderExpositionText(st.snapshot());
  const parsed = parsePrometheusText(text); // throws on a second TYPE for a family
  const expectTypes: Record<string, string> = {
    [F.sent]: 'counter',
    [F.received]: 'counter',
    [F.timeouts]: 'counter',
    [F.duplicates]: 'counter',
    [F.late]: 'counter',
    [F.errors]: 'counter',
    [F.rtt]: 'histogram',
    [F.lastRtt]: 'gauge',
    [F.lossRatio]: 'gauge',
    [F.connects]: 'counter',
    [F.connected]: 'gauge',
    [F.httpPhase]: 'histogram',
    [F.httpStatus]: 'gauge',
  };
  assert.deepEqual(Object.fromEntries(parsed.types), expectTypes);
  for (const fam of Object.keys(expectTypes)) assert.ok(parsed.help.get(fam)!.length > 5, fam);
  // Contiguity: once a family's samples end, they never resume.
  const familyOf = (n: string): string => (parsed.types.has(n) ? n : n.replace(/_(bucket|sum|count)$/, ''));
  const finished = new Set<string>();
  let current = '';
  for (const s of parsed.samples) {
    const f = familyOf(s.name);
    if (f !== current) {
      assert.ok(!finished.has(f), `${f} resumes after ${current}`);
      if (current !== '') finished.add(current);
      current = f;
    }
  }
});

test('kind-specific families appear only for targets of that kind, and only when one exists', () => {
  const st = new TargetStore();
  st.defineSlot(0, { name: 'i', kind: 'icmp', address: '127.0.0.1', labels: {} });
  let parsed = parsePrometheusText(renderExpositionText(st.snapshot()));
  for (const f of [F.connects, F.connected, F.httpPhase, F.httpStatus]) assert.equal(parsed.types.has(f), false, f);
  st.defineSlot(1, { name: 'e', kind: 'tcp_echo', address: '127.0.0.1:7', labels: {} });
  st.defineSlot(2, { name: 'h', kind: 'http', url: 'http://127.0.0.1/', labels: {} });
  parsed = parsePrometheusText(renderExpositionText(st.snapshot()));
  assert.deepEqual(
    find(parsed.samples, F.connects, {}).map((s) => s.labels.target),
    ['e'],
  );
  assert.deepEqual(
    find(parsed.samples, F.connected, {}).map((s) => s.labels.target),
    ['e'],
  );
  assert.deepEqual(
    find(parsed.samples, F.httpStatus, {}).map((s) => s.labels.target),
    ['h'],
  );
  assert.deepEqual([...new Set(find(parsed.samples, `${F.httpPhase}_count`, {}).map((s) => s.labels.target))], ['h']);
  assert.deepEqual(
    find(parsed.samples, `${F.httpPhase}_count`, {}).map((s) => s.labels.phase),
    [...HTTP_PHASE_NAMES],
  );
});

test('histograms are cumulative, end with +Inf, and _count equals the +Inf bucket and received', () => {
  const st = new TargetStore({ buckets: [0.001, 0.01, 0.1] });
  st.defineSlot(0, { name: 'i', kind: 'icmp', address: '127.0.0.1', labels: {} });
  st.applyBatch(
    batch([
      [0, ProbeEvent.Reply, 0, 0, 0.0005],
      [0, ProbeEvent.Reply, 0, 0, 0.001],
      [0, ProbeEvent.Reply, 0, 0, 0.05],
      [0, ProbeEvent.Reply, 0, 0, 7],
    ]),
  );
  const { samples } = parsePrometheusText(renderExpositionText(st.snapshot()));
  const buckets = find(samples, `${F.rtt}_bucket`, { target: 'i' }).map((s) => [s.labels.le, s.value]);
  assert.deepEqual(buckets, [
    ['0.001', 2],
    ['0.01', 2],
    ['0.1', 3],
    ['+Inf', 4],
  ]);
  assert.equal(one(samples, `${F.rtt}_count`, { target: 'i' }), 4);
  assert.equal(one(samples, `${F.rtt}_sum`, { target: 'i' }), 0.0005 + 0.001 + 0.05 + 7);
  assert.equal(one(samples, F.received, { target: 'i' }), 4);
  assert.equal(one(samples, F.lastRtt, { target: 'i' }), 7);
});

test('http phase histograms exist at zero from the start and fill per phase', () => {
  const st = new TargetStore({ buckets: [0.01, 1] });
  st.defineSlot(0, { name: 'h', kind: 'http', url: 'http://127.0.0.1/', labels: {} });
  let { samples } = parsePrometheusText(renderExpositionText(st.snapshot()));
  for (const p of HTTP_PHASE_NAMES) {
    assert.equal(one(samples, `${F.httpPhase}_count`, { phase: p }), 0);
    assert.equal(find(samples, `${F.httpPhase}_bucket`, { phase: p }).length, 3);
  }
  assert.equal(one(samples, F.httpStatus, { target: 'h' }), 0);
  st.applyBatch(
    batch([
      [0, ProbeEvent.Phase, 0, 3, 0.5],
      [0, ProbeEvent.Phase, 0, 3, 0.005],
      [0, ProbeEvent.Status, 0, 404],
    ]),
  );
  ({ samples } = parsePrometheusText(renderExpositionText(st.snapshot())));
  assert.deepEqual(
    find(samples, `${F.httpPhase}_bucket`, { phase: 'first_byte' }).map((s) => s.value),
    [1, 2, 2],
  );
  assert.equal(one(samples, `${F.httpPhase}_sum`, { phase: 'first_byte' }), 0.505);
  assert.equal(one(samples, `${F.httpPhase}_count`, { phase: 'total' }), 0);
  assert.equal(one(samples, F.httpStatus, { target: 'h' }), 404);
});

test("errors: the kind's likely reasons exist at 0, other reasons appear once nonzero", () => {
  const st = new TargetStore();
  st.defineSlot(0, { name: 'i', kind: 'icmp', address: '127.0.0.1', labels: {} });
  st.defineSlot(1, { name: 'u', kind: 'udp', address: '127.0.0.1:9', labels: {} });
  let { samples } = parsePrometheusText(renderExpositionText(st.snapshot()));
  assert.deepEqual(
    find(samples, F.errors, { target: 'i' })
      .map((s) => s.labels.reason)
      .sort(),
    [...ZERO_ERROR_REASONS.icmp].sort(),
  );
  assert.deepEqual(
    find(samples, F.errors, { target: 'u' })
      .map((s) => s.labels.reason)
      .sort(),
    [...ZERO_ERROR_REASONS.udp].sort(),
  );
  assert.ok(find(samples, F.errors, {}).every((s) => s.value === 0));
  st.applyBatch(
    batch([
      [0, ProbeEvent.Error, ErrorReason.ttl_exceeded],
      [0, ProbeEvent.Error, ErrorReason.host_unreachable],
    ]),
  );
  ({ samples } = parsePrometheusText(renderExpositionText(st.snapshot())));
  assert.equal(one(samples, F.errors, { target: 'i', reason: 'ttl_exceeded' }), 1);
  assert.equal(one(samples, F.errors, { target: 'i', reason: 'host_unreachable' }), 1);
  assert.equal(one(samples, F.errors, { target: 'i', reason: 'send_failed' }), 0);
  assert.equal(find(samples, F.errors, { target: 'u', reason: 'ttl_exceeded' }).length, 0, 'no other target gets the new reason');
  for (const s of find(samples, F.errors, {})) assert.ok((ERROR_REASON_NAMES as readonly string[]).includes(s.labels.reason));
});

test('every ZERO_ERROR_REASONS entry is a known reason', () => {
  for (const list of Object.values(ZERO_ERROR_REASONS)) for (const r of list) assert.ok((ERROR_REASON_NAMES as readonly string[]).includes(r), r);
});

test('last RTT is NaN until the first reply; loss ratio reflects the window', () => {
  const st = new TargetStore();
  st.defineSlot(0, { name: 'i', kind: 'icmp', address: '127.0.0.1', labels: {}, lossWindow: 4 });
  const text0 = renderExpositionText(st.snapshot());
  assert.match(text0, /fleetprobe_probe_last_rtt_seconds\{[^}]*\} NaN\n/);
  st.applyBatch(
    batch([
      [0, ProbeEvent.Timeout],
      [0, ProbeEvent.Timeout],
      [0, ProbeEvent.Error, 1],
      [0, ProbeEvent.Reply, 0, 0, 0.25],
    ]),
  );
  const { samples } = parsePrometheusText(renderExpositionText(st.snapshot()));
  assert.equal(one(samples, F.lossRatio, { target: 'i' }), 0.75);
  assert.equal(one(samples, F.lastRtt, { target: 'i' }), 0.25);
});

test('released targets disappear from the exposition', () => {
  const st = new TargetStore();
  st.defineSlot(0, { name: 'keep', kind: 'icmp', address: '127.0.0.1', labels: {} });
  st.defineSlot(1, { name: 'gone', kind: 'icmp', address: '127.0.0.2', labels: {} });
  st.releaseSlot(1);
  const text = renderExpositionText(st.snapshot());
  assert.ok(text.includes('target="keep"'));
  assert.ok(!text.includes('target="gone"'));
});

test('chunking does not change the bytes: small chunks concatenate to the same text', () => {
  const st = new TargetStore();
  for (let s = 0; s < 300; s++)
    st.defineSlot(s, {
      name: `t${s}-é`,
      kind: (['icmp', 'tcp', 'tcp_echo', 'udp', 'http'] as const)[s % 5],
      address: '127.0.0.1',
      labels: { r: 'x'.repeat(s % 50) },
    });
  st.applyBatch(
    batch([
      [7, ProbeEvent.Reply, 0, 0, 0.001],
      [9, ProbeEvent.Phase, 0, 2, 0.3],
    ]),
  );
  const snap = st.snapshot();
  const big = Buffer.concat(renderExpositionChunks(snap));
  for (const size of [1, 7, 100, 4096]) {
    const chunks = renderExpositionChunks(snap, size);
    assert.deepEqual(Buffer.concat(chunks), big, `chunk size ${size}`);
    for (const c of chunks.slice(0, -1)) assert.equal(c.length, size);
  }
  const defaults = renderExpositionChunks(snap);
  assert.equal(defaults.length, Math.ceil(big.length / DEFAULT_CHUNK_BYTES));
  for (const c of defaults.slice(0, -1)) assert.equal(c.length, DEFAULT_CHUNK_BYTES);
});

test('label values longer than a chunk are written whole', () => {
  const st = new TargetStore();
  const long = 'é'.repeat(100_000);
  st.defineSlot(0, { name: 'x', kind: 'icmp', address: '127.0.0.1', labels: { long } });
  const { samples } = parsePrometheusText(renderExpositionText(st.snapshot()));
  assert.equal(one(samples, F.sent, { target: 'x' }), 0);
  assert.equal(find(samples, F.sent, {})[0].labels.long, long);
});

test('the serializer is lazy: it produces nothing until asked', () => {
  const st = new TargetStore();
  for (let s = 0; s < 2000; s++) st.defineSlot(s, { name: `t${s}`, kind: 'icmp', address: '127.0.0.1', labels: {} });
  const gen = expositionChunks(st.snapshot(), 1024);
  const first = gen.next();
  assert.equal(first.done, false);
  assert.equal(first.value.length, 1024);
  assert.ok(first.value.toString().startsWith(`# HELP ${F.sent} `));
  gen.return(undefined);
});

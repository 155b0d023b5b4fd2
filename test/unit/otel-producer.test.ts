import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValueType } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type ExponentialHistogram,
  type Histogram,
  type MetricData,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ErrorReason, HTTP_PHASE_NAMES, ProbeEvent } from '../../src/protocol/events.js';
import { TargetStore } from '../../src/aggregate/store.js';
import { PER_TARGET_FAMILIES } from '../../src/metrics/exposition.js';
import { OTEL_FAMILIES, StoreMetricProducer, msToHrTime } from '../../src/metrics/otel-producer.js';

function batch(records: [number, number, number?, number?, number?][]): ArrayBuffer {
  const w = new BatchWriter(4);
  for (const [s, e, r = 0, a = 0, v = 0] of records) w.push(s, e, r, a, v);
  return w.take(0, 1);
}

const NOW = 1_700_000_123_456;

function collect(store: TargetStore, producer = new StoreMetricProducer(store, { now: () => NOW })): ScopeMetrics[] {
  return producer.collectScopeMetrics();
}

function metric(scopes: ScopeMetrics[], name: string): MetricData | undefined {
  return scopes[0]?.metrics.find((m) => m.descriptor.name === name);
}

function points<T = number>(scopes: ScopeMetrics[], name: string): DataPoint<T>[] {
  const m = metric(scopes, name);
  assert.ok(m, `metric ${name} missing`);
  return m.dataPoints as DataPoint<T>[];
}

function pointFor<T = number>(scopes: ScopeMetrics[], name: string, attrs: Record<string, string>): DataPoint<T> {
  const found = points<T>(scopes, name).filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));
  assert.equal(found.length, 1, `${name} ${JSON.stringify(attrs)}: ${found.length} points`);
  return found[0];
}

test('an empty store yields no scope metrics at all', async () => {
  const store = new TargetStore();
  assert.deepEqual(collect(store), []);
  const res = await new StoreMetricProducer(store).collect();
  assert.deepEqual(res.errors, []);
  assert.deepEqual(res.resourceMetrics.scopeMetrics, []);
});

test('a released target disappears from the export', () => {
  const store = new TargetStore();
  store.defineSlot(0, { name: 'a', kind: 'icmp', address: '127.0.0.1' });
  assert.equal(collect(store).length, 1);
  store.releaseSlot(0);
  assert.deepEqual(collect(store), []);
});

test('counters become cumulative monotonic sums with the raw target attributes and user labels', () => {
  const store = new TargetStore();
  store.defineSlot(3, { name: 'db "primary"', kind: 'icmp', address: '127.0.0.2', labels: { zone: 'eu\\1', rack: 'r"7' } });
  store.applyBatch(
    batch([
      [3, ProbeEvent.Sent],
      [3, ProbeEvent.Sent],
      [3, ProbeEvent.Sent],
      [3, ProbeEvent.Sent],
      [3, ProbeEvent.Reply, 0, 0, 0.001],
      [3, ProbeEvent.Timeout],
      [3, ProbeEvent.Duplicate],
      [3, ProbeEvent.Late, 0, 0, 2],
      [3, ProbeEvent.Error, ErrorReason.ttl_exceeded],
    ]),
  );
  const scopes = collect(store);
  assert.equal(scopes.length, 1);
  assert.equal(scopes[0].scope.name, 'fleetprobe');
  const expected: [string, number][] = [
    ['fleetprobe.probe.sent', 4],
    ['fleetprobe.probe.received', 1],
    ['fleetprobe.probe.timeouts', 1],
    ['fleetprobe.probe.duplicates', 1],
    ['fleetprobe.probe.late', 1],
  ];
  for (const [name, value] of expected) {
    const m = metric(scopes, name)!;
    assert.equal(m.dataPointType, DataPointType.SUM, name);
    assert.equal(m.aggregationTemporality, AggregationTemporality.CUMULATIVE, name);
    assert.equal((m as { isMonotonic: boolean }).isMonotonic, true, name);
    assert.equal(m.descriptor.valueType, ValueType.INT, name);
    assert.equal(m.dataPoints.length, 1, name);
    const p = m.dataPoints[0];
    assert.equal(p.value, value, name);
    // Unescaped values, keys in the Prometheus order (target, address, kind, user labels sorted).
    assert.deepEqual(Object.entries(p.attributes), [
      ['target', 'db "primary"'],
      ['address', '127.0.0.2'],
      ['kind', 'icmp'],
      ['rack', 'r"7'],
      ['zone', 'eu\\1'],
    ]);
    assert.deepEqual(p.endTime, msToHrTime(NOW));
  }
});

test('start time is when the slot was defined, end time is the collection time', () => {
  const store = new TargetStore();
  const before = Date.now();
  store.defineSlot(0, { name: 'a', kind: 'tcp', address: '127.0.0.1:80' });
  const after = Date.now();
  const p = points(collect(store), 'fleetprobe.probe.sent')[0];
  const startMs = p.startTime[0] * 1000 + p.startTime[1] / 1e6;
  assert.ok(startMs >= before && startMs <= after, `${startMs} not in [${before}, ${after}]`);
  assert.deepEqual(p.startTime, msToHrTime(store.slotStartTimeMs(0)));
});

test('redefining the same target keeps its counters and start time; a different target starts anew', async () => {
  const store = new TargetStore();
  store.defineSlot(0, { name: 'a', kind: 'icmp', address: '127.0.0.1', labels: { v: '1' } });
  store.applyBatch(batch([[0, ProbeEvent.Sent]]));
  const start0 = store.slotStartTimeMs(0);
  await new Promise((r) => setTimeout(r, 5));
  store.defineSlot(0, { name: 'a', kind: 'icmp', address: '127.0.0.1', labels: { v: '2' } });
  let p = points(collect(store), 'fleetprobe.probe.sent')[0];
  assert.equal(p.value, 1);
  assert.equal(p.attributes.v, '2', 'label update visible');
  assert.deepEqual(p.startTime, msToHrTime(start0));
  store.defineSlot(0, { name: 'b', kind: 'icmp', address: '127.0.0.1' });
  p = points(collect(store), 'fleetprobe.probe.sent')[0];
  assert.equal(p.value, 0);
  assert.equal(p.attributes.target, 'b');
  assert.ok(store.slotStartTimeMs(0) > start0);
  assert.deepEqual(p.startTime, msToHrTime(store.slotStartTimeMs(0)));
});

test('RTT becomes an explicit-bucket histogram: store bounds, per-bucket counts, overflow bucket, count and sum', () => {
  const store = new TargetStore({ buckets: [0.001, 0.01, 0.1] });
  store.defineSlot(0, { name: 'a', kind: 'icmp', address: '127.0.0.1' });
  store.defineSlot(1, { name: 'b', kind: 'icmp', address: '127.0.0.2' });
  store.applyBatch(
    batch([
      [0, ProbeEvent.Reply, 0, 0, 0.0005],
      [0, ProbeEvent.Reply, 0, 0, 0.001], // upper bound is inclusive (Prometheus le)
      [0, ProbeEvent.Reply, 0, 0, 0.05],
      [0, ProbeEvent.Reply, 0, 0, 3], // above the last bound
    ]),
  );
  const scopes = collect(store);
  const m = metric(scopes, 'fleetprobe.probe.rtt')!;
  assert.equal(m.dataPointType, DataPointType.HISTOGRAM);
  assert.equal(m.aggregationTemporality, AggregationTemporality.CUMULATIVE);
  assert.equal(m.descriptor.unit, 's');
  const a = pointFor<Histogram>(scopes, 'fleetprobe.probe.rtt', { target: 'a' }).value;
  assert.deepEqual(a.buckets.boundaries, [0.001, 0.01, 0.1]);
  assert.deepEqual(a.buckets.counts, [2, 0, 1, 1]);
  assert.equal(a.count, 4);
  assert.ok(Math.abs(a.sum! - 3.0515) < 1e-12);
  const b = pointFor<Histogram>(scopes, 'fleetprobe.probe.rtt', { target: 'b' }).value;
  assert.deepEqual(b.buckets.counts, [0, 0, 0, 0]);
  assert.equal(b.count, 0);
  assert.equal(b.sum, 0);
});

test('with the exponential option, RTT is an ExponentialHistogram of the store’s exponential buckets; HTTP phases stay explicit; the default is unchanged', () => {
  const store = new TargetStore({ buckets: [0.001, 0.01, 0.1] });
  store.defineSlot(0, { name: 'a', kind: 'icmp', address: '127.0.0.1' });
  store.defineSlot(1, { name: 'b', kind: 'icmp', address: '127.0.0.2' });
  store.defineSlot(2, { name: 'web', kind: 'http', url: 'http://127.0.0.1:8080/' });
  store.applyBatch(
    batch([
      [0, ProbeEvent.Reply, 0, 0, 0.001],
      [0, ProbeEvent.Reply, 0, 0, 0.001],
      [0, ProbeEvent.Reply, 0, 0, 2 ** -9], // the top of OTLP bucket −9·8 − 1 = −73 at scale 3 (upper bounds inclusive)
      [0, ProbeEvent.Reply, 0, 0, 0], // zero bucket
      [2, ProbeEvent.Phase, 0, HTTP_PHASE_NAMES.indexOf('total'), 0.02],
      [2, ProbeEvent.Reply, 0, 0, 0.004],
    ]),
  );
  const exp = collect(store, new StoreMetricProducer(store, { now: () => NOW, histogramAggregation: 'base2_exponential_bucket_histogram' }));
  const m = metric(exp, 'fleetprobe.probe.rtt')!;
  assert.equal(m.dataPointType, DataPointType.EXPONENTIAL_HISTOGRAM);
  assert.equal(m.aggregationTemporality, AggregationTemporality.CUMULATIVE);
  assert.equal(m.descriptor.unit, 's');
  const a = pointFor<ExponentialHistogram>(exp, 'fleetprobe.probe.rtt', { target: 'a' }).value;
  assert.equal(a.scale, 3);
  assert.equal(a.count, 4);
  assert.equal(a.zeroCount, 1);
  assert.ok(Math.abs(a.sum! - (0.002 + 2 ** -9)) < 1e-15);
  // 0.001 is in (2^(−80/8), 2^(−79/8)] = (0.000977, 0.001065]: OTLP bucket −80.
  assert.deepEqual(a.positive, { offset: -80, bucketCounts: [2, 0, 0, 0, 0, 0, 0, 1] });
  assert.deepEqual(a.negative, { offset: 0, bucketCounts: [] });
  assert.equal(a.positive.bucketCounts.reduce((x, y) => x + y, 0) + a.zeroCount, a.count);
  // Same count and sum as the explicit point of the default export.
  const explicit = pointFor<Histogram>(collect(store), 'fleetprobe.probe.rtt', { target: 'a' }).value;
  assert.equal(explicit.count, a.count);
  assert.equal(explicit.sum, a.sum);
  const b = pointFor<ExponentialHistogram>(exp, 'fleetprobe.probe.rtt', { target: 'b' }).value;
  assert.deepEqual(b, { count: 0, sum: 0, scale: 3, zeroCount: 0, positive: { offset: 0, bucketCounts: [] }, negative: { offset: 0, bucketCounts: [] } });
  // The HTTP phases have no exponential counterpart: explicit buckets still.
  assert.equal(metric(exp, 'fleetprobe.http.phase')?.dataPointType, DataPointType.HISTOGRAM);
  // The default and the explicit option: explicit buckets.
  assert.equal(metric(collect(store), 'fleetprobe.probe.rtt')?.dataPointType, DataPointType.HISTOGRAM);
  const named = new StoreMetricProducer(store, { now: () => NOW, histogramAggregation: 'explicit_bucket_histogram' });
  assert.deepEqual(collect(store, named), collect(store));
});

test('last RTT is absent before the first reply; loss ratio is a gauge from the loss window', () => {
  const store = new TargetStore();
  store.defineSlot(0, { name: 'a', kind: 'icmp', address: '127.0.0.1' });
  store.defineSlot(1, { name: 'b', kind: 'icmp', address: '127.0.0.2' });
  store.applyBatch(
    batch([
      [0, ProbeEvent.Reply, 0, 0, 0.002],
      [0, ProbeEvent.Reply, 0, 0, 0.004],
      [0, ProbeEvent.Timeout],
      [0, ProbeEvent.Error, ErrorReason.host_unreachable],
    ]),
  );
  const scopes = collect(store);
  assert.equal(metric(scopes, 'fleetprobe.probe.last_rtt')!.dataPointType, DataPointType.GAUGE);
  const last = points(scopes, 'fleetprobe.probe.last_rtt');
  assert.equal(last.length, 1);
  assert.equal(last[0].attributes.target, 'a');
  assert.equal(last[0].value, 0.004);
  assert.equal(pointFor(scopes, 'fleetprobe.probe.loss_ratio', { target: 'a' }).value, 0.5);
  assert.equal(pointFor(scopes, 'fleetprobe.probe.loss_ratio', { target: 'b' }).value, 0);
});

test("errors carry a reason attribute: nonzero reasons plus the kind's always-present reasons at 0", () => {
  const store = new TargetStore();
  store.defineSlot(0, { name: 'a', kind: 'icmp', address: '127.0.0.1' });
  store.defineSlot(1, { name: 't', kind: 'tcp', address: '127.0.0.1:1' });
  store.applyBatch(
    batch([
      [0, ProbeEvent.Error, ErrorReason.ttl_exceeded],
      [0, ProbeEvent.Error, ErrorReason.ttl_exceeded],
      [1, ProbeEvent.Error, ErrorReason.refused],
    ]),
  );
  const scopes = collect(store);
  const errs = points(scopes, 'fleetprobe.probe.errors');
  const byTarget = (t: string): Record<string, number> =>
    Object.fromEntries(errs.filter((p) => p.attributes.target === t).map((p) => [p.attributes.reason as string, p.value]));
  assert.deepEqual(byTarget('a'), { send_failed: 0, host_unreachable: 0, admin_prohibited: 0, ttl_exceeded: 2 });
  assert.deepEqual(byTarget('t'), { refused: 1, connect_failed: 0 });
  const p = pointFor(scopes, 'fleetprobe.probe.errors', { target: 'a', reason: 'ttl_exceeded' });
  assert.equal(p.attributes.kind, 'icmp');
  assert.equal(p.attributes.address, '127.0.0.1');
});

test('tcp_echo targets get connects and connected; other kinds do not', () => {
  const store = new TargetStore();
  store.defineSlot(0, { name: 'e', kind: 'tcp_echo', address: '127.0.0.1:7' });
  store.defineSlot(1, { name: 'i', kind: 'icmp', address: '127.0.0.1' });
  store.applyBatch(
    batch([
      [0, ProbeEvent.Connect],
      [0, ProbeEvent.Connect],
      [0, ProbeEvent.Connected, 0, 1],
    ]),
  );
  const scopes = collect(store);
  assert.deepEqual(
    points(scopes, 'fleetprobe.connects').map((p) => [p.attributes.target, p.value]),
    [['e', 2]],
  );
  assert.deepEqual(
    points(scopes, 'fleetprobe.connected').map((p) => [p.attributes.target, p.value]),
    [['e', 1]],
  );
  assert.equal(metric(scopes, 'fleetprobe.http.phase'), undefined);

  const icmpOnly = new TargetStore();
  icmpOnly.defineSlot(0, { name: 'i', kind: 'icmp', address: '127.0.0.1' });
  const s2 = collect(icmpOnly);
  assert.equal(metric(s2, 'fleetprobe.connects'), undefined);
  assert.equal(metric(s2, 'fleetprobe.connected'), undefined);
  assert.equal(metric(s2, 'fleetprobe.http.status_code'), undefined);
});

test('http targets get one phase histogram per phase (zeros included) and the status code gauge', () => {
  const store = new TargetStore({ buckets: [0.01, 0.1] });
  store.defineSlot(0, { name: 'web', kind: 'http', url: 'http://127.0.0.1:8080/health' });
  store.applyBatch(
    batch([
      [0, ProbeEvent.Phase, 0, HTTP_PHASE_NAMES.indexOf('connect'), 0.005],
      [0, ProbeEvent.Phase, 0, HTTP_PHASE_NAMES.indexOf('total'), 0.05],
      [0, ProbeEvent.Phase, 0, HTTP_PHASE_NAMES.indexOf('total'), 0.5],
      [0, ProbeEvent.Status, 0, 204],
    ]),
  );
  const scopes = collect(store);
  const phases = points<Histogram>(scopes, 'fleetprobe.http.phase');
  assert.deepEqual(
    phases.map((p) => p.attributes.phase),
    [...HTTP_PHASE_NAMES],
  );
  for (const p of phases) assert.equal(p.attributes.address, 'http://127.0.0.1:8080/health');
  const total = pointFor<Histogram>(scopes, 'fleetprobe.http.phase', { phase: 'total' }).value;
  assert.deepEqual(total.buckets.counts, [0, 1, 1]);
  assert.equal(total.count, 2);
  assert.ok(Math.abs(total.sum! - 0.55) < 1e-12);
  const connect = pointFor<Histogram>(scopes, 'fleetprobe.http.phase', { phase: 'connect' }).value;
  assert.deepEqual(connect.buckets.counts, [1, 0, 0]);
  const dns = pointFor<Histogram>(scopes, 'fleetprobe.http.phase', { phase: 'dns' }).value;
  assert.deepEqual([dns.buckets.counts, dns.count, dns.sum], [[0, 0, 0], 0, 0]);
  assert.equal(pointFor(scopes, 'fleetprobe.http.status_code', { target: 'web' }).value, 204);
});

test('attribute objects are reused between exports (no per-export rebuild)', () => {
  const store = new TargetStore();
  store.defineSlot(0, { name: 'a', kind: 'icmp', address: '127.0.0.1', labels: { k: 'v' } });
  const producer = new StoreMetricProducer(store, { now: () => NOW });
  const s1 = producer.collectScopeMetrics();
  const s2 = producer.collectScopeMetrics();
  assert.equal(points(s1, 'fleetprobe.probe.sent')[0].attributes, points(s2, 'fleetprobe.probe.sent')[0].attributes);
  const e1 = pointFor(s1, 'fleetprobe.probe.errors', { reason: 'send_failed' });
  const e2 = pointFor(s2, 'fleetprobe.probe.errors', { reason: 'send_failed' });
  assert.equal(e1.attributes, e2.attributes);
  assert.equal(points(s1, 'fleetprobe.probe.sent')[0].startTime, points(s2, 'fleetprobe.probe.sent')[0].startTime);
});

/** The OTLP→Prometheus name translation (Prometheus compatibility spec, with suffixes). */
function prometheusName(m: MetricData): string {
  let name = m.descriptor.name.replace(/\./g, '_');
  const unit = m.descriptor.unit;
  if (unit === 's') name += '_seconds';
  else if (unit === '1' && m.dataPointType === DataPointType.GAUGE && !name.endsWith('_ratio')) name += '_ratio';
  else assert.ok(unit === '1' || /^\{[a-z]+\}$/.test(unit), `unexpected unit ${unit}`);
  if (m.dataPointType === DataPointType.SUM) name += '_total';
  return name;
}

test('every OTel metric translates to exactly its Prometheus family name', () => {
  const store = new TargetStore();
  store.defineSlot(0, { name: 'i', kind: 'icmp', address: '127.0.0.1' });
  store.defineSlot(1, { name: 'e', kind: 'tcp_echo', address: '127.0.0.1:7' });
  store.defineSlot(2, { name: 'h', kind: 'http', url: 'http://127.0.0.1/' });
  store.applyBatch(batch([[0, ProbeEvent.Reply, 0, 0, 0.001]]));
  const scopes = collect(store);
  const names = scopes[0].metrics.map((m) => [m.descriptor.name, prometheusName(m)]);
  const expected = Object.values(OTEL_FAMILIES).map((f) => [f.descriptor.name, f.prometheus]);
  assert.deepEqual(names, expected);
  assert.deepEqual(new Set(expected.map((e) => e[1])), new Set(Object.values(PER_TARGET_FAMILIES)));
});

test('a store that throws is reported as a collection error, not a rejection', async () => {
  const broken = {
    snapshot(): never {
      throw new Error('boom');
    },
    slotAttributes: () => undefined,
    slotStartTimeMs: () => NaN,
  };
  const res = await new StoreMetricProducer(broken).collect();
  assert.deepEqual(res.resourceMetrics.scopeMetrics, []);
  assert.equal((res.errors[0] as Error).message, 'boom');
});

test('collect() converts in slices yet describes the single instant it was called at', async () => {
  const store = new TargetStore();
  for (let s = 0; s < 5; s++) store.defineSlot(s, { name: `t${s}`, kind: 'icmp', address: `127.0.0.${s + 1}` });
  store.applyBatch(
    batch([
      [4, ProbeEvent.Sent],
      [4, ProbeEvent.Sent],
      [1, ProbeEvent.Sent],
    ]),
  );
  const producer = new StoreMetricProducer(store, { now: () => NOW, sliceSlots: 2 });
  const pending = producer.collect();
  // Changes after the call, while the conversion is still yielding between slices:
  store.defineSlot(4, { name: 'replacement', kind: 'icmp', address: '127.0.0.9' });
  store.releaseSlot(3);
  store.applyBatch(batch([[1, ProbeEvent.Sent]]));
  const res = await pending;
  assert.deepEqual(res.errors, []);
  const scopes = res.resourceMetrics.scopeMetrics;
  assert.deepEqual(
    points(scopes, 'fleetprobe.probe.sent').map((p) => [p.attributes.target, p.value]),
    [
      ['t0', 0],
      ['t1', 1],
      ['t2', 0],
      ['t3', 0],
      ['t4', 2],
    ],
  );
  // And the sliced result equals the one-pass result of the same state.
  const now = producer.collectScopeMetrics();
  const sliced = (await producer.collect()).resourceMetrics.scopeMetrics;
  assert.deepEqual(sliced, now);
});

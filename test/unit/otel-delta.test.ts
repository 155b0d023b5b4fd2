/**
 * Delta temporality of the per-target store (DeltaStoreSource in front of the real
 * StoreMetricProducer): the deltas of successive exports add up to the cumulative
 * values, intervals tile in time, gauges pass through, and a slot redefined to
 * another target starts over instead of going negative.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type ExponentialHistogram,
  type Histogram,
  type MetricData,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { TargetStore } from '../../src/aggregate/store.js';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ErrorReason, HTTP_PHASE_NAMES, ProbeEvent } from '../../src/protocol/events.js';
import { DeltaStoreSource } from '../../src/metrics/otel-delta.js';
import { StoreMetricProducer } from '../../src/metrics/otel-producer.js';

const BUCKETS = [0.001, 0.01, 0.1];

function deltaProducer(store: TargetStore, clock: () => number): { source: DeltaStoreSource; producer: StoreMetricProducer } {
  const source = new DeltaStoreSource(store, clock);
  return { source, producer: new StoreMetricProducer(source, { temporality: AggregationTemporality.DELTA, now: () => source.snapshotTimeMs }) };
}

function metric(scopes: ScopeMetrics[], name: string): MetricData | undefined {
  return scopes[0]?.metrics.find((m) => m.descriptor.name === name);
}

/** "name|attr=value,…" → point, for every point of every metric. */
function byKey(scopes: ScopeMetrics[]): Map<string, { m: MetricData; p: DataPoint<number | Histogram> }> {
  const out = new Map<string, { m: MetricData; p: DataPoint<number | Histogram> }>();
  for (const m of scopes[0]?.metrics ?? []) {
    for (const p of m.dataPoints as DataPoint<number | Histogram>[]) {
      const attrs = Object.entries(p.attributes)
        .map(([k, v]) => `${k}=${String(v)}`)
        .sort()
        .join(',');
      out.set(`${m.descriptor.name}|${attrs}`, { m, p });
    }
  }
  return out;
}

/** A pseudo-random but reproducible stream of records over `slots`. */
function randomBatch(seed: number, slots: number[], n: number): ArrayBuffer {
  let x = seed;
  const rnd = (): number => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x / 0x7fffffff;
  };
  const w = new BatchWriter(n);
  for (let i = 0; i < n; i++) {
    const slot = slots[Math.floor(rnd() * slots.length)];
    const r = rnd();
    if (r < 0.4) w.push(slot, ProbeEvent.Sent);
    else if (r < 0.7) w.push(slot, ProbeEvent.Reply, 0, 0, rnd() * 0.2);
    else if (r < 0.8) w.push(slot, ProbeEvent.Timeout);
    else if (r < 0.85) w.push(slot, ProbeEvent.Error, rnd() < 0.5 ? ErrorReason.host_unreachable : ErrorReason.refused);
    else if (r < 0.9) w.push(slot, ProbeEvent.Duplicate);
    else if (r < 0.93) w.push(slot, ProbeEvent.Late, 0, 0, 1);
    else if (r < 0.96) w.push(slot, ProbeEvent.Phase, 0, Math.floor(rnd() * HTTP_PHASE_NAMES.length), rnd() * 0.05);
    else w.push(slot, ProbeEvent.Connect);
  }
  return w.take(0, 1);
}

function fleet(): TargetStore {
  const store = new TargetStore({ buckets: BUCKETS });
  store.defineSlot(0, { name: 'gw', kind: 'icmp', address: '127.0.0.1' });
  store.defineSlot(1, { name: 'echo', kind: 'tcp_echo', address: '127.0.0.1:7' });
  store.defineSlot(2, { name: 'web', kind: 'http', url: 'http://127.0.0.1:8080/' });
  return store;
}

test('the deltas of successive exports add up to the cumulative values, series by series and bucket by bucket', () => {
  const store = fleet();
  let now = 1_700_000_000_000;
  const { producer } = deltaProducer(store, () => now);
  const cumulative = new StoreMetricProducer(store, { now: () => now });
  const sums = new Map<string, { value?: number; counts?: number[]; sum?: number; count?: number }>();
  let lastEnd: number | undefined;
  for (let round = 0; round < 8; round++) {
    // Round 3 adds a target and round 5 a new error reason column mid-way.
    if (round === 3) store.defineSlot(5, { name: 'late-comer', kind: 'udp', address: '127.0.0.1:9' });
    store.applyBatch(randomBatch(round + 1, round >= 3 ? [0, 1, 2, 5] : [0, 1, 2], 400));
    if (round === 5) {
      const w = new BatchWriter(2);
      w.push(0, ProbeEvent.Error, ErrorReason.ttl_exceeded);
      store.applyBatch(w.take(0, 1));
    }
    now += 1000;
    const scopes = producer.collectScopeMetrics();
    assert.equal(metric(scopes, 'fleetprobe.probe.sent')?.aggregationTemporality, AggregationTemporality.DELTA);
    assert.equal(metric(scopes, 'fleetprobe.probe.rtt')?.aggregationTemporality, AggregationTemporality.DELTA);
    for (const [key, { m, p }] of byKey(scopes)) {
      if (m.dataPointType === DataPointType.GAUGE) continue;
      // Each point starts where the previous export ended (or at the slot's start).
      if (lastEnd !== undefined && !key.includes('late-comer')) assert.deepEqual(p.startTime, [Math.floor(lastEnd / 1000), (lastEnd % 1000) * 1e6], key);
      const acc = sums.get(key) ?? {};
      if (typeof p.value === 'number') {
        assert.ok(p.value >= 0, `${key}: delta ${p.value} is not negative`);
        acc.value = (acc.value ?? 0) + p.value;
      } else {
        const h = p.value;
        acc.counts = h.buckets.counts.map((c, i) => c + (acc.counts?.[i] ?? 0));
        acc.sum = (acc.sum ?? 0) + (h.sum ?? 0);
        acc.count = (acc.count ?? 0) + h.count;
      }
      sums.set(key, acc);
    }
    lastEnd = now;
  }
  const final = byKey(cumulative.collectScopeMetrics());
  let compared = 0;
  for (const [key, { m, p }] of final) {
    if (m.dataPointType === DataPointType.GAUGE) continue;
    const acc = sums.get(key);
    assert.ok(acc, `${key} was exported as delta`);
    if (typeof p.value === 'number') assert.equal(acc.value, p.value, key);
    else {
      assert.deepEqual(acc.counts, p.value.buckets.counts, key);
      assert.equal(acc.count, p.value.count, key);
      assert.ok(Math.abs((acc.sum ?? 0) - (p.value.sum ?? 0)) < 1e-9, key);
    }
    compared++;
  }
  assert.ok(compared > 20, `compared ${compared} series`);
  assert.ok((final.get('fleetprobe.probe.errors|address=127.0.0.1,kind=icmp,reason=ttl_exceeded,target=gw')?.p.value as number) === 1);
});

test('gauges pass through unchanged; an export with nothing new has zero deltas', () => {
  const store = fleet();
  let now = 1_700_000_000_000;
  const { producer } = deltaProducer(store, () => now);
  const w = new BatchWriter(8);
  w.push(0, ProbeEvent.Sent);
  w.push(0, ProbeEvent.Reply, 0, 0, 0.005);
  w.push(1, ProbeEvent.Connected, 0, 1);
  w.push(2, ProbeEvent.Status, 0, 503);
  store.applyBatch(w.take(0, 1));
  producer.collectScopeMetrics();
  now += 500;
  const again = byKey(producer.collectScopeMetrics());
  assert.equal(again.get('fleetprobe.probe.sent|address=127.0.0.1,kind=icmp,target=gw')?.p.value, 0);
  assert.equal((again.get('fleetprobe.probe.rtt|address=127.0.0.1,kind=icmp,target=gw')?.p.value as Histogram).count, 0);
  assert.equal(again.get('fleetprobe.probe.last_rtt|address=127.0.0.1,kind=icmp,target=gw')?.p.value, 0.005);
  assert.equal(again.get('fleetprobe.probe.loss_ratio|address=127.0.0.1,kind=icmp,target=gw')?.p.value, 0);
  assert.equal(again.get('fleetprobe.connected|address=127.0.0.1:7,kind=tcp_echo,target=echo')?.p.value, 1);
  assert.equal(again.get('fleetprobe.http.status_code|address=http://127.0.0.1:8080/,kind=http,target=web')?.p.value, 503);
});

test('a slot redefined to another target starts over from its own start time (a reset), never negative', async () => {
  const store = new TargetStore({ buckets: BUCKETS });
  store.defineSlot(0, { name: 'old', kind: 'icmp', address: '127.0.0.1' });
  let now = Date.now();
  const { source, producer } = deltaProducer(store, () => now);
  const w = new BatchWriter(16);
  for (let i = 0; i < 10; i++) w.push(0, ProbeEvent.Sent);
  store.applyBatch(w.take(0, 1));
  const first = byKey(producer.collectScopeMetrics());
  assert.equal(first.get('fleetprobe.probe.sent|address=127.0.0.1,kind=icmp,target=old')?.p.value, 10);

  await new Promise((r) => setTimeout(r, 5)); // a new definition gets a later start time
  store.defineSlot(0, { name: 'new', kind: 'icmp', address: '127.0.0.2' });
  const w2 = new BatchWriter(4);
  for (let i = 0; i < 3; i++) w2.push(0, ProbeEvent.Sent);
  store.applyBatch(w2.take(0, 1));
  now = Date.now();
  const second = byKey(producer.collectScopeMetrics());
  const sent = second.get('fleetprobe.probe.sent|address=127.0.0.2,kind=icmp,target=new');
  assert.equal(sent?.p.value, 3, 'the new target’s whole count, not 3 - 10');
  const start = store.slotStartTimeMs(0);
  assert.equal(source.slotStartTimeMs(0), start);
  assert.deepEqual(sent?.p.startTime, [Math.floor(start / 1000), (start % 1000) * 1e6], 'starts at the new definition, not at the previous export');

  // Same definition again: counters carry on, so the next delta is a difference.
  store.defineSlot(0, { name: 'new', kind: 'icmp', address: '127.0.0.2', labels: { site: 'x' } });
  const w3 = new BatchWriter(4);
  w3.push(0, ProbeEvent.Sent);
  store.applyBatch(w3.take(0, 1));
  now += 1000;
  const third = byKey(producer.collectScopeMetrics());
  assert.equal(third.get('fleetprobe.probe.sent|address=127.0.0.2,kind=icmp,site=x,target=new')?.p.value, 1);
});

test('a released slot is forgotten: defined again later, it starts over', () => {
  const store = new TargetStore({ buckets: BUCKETS });
  store.defineSlot(0, { name: 'a', kind: 'icmp', address: '127.0.0.1' });
  store.defineSlot(1, { name: 'b', kind: 'icmp', address: '127.0.0.2' });
  let now = 1_700_000_000_000;
  const { producer } = deltaProducer(store, () => now);
  const w = new BatchWriter(8);
  for (let i = 0; i < 4; i++) w.push(1, ProbeEvent.Sent);
  store.applyBatch(w.take(0, 1));
  producer.collectScopeMetrics();
  store.releaseSlot(1);
  now += 1000;
  assert.equal(byKey(producer.collectScopeMetrics()).has('fleetprobe.probe.sent|address=127.0.0.2,kind=icmp,target=b'), false);
  store.defineSlot(1, { name: 'b', kind: 'icmp', address: '127.0.0.2' });
  const w2 = new BatchWriter(4);
  w2.push(1, ProbeEvent.Sent);
  store.applyBatch(w2.take(0, 1));
  now += 1000;
  assert.equal(byKey(producer.collectScopeMetrics()).get('fleetprobe.probe.sent|address=127.0.0.2,kind=icmp,target=b')?.p.value, 1);
});

test('the kept copy grows with the store (thousands of slots) and stays exact', () => {
  const store = new TargetStore({ buckets: BUCKETS, initialSlots: 16 });
  let now = 1_700_000_000_000;
  const { producer } = deltaProducer(store, () => now);
  for (let s = 0; s < 40; s++) store.defineSlot(s, { name: `t${s}`, kind: 'icmp', address: `127.0.0.${s + 1}` });
  store.applyBatch(randomBatch(7, [0, 39], 100));
  producer.collectScopeMetrics();
  for (let s = 40; s < 3000; s++) store.defineSlot(s, { name: `t${s}`, kind: 'icmp', address: `127.0.${s >> 8}.${s & 255}` });
  const w = new BatchWriter(8);
  w.push(39, ProbeEvent.Sent);
  w.push(2999, ProbeEvent.Sent);
  w.push(2999, ProbeEvent.Sent);
  store.applyBatch(w.take(0, 1));
  now += 1000;
  const got = byKey(producer.collectScopeMetrics());
  assert.equal(got.get('fleetprobe.probe.sent|address=127.0.0.40,kind=icmp,target=t39')?.p.value, 1);
  assert.equal(got.get('fleetprobe.probe.sent|address=127.0.11.183,kind=icmp,target=t2999')?.p.value, 2);
});

// ---- exponential histograms -------------------------------------------------------------

/** OTLP exponential buckets as absolute index → count at `scale` (merged down from the point's own scale: k → floor(k / 2) per step). */
function expBuckets(h: ExponentialHistogram, scale: number, into = new Map<number, number>()): Map<number, number> {
  assert.ok(h.scale >= scale, `a delta at scale ${h.scale} is not coarser than the cumulative ${scale}`);
  h.positive.bucketCounts.forEach((c, j) => {
    assert.ok(c >= 0, 'no negative bucket delta');
    if (c === 0) return;
    const k = Math.floor((h.positive.offset + j) / 2 ** (h.scale - scale));
    into.set(k, (into.get(k) ?? 0) + c);
  });
  return into;
}

test('exponential deltas add up to the cumulative histogram, across window moves and schema decreases, and match the explicit deltas', () => {
  // A narrow window and RTTs that wander over decades, so windows move and coarsen between exports.
  const store = new TargetStore({ buckets: BUCKETS, nativeWindow: 16 });
  for (let s = 0; s < 6; s++) store.defineSlot(s, { name: `t${s}`, kind: 'icmp', address: `127.0.0.${s + 1}` });
  let now = 1_700_000_000_000;
  const source = new DeltaStoreSource(store, () => now);
  const exp = new StoreMetricProducer(source, {
    temporality: AggregationTemporality.DELTA,
    now: () => source.snapshotTimeMs,
    histogramAggregation: 'base2_exponential_bucket_histogram',
  });
  const { producer: explicit } = deltaProducer(store, () => now);
  const deltas = new Map<string, ExponentialHistogram[]>();
  let x = 11;
  const rnd = (): number => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x / 0x7fffffff);
  const schemasSeen = new Set<number>();
  for (let round = 0; round < 10; round++) {
    const w = new BatchWriter(200);
    for (let i = 0; i < 60; i++) {
      const slot = Math.floor(rnd() * 6);
      // Slot t0 never replies in some rounds (an empty delta); zeros now and then; a spread that grows with the round.
      if (slot === 0 && round % 3 === 1) continue;
      w.push(slot, ProbeEvent.Reply, 0, 0, rnd() < 0.05 ? 0 : 1e-5 * 10 ** (rnd() * (1 + round / 2) + (slot % 3)));
    }
    store.applyBatch(w.take(0, 1));
    now += 1000;
    const e = exp.collectScopeMetrics();
    const m = metric(e, 'fleetprobe.probe.rtt')!;
    assert.equal(m.dataPointType, DataPointType.EXPONENTIAL_HISTOGRAM);
    assert.equal(m.aggregationTemporality, AggregationTemporality.DELTA);
    const ex = byKey(explicit.collectScopeMetrics());
    for (const p of m.dataPoints) {
      const h = p.value;
      schemasSeen.add(h.scale);
      assert.equal(h.positive.bucketCounts.reduce((a, b) => a + b, 0) + h.zeroCount, h.count, 'Σ buckets + zero_count = count');
      const twin = ex.get(`fleetprobe.probe.rtt|address=${String(p.attributes.address)},kind=icmp,target=${String(p.attributes.target)}`)!.p.value as Histogram;
      assert.equal(h.count, twin.count, 'the same delta count as the explicit histogram');
      assert.ok(Math.abs(h.sum! - twin.sum!) < 1e-12);
      const list = deltas.get(String(p.attributes.target)) ?? [];
      list.push(h);
      deltas.set(String(p.attributes.target), list);
    }
  }
  assert.ok(schemasSeen.size > 1, `the test moved schemas (${[...schemasSeen].join(', ')})`);
  const cumulative = new StoreMetricProducer(store, { now: () => now, histogramAggregation: 'base2_exponential_bucket_histogram' }).collectScopeMetrics();
  for (const p of metric(cumulative, 'fleetprobe.probe.rtt')!.dataPoints as DataPoint<ExponentialHistogram>[]) {
    const c = p.value;
    const list = deltas.get(String(p.attributes.target))!;
    assert.equal(list.length, 10);
    const acc = new Map<number, number>();
    for (const d of list) expBuckets(d, c.scale, acc);
    assert.deepEqual(acc, expBuckets(c, c.scale), `${String(p.attributes.target)}: Σ deltas = cumulative, bucket by bucket`);
    assert.equal(
      list.reduce((a, d) => a + d.zeroCount, 0),
      c.zeroCount,
    );
    assert.equal(
      list.reduce((a, d) => a + d.count, 0),
      c.count,
    );
  }
});

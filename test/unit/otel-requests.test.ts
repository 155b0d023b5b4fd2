/**
 * Building an OTLP export one request at a time (RequestBuilder over the producers'
 * point streams): the requests are exactly those the OTel SDK's reader cuts from the
 * same snapshot built at once (its own splitMetricData), so every point is sent exactly
 * once and in the same order and grouping; with delta temporality the previous state
 * after a complete incremental export is the one-shot one, and an export that stops
 * midway leaves the unbuilt points' increases for the next export (no loss, no double
 * count), while the points it did build count as exported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregationTemporality, type DataPoint, type Histogram, type MetricData, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { emptyResource } from '@opentelemetry/resources';
// The SDK reader's own splitter (internal: not in the package index), as the reference.
import { splitMetricData } from '@opentelemetry/sdk-metrics/build/src/export/MetricDataSplitter.js';
import { TargetStore } from '../../src/aggregate/store.js';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ErrorReason, HTTP_PHASE_NAMES, ProbeEvent } from '../../src/protocol/events.js';
import { DeltaStoreSource } from '../../src/metrics/otel-delta.js';
import { arrayStream, StoreMetricProducer } from '../../src/metrics/otel-producer.js';
import { RequestBuilder, type ScopeStream } from '../../src/metrics/otel-requests.js';

const BUCKETS = [0.001, 0.01, 0.1];
const NOW = 1_700_000_000_000;

/** Seeded records over `slots`: every event kind, several error reasons and HTTP phases. */
function randomBatch(seed: number, slots: readonly number[], n: number): ArrayBuffer {
  let x = seed;
  const rnd = (): number => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x / 0x7fffffff);
  const reasons = [ErrorReason.host_unreachable, ErrorReason.refused, ErrorReason.ttl_exceeded];
  const w = new BatchWriter(n);
  for (let i = 0; i < n; i++) {
    const slot = slots[Math.floor(rnd() * slots.length)];
    const r = rnd();
    if (r < 0.4) w.push(slot, ProbeEvent.Sent);
    else if (r < 0.7) w.push(slot, ProbeEvent.Reply, 0, 0, rnd() * 0.2);
    else if (r < 0.8) w.push(slot, ProbeEvent.Timeout);
    else if (r < 0.86) w.push(slot, ProbeEvent.Error, reasons[Math.floor(rnd() * reasons.length)]);
    else if (r < 0.9) w.push(slot, ProbeEvent.Duplicate);
    else if (r < 0.93) w.push(slot, ProbeEvent.Late, 0, 0, 1);
    else if (r < 0.97) w.push(slot, ProbeEvent.Phase, 0, Math.floor(rnd() * HTTP_PHASE_NAMES.length), rnd() * 0.05);
    else w.push(slot, ProbeEvent.Connect);
  }
  return w.take(0, 1);
}

const KINDS = [
  { kind: 'icmp', address: '127.0.0.1' },
  { kind: 'tcp', address: '127.0.0.1:80' },
  { kind: 'http', url: 'http://127.0.0.1:8080/' },
  { kind: 'udp', address: '127.0.0.1:9' },
  { kind: 'tcp_echo', address: '127.0.0.1:7' },
] as const;

/** `n` targets of every kind (slot 3 left empty), with `rounds` batches of records. */
function fleet(n: number, rounds = 1): { store: TargetStore; slots: number[] } {
  const store = new TargetStore({ buckets: BUCKETS });
  const slots: number[] = [];
  for (let s = 0; s < n + 1; s++) {
    if (s === 3) continue;
    store.defineSlot(s, { name: `t${s}`, ...KINDS[s % KINDS.length] });
    slots.push(s);
  }
  for (let r = 0; r < rounds; r++) store.applyBatch(randomBatch(r + 7, slots, 40 * n));
  return { store, slots };
}

/** Every point of the scopes in order, as comparable text. */
function flatten(scopes: readonly ScopeMetrics[]): string[] {
  return scopes.flatMap((sm) => sm.metrics.flatMap((m) => m.dataPoints.map((p) => `${sm.scope.name} ${m.descriptor.name} ${JSON.stringify(p)}`)));
}

/** The requests of one export built one at a time. */
function incremental(scopes: ScopeStream[], max: number): ScopeMetrics[][] {
  const b = new RequestBuilder(scopes, max);
  const out: ScopeMetrics[][] = [];
  for (let r = b.next(); r !== undefined; r = b.next()) out.push(r);
  return out;
}

/** A second scope of ready-made metrics (as the self metrics arrive), to cross scope boundaries. */
function selfScope(): ScopeMetrics {
  const p = (v: number): DataPoint<number> => ({ startTime: [1, 0], endTime: [2, 0], attributes: { v: String(v) }, value: v });
  const metrics: MetricData[] = [3, 1, 5].map((k, i) => ({
    descriptor: { name: `self.m${i}`, unit: '', description: '', valueType: 1 },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: 2,
    dataPoints: Array.from({ length: k }, (_, j) => p(j)),
  }));
  return { scope: { name: 'fleetprobe.self' }, metrics };
}

test('the requests built one at a time are exactly the SDK reader’s split of the same snapshot built at once', () => {
  const { store } = fleet(23, 2);
  for (const exponential of [false, true]) {
    const opts = { now: () => NOW, ...(exponential ? { histogramAggregation: 'base2_exponential_bucket_histogram' as const } : {}) };
    const oneShot = new StoreMetricProducer(store, opts).collectScopeMetrics();
    const self = selfScope();
    const all = [...oneShot, self];
    const total = flatten(all).length;
    assert.ok(total > 200, `enough points to cut (${total})`);
    for (const max of [1, 2, 7, 11, 64, 1000, total, total + 5]) {
      const producer = new StoreMetricProducer(store, opts);
      const streams: ScopeStream[] = [
        { scope: producer.instrumentationScope, metrics: producer.begin() },
        { scope: self.scope, metrics: self.metrics.map(arrayStream) },
      ];
      const got = incremental(streams, max);
      const want = splitMetricData({ resource: emptyResource(), scopeMetrics: all }, max).map((rm) => rm.scopeMetrics);
      // Same requests, same scopes and metrics in each, same points in the same order.
      assert.deepEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(want)), `max ${max}, exponential ${exponential}`);
      // Every point exactly once, no request above the limit.
      assert.deepEqual(got.flatMap(flatten), flatten(all));
      for (const r of got) assert.ok(flatten(r).length <= max);
    }
  }
});

test('points are built per request: a request’s worth of points, not the whole export, exists after each step', () => {
  const { store } = fleet(40, 1);
  const producer = new StoreMetricProducer(store, { now: () => NOW });
  const streams = producer.begin();
  // A stream only builds what it is asked for and resumes where it stopped.
  const sent = streams[0];
  const first = sent.take(5);
  const second = sent.take(5);
  assert.equal(first.length, 5);
  assert.equal(second.length, 5);
  assert.notDeepEqual(first[0].attributes, second[0].attributes);
  const rest = sent.take(Infinity);
  assert.equal(sent.take(10).length, 0);
  assert.equal(
    first.length + second.length + rest.length,
    new StoreMetricProducer(store, { now: () => NOW }).collectScopeMetrics()[0].metrics[0].dataPoints.length,
  );
});

type Point = DataPoint<number | Histogram>;

/** Gauge series (no temporality: not summed). */
const GAUGE = /^fleetprobe\.(probe\.last_rtt|probe\.loss_ratio|connected|http\.status_code)\|/;

/** name|attrs → point, over every request of an export. */
function byKey(requests: readonly (readonly ScopeMetrics[])[]): Map<string, Point> {
  const out = new Map<string, Point>();
  for (const scopes of requests)
    for (const sm of scopes)
      for (const m of sm.metrics)
        for (const p of m.dataPoints as Point[]) {
          const key = `${m.descriptor.name}|${Object.entries(p.attributes)
            .map(([k, v]) => `${k}=${String(v)}`)
            .sort()
            .join(',')}`;
          assert.equal(out.has(key), false, `point sent twice in one export: ${key}`);
          out.set(key, p);
        }
  return out;
}

/** A delta producer over `store` with its clock. */
function deltaPair(store: TargetStore, clock: () => number, exponential = false): { source: DeltaStoreSource; producer: StoreMetricProducer } {
  const source = new DeltaStoreSource(store, clock);
  const producer = new StoreMetricProducer(source, {
    temporality: AggregationTemporality.DELTA,
    now: () => source.snapshotTimeMs,
    ...(exponential ? { histogramAggregation: 'base2_exponential_bucket_histogram' as const } : {}),
  });
  return { source, producer };
}

const streamsOf = (p: StoreMetricProducer): ScopeStream[] => [{ scope: p.instrumentationScope, metrics: p.begin() }];

/** A histogram's or counter's value as numbers that add (counts and sum, or the value). */
function numbers(p: Point): number[] {
  const v = p.value as number | Histogram | { positive: { bucketCounts: number[] }; zeroCount: number; sum?: number; count: number };
  if (typeof v === 'number') return [v];
  if ('buckets' in v) return [...v.buckets.counts, v.sum ?? 0, v.count];
  return [v.count, v.zeroCount, v.sum ?? 0];
}

test('delta: after complete exports built request by request the state equals the one-shot exports’', () => {
  for (const exponential of [false, true]) {
    const { store, slots } = fleet(17, 1);
    let now = NOW;
    const clock = (): number => now;
    const oneShot = deltaPair(store, clock, exponential);
    const perRequest = deltaPair(store, clock, exponential);
    for (let round = 0; round < 4; round++) {
      store.applyBatch(randomBatch(100 + round, slots, 600));
      now += 1000;
      const a = byKey([oneShot.producer.collectScopeMetrics()]);
      const b = byKey(incremental(streamsOf(perRequest.producer), 13));
      assert.deepEqual(JSON.parse(JSON.stringify([...b])), JSON.parse(JSON.stringify([...a])), `round ${round}, exponential ${exponential}`);
    }
  }
});

test('delta: an export that stops midway loses nothing and sends nothing twice: the unbuilt points’ increases go with the next export', () => {
  for (const exponential of [false, true]) {
    const { store, slots } = fleet(17, 1);
    let now = NOW;
    const clock = (): number => now;
    const { producer } = deltaPair(store, clock, exponential);
    const cumulative = new StoreMetricProducer(store, {
      now: clock,
      ...(exponential ? { histogramAggregation: 'base2_exponential_bucket_histogram' as const } : {}),
    });
    const totals = new Map<string, number[]>();
    const add = (pts: Map<string, Point>): void => {
      for (const [k, p] of pts) {
        if (GAUGE.test(k)) continue;
        const n = numbers(p);
        const t = totals.get(k);
        totals.set(k, t === undefined ? n : t.map((x, i) => x + n[i]));
      }
    };
    const partialStarts = new Map<string, number>();
    for (let round = 0; round < 4; round++) {
      store.applyBatch(randomBatch(200 + round, slots, 600));
      now += 1000;
      const b = new RequestBuilder(streamsOf(producer), 9);
      const built: ScopeMetrics[][] = [];
      // Round 1: the export stops after 5 requests (a request timed out); the others complete.
      for (let r = b.next(); r !== undefined; r = round === 1 && built.length === 5 ? undefined : b.next()) {
        built.push(r);
        if (round === 1 && built.length === 5) break;
      }
      const got = byKey(built);
      if (round === 1) {
        assert.equal(built.length, 5);
        for (const k of byKey(incremental(streamsOf(new StoreMetricProducer(store, { now: clock })), 1000)).keys()) if (!got.has(k)) partialStarts.set(k, 0);
      }
      if (round === 2) {
        // A series left out of round 1 starts where its round-0 point ended, not at round 1's snapshot.
        let checked = 0;
        for (const k of partialStarts.keys()) {
          const p = got.get(k);
          if (p === undefined || GAUGE.test(k)) continue;
          assert.deepEqual(p.startTime, [Math.floor((NOW + 1000) / 1000), 0], k);
          checked++;
        }
        assert.ok(checked > 50, `series left out of the stopped export: ${checked}`);
      }
      add(got);
    }
    // Summed over the exports, every series adds up to its cumulative value: nothing lost, nothing twice.
    const final = byKey([cumulative.collectScopeMetrics()]);
    let compared = 0;
    for (const [k, want] of totals) {
      const p = final.get(k);
      assert.ok(p !== undefined, k);
      const n = numbers(p);
      want.forEach((x, i) => assert.ok(Math.abs(x - n[i]) < 1e-9, `${k} [${i}]: deltas ${x} vs cumulative ${n[i]}`));
      compared++;
    }
    assert.ok(compared > 100);
  }
});

/**
 * The history rings, exhaustively: periods close at boundaries from the store's own
 * counters, wrap around, gaps when no batch arrives, resets and reused slots, count
 * scaling, modulo-2^32 baselines, the fleet ring, the open period, the mixture used by
 * the matrix, and the memory each target costs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ErrorReason, ProbeEvent } from '../../src/protocol/events.js';
import { TargetStore, type LiveColumns, type SlotDefinition } from '../../src/aggregate/store.js';
import { History, HISTORY_QUANTILES, mixtureQuantile, newAccumulator, type HistoryStore } from '../../src/aggregate/history.js';
import { histogramQuantile } from '../../src/aggregate/histogram-quantile.js';
import { decodeRtt, encodeRtt, RTT_CODE_MAX_SECONDS, RTT_CODE_MIN_SECONDS } from '../../src/aggregate/rtt-code.js';
import { bucketIndex, DEFAULT_RTT_BUCKETS } from '../../src/aggregate/buckets.js';

const RES = 10_000;
const T0 = 1_700_000_000_000 - (1_700_000_000_000 % RES); // a period boundary
const icmp = (name: string, address = '127.0.0.1'): SlotDefinition => ({ name, kind: 'icmp', address, labels: {} });

/** A batch for one slot: `replies` RTTs (seconds), `timeouts` timeouts, `errors` errors. */
function feed(store: TargetStore, slot: number, o: { replies?: number[]; timeouts?: number; errors?: number }): void {
  const w = new BatchWriter(16);
  for (const v of o.replies ?? []) {
    w.push(slot, ProbeEvent.Sent, 0, 0, 0);
    w.push(slot, ProbeEvent.Reply, 0, 0, v);
  }
  for (let i = 0; i < (o.timeouts ?? 0); i++) {
    w.push(slot, ProbeEvent.Sent, 0, 0, 0);
    w.push(slot, ProbeEvent.Timeout, 0, 0, 0);
  }
  for (let i = 0; i < (o.errors ?? 0); i++) {
    w.push(slot, ProbeEvent.Sent, 0, 0, 0);
    w.push(slot, ProbeEvent.Error, ErrorReason.host_unreachable, 0, 0);
  }
  store.applyBatch(w.take(0, 1));
}

function setup(points = 6, slots = 1): { store: TargetStore; h: History } {
  const store = new TargetStore();
  for (let s = 0; s < slots; s++) store.defineSlot(s, icmp(`t${s}`, `127.0.0.${s + 1}`));
  const h = new History(store, { retentionMs: points * RES, resolutionMs: RES, startMs: T0 });
  return { store, h };
}

/** Within the RTT code's precision (±3.7%, plus a hair). */
function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= expected * 0.04 + 1e-12, `${what}: ${actual} vs ${expected}`);
}

test('rtt codes: 0 is "no value", the range is log-spaced, decoding is within 3.7% and monotonic', () => {
  assert.equal(encodeRtt(NaN), 0);
  assert.equal(encodeRtt(-1), 0);
  assert.ok(Number.isNaN(decodeRtt(0)));
  assert.equal(encodeRtt(0), 1);
  assert.equal(encodeRtt(RTT_CODE_MIN_SECONDS), 1);
  assert.equal(encodeRtt(RTT_CODE_MAX_SECONDS), 255);
  assert.equal(encodeRtt(1e6), 255);
  near(decodeRtt(1), RTT_CODE_MIN_SECONDS, 'code 1');
  near(decodeRtt(255), RTT_CODE_MAX_SECONDS, 'code 255');
  let prev = 0;
  for (let e = -6; e < 2; e += 0.01) {
    const v = 10 ** e;
    const c = encodeRtt(v);
    assert.ok(c >= prev, `monotonic at ${v}`);
    prev = c;
    near(decodeRtt(c), v, `round trip of ${v}`);
  }
  for (let c = 1; c < 256; c++) assert.equal(encodeRtt(decodeRtt(c)), c, `code ${c} is stable`);
});

test('histogramQuantile interpolates inside the bucket like histogram_quantile()', () => {
  const bounds = [1, 2, 4];
  // 10 in (0,1], 10 in (1,2], 0 in (2,4], 0 above.
  assert.equal(histogramQuantile(0.5, bounds, [10, 10, 0, 0]), 1);
  assert.equal(histogramQuantile(0.75, bounds, [10, 10, 0, 0]), 1.5);
  assert.equal(histogramQuantile(0.25, bounds, [10, 10, 0, 0]), 0.5);
  assert.equal(histogramQuantile(0.99, bounds, [0, 0, 0, 5]), 4, 'overflow answers the highest bound');
  assert.ok(Number.isNaN(histogramQuantile(0.5, bounds, [0, 0, 0, 0])));
  assert.equal(histogramQuantile(0.75, bounds, [99, 10, 10, 0, 0], 1), 1.5, 'offset selects the row');
  assert.equal(histogramQuantile(0.5, bounds, [99, 10, 10, 0, 0], 1, 20), 1, 'a given total is used');
});

test('nothing closes inside a period; the first batch after the boundary closes it with the counts and percentiles of that period', () => {
  const { store, h } = setup();
  const rtts = [0.0001, 0.0002, 0.0003, 0.0004, 0.001, 0.002, 0.004, 0.008, 0.016, 0.5];
  feed(store, 0, { replies: rtts, timeouts: 2, errors: 1 });
  assert.equal(h.observe(T0 + 1000), false);
  assert.equal(h.observe(T0 + RES - 1), false);
  assert.deepEqual(h.series(0).end, [], 'no closed period yet');
  const open = h.open(0);
  assert.equal(open.answered, 10);
  assert.equal(open.lost, 3);
  assert.equal(h.observe(T0 + RES + 5), true);
  const s = h.series(0);
  assert.deepEqual(s.end, [T0 + RES + 5]);
  assert.deepEqual(s.answered, [10]);
  assert.deepEqual(s.lost, [3]);
  // The percentiles are those of the period's histogram (bucketed), quantised to a code.
  const hist = new Float64Array(DEFAULT_RTT_BUCKETS.length + 1);
  for (const v of rtts) hist[bucketIndex(DEFAULT_RTT_BUCKETS, v)]++;
  for (const [k, q] of HISTORY_QUANTILES.entries()) {
    const got = [s.p50, s.p90, s.p99][k][0];
    near(got, histogramQuantile(q, DEFAULT_RTT_BUCKETS, hist), `p${q * 100}`);
  }
  // The next period only holds what came after the close.
  feed(store, 0, { replies: [0.001], timeouts: 0 });
  assert.equal(h.open(0).answered, 1);
  assert.equal(h.open(0).lost, 0);
  h.observe(T0 + 2 * RES + 1);
  assert.deepEqual(h.series(0).answered, [10, 1]);
  assert.deepEqual(h.series(0).lost, [3, 0]);
  assert.ok(s.resolutionMs === RES);
});

test('a period without answers has no percentiles (NaN), and its losses are kept', () => {
  const { store, h } = setup();
  feed(store, 0, { timeouts: 4 });
  h.observe(T0 + RES);
  const s = h.series(0);
  assert.deepEqual(s.answered, [0]);
  assert.deepEqual(s.lost, [4]);
  assert.ok(Number.isNaN(s.p50[0]) && Number.isNaN(s.p90[0]) && Number.isNaN(s.p99[0]));
});

test('wrap-around: the ring keeps the newest `points` periods, oldest first', () => {
  const P = 4;
  const { store, h } = setup(P);
  for (let k = 1; k <= P + 3; k++) {
    feed(store, 0, { replies: new Array(k).fill(0.001) });
    h.observe(T0 + k * RES);
  }
  const s = h.series(0);
  assert.equal(s.end.length, P);
  assert.deepEqual(s.answered, [4, 5, 6, 7]);
  assert.deepEqual(
    s.end,
    [4, 5, 6, 7].map((k) => T0 + k * RES),
  );
  assert.equal(h.fleetSeries().end.length, P);
});

test('gaps: periods in which no batch arrived are missing; the next close holds everything since the last one', () => {
  const { store, h } = setup(6);
  feed(store, 0, { replies: [0.001] });
  h.observe(T0 + RES); // closes period 0
  feed(store, 0, { replies: [0.001, 0.001], timeouts: 1 });
  // No batch during periods 1, 2, 3; the next one arrives in period 4.
  h.observe(T0 + 4 * RES + 7);
  const s = h.series(0);
  assert.deepEqual(s.end, [T0 + RES, T0 + 4 * RES + 7], 'periods 2 and 3 are gaps');
  assert.deepEqual(s.answered, [1, 2]);
  assert.deepEqual(s.lost, [0, 1]);
  // The gap positions are not shown later either, after more closes.
  feed(store, 0, { replies: [0.001] });
  h.observe(T0 + 5 * RES);
  assert.equal(h.series(0).end.length, 3);
  assert.equal(h.fleetSeries().end.length, 3);
});

test('a gap longer than the ring leaves only the newest period', () => {
  const P = 3;
  const { store, h } = setup(P);
  for (let k = 1; k <= 3; k++) {
    feed(store, 0, { replies: [0.001] });
    h.observe(T0 + k * RES);
  }
  assert.equal(h.series(0).end.length, 3);
  feed(store, 0, { replies: [0.001, 0.002] });
  h.observe(T0 + 50 * RES);
  assert.deepEqual(h.series(0).answered, [2]);
});

test('a clock that goes back closes nothing until it passes the open period again', () => {
  const { store, h } = setup();
  feed(store, 0, { replies: [0.001] });
  h.observe(T0 + RES);
  assert.equal(h.observe(T0 - 5 * RES), false);
  assert.equal(h.observe(T0 + RES + 10), false);
  assert.equal(h.series(0).end.length, 1);
});

test('a slot reused by another target starts over; the same target redefined carries on; a released slot has no series', () => {
  const { store, h } = setup(6, 2);
  feed(store, 0, { replies: [0.001, 0.001] });
  feed(store, 1, { replies: [0.001] });
  h.observe(T0 + RES);
  // Same target again (labels change only): counters and history carry on.
  store.defineSlot(0, { ...icmp('t0', '127.0.0.1'), labels: { rack: 'r1' } });
  feed(store, 0, { replies: [0.001] });
  h.observe(T0 + 2 * RES);
  assert.deepEqual(h.series(0).answered, [2, 1]);
  // Another target in slot 1: its history starts from scratch, counted from zero.
  feed(store, 1, { replies: [0.001, 0.001, 0.001] });
  store.defineSlot(1, icmp('other', '127.0.0.9'));
  assert.deepEqual(h.series(1).end, [], "the old target's periods are not the new one's");
  assert.equal(h.open(1).answered, 0, 'the new target has answered nothing yet');
  feed(store, 1, { replies: [0.002] });
  assert.equal(h.open(1).answered, 1);
  h.observe(T0 + 3 * RES);
  assert.deepEqual(h.series(1).answered, [1]);
  assert.deepEqual(h.series(1).end, [T0 + 3 * RES]);
  // Released: no series; defined again later (a new target as far as the store goes): from scratch.
  store.releaseSlot(0);
  assert.deepEqual(h.series(0).end, []);
  assert.equal(h.open(0).answered, 0);
  h.observe(T0 + 4 * RES);
  store.defineSlot(0, icmp('t0', '127.0.0.1'));
  feed(store, 0, { replies: [0.001] });
  h.observe(T0 + 5 * RES);
  assert.deepEqual(h.series(0).answered, [1]);
});

test('a target defined in the middle of the ring starts its series where it was first seen', () => {
  const { store, h } = setup(6, 1);
  feed(store, 0, { replies: [0.001] });
  h.observe(T0 + RES);
  h.observe(T0 + 2 * RES);
  store.defineSlot(40, icmp('late', '127.0.0.40')); // grows the rings past their first capacity
  feed(store, 40, { replies: [0.003, 0.003], timeouts: 1 });
  h.observe(T0 + 3 * RES);
  const s = h.series(40);
  assert.deepEqual(s.end, [T0 + 3 * RES]);
  assert.deepEqual(s.answered, [2]);
  assert.deepEqual(s.lost, [1]);
  assert.deepEqual(h.series(0).answered, [1, 0, 0]);
  assert.ok(h.slotCapacity >= 41);
});

test('more than 65535 probes in a period are scaled together, keeping the loss ratio', () => {
  const { store, h } = setup();
  const w = new BatchWriter(1 << 17);
  for (let i = 0; i < 90_000; i++) w.push(0, ProbeEvent.Reply, 0, 0, 0.001);
  for (let i = 0; i < 10_000; i++) w.push(0, ProbeEvent.Timeout, 0, 0, 0);
  store.applyBatch(w.take(0, 1));
  h.observe(T0 + RES);
  const s = h.series(0);
  assert.equal(s.answered[0] + s.lost[0], 65535);
  assert.ok(Math.abs(s.lost[0] / 65535 - 0.1) < 1e-4, `loss ratio ${s.lost[0] / 65535}`);
});

/** A store stand-in whose counters we can set past 2^32 (a real one would need billions of records). */
class BigCounterStore implements HistoryStore {
  readonly buckets = Float64Array.from([0.001, 0.01]);
  readonly cols: LiveColumns = {
    highWater: 1,
    stride: 3,
    buckets: this.buckets,
    defined: Uint8Array.from([1]),
    sent: new Float64Array(1),
    received: new Float64Array(1),
    timeouts: new Float64Array(1),
    late: new Float64Array(1),
    duplicates: new Float64Array(1),
    errors: [],
    errorColumns: [],
    rttBuckets: new Float64Array(3),
    rttSum: new Float64Array(1),
    lastRtt: new Float64Array(1),
  };
  liveColumns(): LiveColumns {
    return this.cols;
  }
  slotEpoch(): number {
    return 1;
  }
}

test('baselines are kept modulo 2^32: differences stay exact when counters pass 2^32', () => {
  const st = new BigCounterStore();
  const h = new History(st, { retentionMs: 3 * RES, resolutionMs: RES, startMs: T0 });
  st.cols.received[0] = 2 ** 32 - 5;
  st.cols.rttBuckets[0] = 2 ** 32 - 5;
  st.cols.timeouts[0] = 2 ** 33 - 1;
  h.observe(T0 + RES);
  st.cols.received[0] += 12;
  st.cols.rttBuckets[0] += 12;
  st.cols.timeouts[0] += 3;
  h.observe(T0 + 2 * RES);
  const s = h.series(0);
  assert.equal(s.answered[1], 12);
  assert.equal(s.lost[1], 3);
  near(s.p50[1], 0.0005, 'p50 inside the first bucket');
});

test('the fleet ring sums every target and takes its percentiles from the summed histogram', () => {
  const { store, h } = setup(6, 3);
  feed(store, 0, { replies: [0.0001, 0.0001, 0.0001, 0.0001], timeouts: 1 });
  feed(store, 1, { replies: [0.0001, 0.0001, 0.0001, 0.0001, 0.0001] });
  feed(store, 2, { replies: [0.5], errors: 2 });
  h.observe(T0 + RES);
  const f = h.fleetSeries();
  assert.deepEqual(f.answered, [10]);
  assert.deepEqual(f.lost, [3]);
  assert.deepEqual(f.targets, [3]);
  const hist = new Float64Array(DEFAULT_RTT_BUCKETS.length + 1);
  hist[bucketIndex(DEFAULT_RTT_BUCKETS, 0.0001)] = 9;
  hist[bucketIndex(DEFAULT_RTT_BUCKETS, 0.5)] = 1;
  assert.ok(Math.abs(f.p50[0] - histogramQuantile(0.5, DEFAULT_RTT_BUCKETS, hist)) < 1e-9);
  assert.ok(Math.abs(f.p99[0] - histogramQuantile(0.99, DEFAULT_RTT_BUCKETS, hist)) < 1e-6);
  assert.ok(f.p99[0] > 0.25, 'the slow target shows in the fleet p99');
});

test("accumulate: a window adds whole periods ending in it plus the open one; one target's mixture gives back its own percentiles", () => {
  const { store, h } = setup(6, 2);
  const rtts = Array.from({ length: 100 }, (_, i) => 0.0001 * (i + 1));
  feed(store, 0, { replies: rtts, timeouts: 10 });
  h.observe(T0 + RES);
  feed(store, 0, { replies: [0.001], timeouts: 5 });
  h.observe(T0 + 2 * RES);
  feed(store, 0, { timeouts: 1 }); // open period
  const all = newAccumulator();
  h.accumulate(0, T0, all);
  assert.equal(all.answered, 101);
  assert.equal(all.lost, 16);
  const last = newAccumulator();
  h.accumulate(0, T0 + RES + 1, last);
  assert.equal(last.answered, 1);
  assert.equal(last.lost, 6);
  // The mixture of one target with one closed period (and an empty open one).
  const one = newAccumulator();
  feed(store, 1, { replies: rtts });
  h.observe(T0 + 3 * RES);
  h.accumulate(1, T0, one);
  const s1 = h.series(1);
  const k = s1.end.length - 1;
  assert.deepEqual(s1.answered, [0, 0, 100], 'slot 1 answered only in the last period');
  assert.equal(mixtureQuantile(one, 0.5), s1.p50[k]);
  assert.equal(mixtureQuantile(one, 0.9), s1.p90[k]);
  assert.equal(mixtureQuantile(one, 0.99), s1.p99[k]);
  assert.ok(Number.isNaN(mixtureQuantile(newAccumulator(), 0.99)));
  // Two targets merged: the 0.99 quantile is the slower target's p99 when it holds enough of the answers.
  const both = newAccumulator();
  h.accumulate(0, T0 + 2 * RES + 1, both);
  h.accumulate(1, T0 + 2 * RES + 1, both);
  assert.equal(both.answered, 100);
  assert.equal(mixtureQuantile(both, 0.99), s1.p99[k]);
});

test('memory: each slot costs 5 bytes per period plus its baselines (700 bytes with the defaults; 940 with 16-bit counts)', () => {
  assert.equal(History.bytesPerTarget(120, DEFAULT_RTT_BUCKETS.length), 700);
  assert.equal(History.bytesPerTarget(120, DEFAULT_RTT_BUCKETS.length, 2), 940);
  const { store, h } = setup(120, 1);
  h.observe(T0 + RES);
  const small = h.memoryBytes();
  const cap = h.slotCapacity;
  assert.equal(cap, 64, 'room for 64 slots after the first close');
  store.defineSlot(9999, icmp('far', '127.0.9.9'));
  h.observe(T0 + 2 * RES);
  const grown = h.slotCapacity;
  assert.ok(grown >= 10_000 && grown < 10_064, `capacity follows the slots in use (${grown})`);
  assert.equal(h.memoryBytes() - small, (grown - cap) * h.bytesPerTarget());
  assert.equal(h.bytesPerTarget(), 700);
  // Growing by a little more: at least a quarter, so adding targets one reload at a time does not copy each time.
  store.defineSlot(10_100, icmp('farther', '127.0.9.10'));
  h.observe(T0 + 3 * RES);
  assert.equal(h.slotCapacity, Math.ceil((grown * 1.25) / 64) * 64);
});

test('the constructor refuses a retention that is not a whole number of periods', () => {
  const store = new TargetStore();
  assert.throws(() => new History(store, { retentionMs: 15_000, resolutionMs: RES }), /whole number/);
  assert.throws(() => new History(store, { retentionMs: 0, resolutionMs: RES }), /whole number/);
  assert.throws(() => new History(store, { retentionMs: RES, resolutionMs: 0 }), /resolution/);
  const h = new History(store, { retentionMs: 3600_000, resolutionMs: 30_000 });
  assert.equal(h.points, 120);
  assert.equal(h.retentionMs, 3600_000);
});

test('windowQuantile of one target equals the quantile of its accumulated mixture, over closed and open periods', () => {
  const { store, h } = setup(10, 2);
  const scratch = h.newQuantileScratch();
  const cols = () => store.liveColumns();
  assert.ok(Number.isNaN(h.windowQuantile(0, T0, 0.99, cols(), scratch)), 'no answers yet');
  feed(store, 0, { replies: Array.from({ length: 50 }, (_, i) => 0.0001 * (1 + (i % 7))) });
  h.observe(T0 + RES);
  feed(store, 0, { replies: [0.02, 0.03, 0.0002], timeouts: 2 });
  h.observe(T0 + 2 * RES);
  feed(store, 0, { replies: [0.5] }); // open period
  feed(store, 1, { timeouts: 3 });
  for (const since of [T0, T0 + RES + 1, T0 + 5 * RES]) {
    for (const q of [0.5, 0.9, 0.99]) {
      const acc = newAccumulator();
      h.accumulate(0, since, acc);
      assert.equal(h.windowQuantile(0, since, q, cols(), scratch), mixtureQuantile(acc, q), `since ${since - T0}, q ${q}`);
    }
  }
  // The scratch is left clean: a target with no answers still gives NaN afterwards.
  assert.ok(Number.isNaN(h.windowQuantile(1, T0, 0.99, cols(), scratch)));
  assert.ok(scratch.weights.every((w) => w === 0));
  assert.ok(Number.isNaN(h.windowQuantile(7, T0, 0.99, cols(), scratch)), 'an undefined slot');
});

test('counts are bytes until one does not fit: then both rings become 16-bit, every count stored so far kept', () => {
  const { store, h } = setup(6, 2);
  feed(store, 0, { replies: [0.001, 0.002], timeouts: 3 });
  feed(store, 1, { replies: new Array<number>(255).fill(0.001) });
  h.observe(T0 + RES);
  assert.equal(h.bytesPerTarget(), History.bytesPerTarget(6, DEFAULT_RTT_BUCKETS.length, 1));
  const narrow = h.memoryBytes();
  // 300 answered and 256 lost in one period: neither fits a byte.
  feed(store, 0, { replies: new Array<number>(300).fill(0.004), timeouts: 256 });
  h.observe(T0 + 2 * RES);
  assert.equal(h.bytesPerTarget(), History.bytesPerTarget(6, DEFAULT_RTT_BUCKETS.length, 2));
  assert.equal(h.memoryBytes() - narrow, 2 * 6 * h.slotCapacity);
  const s0 = h.series(0);
  const s1 = h.series(1);
  assert.deepEqual(s0.answered.slice(-2), [2, 300]);
  assert.deepEqual(s0.lost.slice(-2), [3, 256]);
  assert.deepEqual(s1.answered.slice(-2), [255, 0]);
  // Scaling to 16 bits still applies past 65535.
  feed(store, 0, { replies: new Array<number>(70_000).fill(0.001) });
  h.observe(T0 + 3 * RES);
  assert.equal(h.series(0).answered.at(-1), 65535);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ExponentialHistogram } from '@opentelemetry/sdk-metrics';
import { ExpHistogramColumns, MAX_SCHEMA, MIN_SCHEMA, MIN_WINDOW, type ExpHistogramColumnsView } from '../../src/aggregate/exp-histogram.js';
import { exponentialHistogramValue, otlpIndex, subtractPrevious } from '../../src/metrics/otel-exp-histogram.js';

/** One slot (slot 1 of 3, so slot arithmetic is exercised) holding `values`. */
function hist(values: readonly number[], schema = 3, window = MIN_WINDOW): ExpHistogramColumns {
  const h = new ExpHistogramColumns(3, schema, window);
  for (const v of values) h.observe(1, v);
  return h;
}
const snap = (h: ExpHistogramColumns): ExpHistogramColumnsView => h.snapshot(3);
/** A live histogram is read through its snapshot (Float64 counts, what the exporters get). */
const value = (h: ExpHistogramColumnsView | ExpHistogramColumns, sum = 0): ExponentialHistogram =>
  exponentialHistogramValue(h instanceof ExpHistogramColumns ? snap(h) : h, 1, sum);

/**
 * The OTLP buckets as absolute index → count (zeros left out), by the OTLP definition
 * alone: bucket k of a point is positive.offset + its position.
 */
function otlpBuckets(v: ExponentialHistogram): Map<number, number> {
  const m = new Map<number, number>();
  v.positive.bucketCounts.forEach((c, j) => {
    if (c !== 0) m.set(v.positive.offset + j, c);
  });
  return m;
}

/** OTLP buckets at scale `from` merged down to scale `to` (OTLP spec: k → floor(k / 2) per step). */
function downscaleOtlp(m: Map<number, number>, from: number, to: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const [k, c] of m) {
    const j = Math.floor(k / 2 ** (from - to));
    out.set(j, (out.get(j) ?? 0) + c);
  }
  return out;
}

/** Does OTLP bucket k at `scale`, (base^k, base^(k+1)], hold v? Computed from the spec's formula, not the store's tables. */
function otlpBucketHolds(k: number, scale: number, v: number): boolean {
  const lo = 2 ** (k * 2 ** -scale);
  const hi = 2 ** ((k + 1) * 2 ** -scale);
  return lo < v && v <= hi;
}

test('a power of two is the inclusive upper bound of its OTLP bucket: k = m·2^scale − 1, at every scale', () => {
  for (let s = MIN_SCHEMA; s <= MAX_SCHEMA; s++) {
    for (const m of [-20, -10, -7, -1, 0, 1, 3, 10]) {
      const v = 2 ** m;
      const got = value(hist([v], s));
      assert.equal(got.scale, s);
      assert.equal(got.count, 1);
      assert.equal(got.positive.bucketCounts.length, 1, `scale ${s}, 2^${m}`);
      assert.deepEqual(got.positive.bucketCounts, [1]);
      // At scale ≤ 0 a bucket spans 2^(2^−s) powers of two: 2^m is the top of bucket ceil(m / 2^−s) − 1.
      const want = s >= 0 ? m * 2 ** s - 1 : Math.ceil(m / 2 ** -s) - 1;
      assert.equal(got.positive.offset, want, `scale ${s}, 2^${m}`);
    }
  }
});

test('every value lands in the OTLP bucket whose (base^k, base^(k+1)] holds it, off by one in neither direction', () => {
  let checked = 0;
  for (let s = MIN_SCHEMA; s <= MAX_SCHEMA; s++) {
    for (let e = -40; e <= 40; e++) {
      // Values between boundaries (not on them: the spec's float formula is exact only there).
      for (const f of [1.01, 1.3, 1.5, 1.77, 1.97]) {
        const v = f * 2 ** (e / 4);
        const got = value(hist([v], s));
        const k = got.positive.offset;
        assert.ok(otlpBucketHolds(k, s, v), `scale ${s}: ${v} in bucket ${k}`);
        assert.ok(!otlpBucketHolds(k - 1, s, v) && !otlpBucketHolds(k + 1, s, v));
        checked++;
      }
    }
  }
  assert.ok(checked > 2000);
});

test('otlpIndex is the native index minus one', () => {
  assert.equal(otlpIndex(0), -1);
  assert.equal(otlpIndex(1), 0);
  assert.equal(otlpIndex(-5), -6);
});

test('zero bucket: observations of 0 are zero_count, counted in count and in no positive bucket', () => {
  const got = value(hist([0, 0, 1, 0]), 0.0);
  assert.equal(got.zeroCount, 3);
  assert.equal(got.count, 4);
  assert.deepEqual(got.positive, { offset: -1, bucketCounts: [1] });
  const onlyZeros = value(hist([0, 0]));
  assert.deepEqual(onlyZeros, {
    count: 2,
    sum: 0,
    scale: 3,
    zeroCount: 2,
    positive: { offset: 0, bucketCounts: [] },
    negative: { offset: 0, bucketCounts: [] },
  });
});

test('an empty histogram: count 0, no buckets, the schema as scale', () => {
  assert.deepEqual(value(hist([], 5), 0), {
    count: 0,
    sum: 0,
    scale: 5,
    zeroCount: 0,
    positive: { offset: 0, bucketCounts: [] },
    negative: { offset: 0, bucketCounts: [] },
  });
});

test('gaps inside the populated range are zeros; the run starts and ends on non-zero buckets', () => {
  // Scale 3: 1 → k −1; 1.5 → k 4 (2^(4/8) = 1.414 < 1.5 ≤ 2^(5/8) = 1.542); 2 → k 7.
  const got = value(hist([1, 1.5, 1.5, 2, 2, 2]), 7.5);
  assert.equal(got.positive.offset, -1);
  assert.deepEqual(got.positive.bucketCounts, [1, 0, 0, 0, 0, 2, 0, 0, 3]);
  assert.ok(otlpBucketHolds(4, 3, 1.5));
  assert.equal(got.count, 6);
  assert.equal(got.sum, 7.5);
  assert.deepEqual(got.negative, { offset: 0, bucketCounts: [] });
  // Σ buckets + zero_count = count.
  assert.equal(
    got.positive.bucketCounts.reduce((a, b) => a + b, 0),
    got.count - got.zeroCount,
  );
});

test('after the window coarsened, scale is the slot’s current schema and the buckets still hold every value', () => {
  const values = [0.00001, 0.001, 0.1, 10];
  const h = hist(values, 3);
  assert.ok(h.schema[1] < 3, 'the spread forced a coarser schema');
  const got = value(h);
  assert.equal(got.scale, h.schema[1]);
  assert.equal(got.count, 4);
  const m = otlpBuckets(got);
  for (const v of values)
    assert.ok(
      [...m.keys()].some((k) => otlpBucketHolds(k, got.scale, v)),
      `${v} has its bucket`,
    );
});

// ---- deltas ------------------------------------------------------------------------------

/** Increase of `later` over `earlier` as OTLP buckets, through subtractPrevious. */
function delta(earlier: ExpHistogramColumnsView, later: ExpHistogramColumnsView): ExponentialHistogram {
  assert.equal(subtractPrevious(later, earlier, 1, new Float64Array(later.window)), true);
  return value(later);
}

/** The first observations, a snapshot, then the second ones, a snapshot: the delta must equal a histogram of the second ones alone. */
function checkDelta(first: number[], second: number[], schema = 3): { d: ExponentialHistogram; a: ExpHistogramColumnsView; b: ExpHistogramColumnsView } {
  const h = hist(first, schema);
  const a = snap(h);
  for (const v of second) h.observe(1, v);
  const b = snap(h);
  const bCopy = snap(h);
  const d = delta(a, b);
  const alone = value(hist(second, schema));
  assert.equal(d.count, second.length);
  assert.equal(d.zeroCount, alone.zeroCount);
  assert.equal(d.scale, bCopy.schema[1]);
  // The observations alone may keep a finer schema than the cumulative slot: compare at the delta's.
  assert.deepEqual(otlpBuckets(d), downscaleOtlp(otlpBuckets(alone), alone.scale, d.scale));
  // Compact: the run starts and ends on a non-zero bucket.
  if (d.positive.bucketCounts.length > 0) {
    assert.notEqual(d.positive.bucketCounts[0], 0);
    assert.notEqual(d.positive.bucketCounts.at(-1), 0);
  }
  return { d, a, b: bCopy };
}

test('delta of two cumulative states in the same window: bucket-wise differences', () => {
  const { d } = checkDelta([1, 1.5, 2], [1.5, 1.5, 2, 0]);
  assert.deepEqual(d.positive, { offset: 4, bucketCounts: [2, 0, 0, 1] });
  assert.equal(d.zeroCount, 1);
});

test('delta when the window moved between the two states (different first cell): compared by absolute index', () => {
  // Window of 16 at scale 3 = two powers of two; 1 then 0.7 moves it down, 0.5 then 1.6 up.
  const { a, b } = checkDelta([1, 1.2], [0.7, 0.7, 1.2]);
  assert.notEqual(a.first[1], b.first[1], 'the window moved');
  assert.equal(a.schema[1], b.schema[1]);
  // Moved upward too.
  const up = checkDelta([0.5, 0.51], [1.6, 0.5]);
  assert.notEqual(up.a.first[1], up.b.first[1]);
});

test('delta when the schema went down between the two states: the earlier state is merged first', () => {
  const { a, b, d } = checkDelta([1, 1.1, 1.2, 1.3], [1000, 1.05]);
  assert.ok(b.schema[1] < a.schema[1], `schema ${a.schema[1]} → ${b.schema[1]}`);
  assert.equal(d.count, 2);
  // And from an empty earlier state, and with nothing new.
  checkDelta([], [0.001, 5, 0]);
  const none = checkDelta([0.5, 0, 2], []);
  assert.deepEqual(none.d.positive, { offset: 0, bucketCounts: [] });
  assert.equal(none.d.count, 0);
});

test('delta over random observation sequences at every starting scale equals the histogram of the new observations', () => {
  let seed = 7;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let s = MIN_SCHEMA; s <= MAX_SCHEMA; s++) {
    for (let round = 0; round < 20; round++) {
      const draw = (n: number): number[] => Array.from({ length: n }, () => (rnd() < 0.05 ? 0 : 10 ** (-6 + rnd() * (1 + (round % 7)))));
      checkDelta(draw(1 + (round % 5)), draw(round % 9), s);
    }
  }
});

test('subtractPrevious refuses a state that cannot be earlier, and leaves the later one untouched', () => {
  const scratch = new Float64Array(MIN_WINDOW);
  const later = snap(hist([1, 1.5]));
  const copy = (x: ExpHistogramColumnsView): string => JSON.stringify([Array.from(x.counts), Array.from(x.zero), Array.from(x.first), Array.from(x.schema)]);
  const before = copy(later);
  // More in a bucket than the later state has.
  assert.equal(subtractPrevious(later, snap(hist([1, 1, 1.5])), 1, scratch), false);
  // More zeros.
  assert.equal(subtractPrevious(later, snap(hist([0, 1])), 1, scratch), false);
  // A bucket the later state has not got (outside its window).
  assert.equal(subtractPrevious(later, snap(hist([100])), 1, scratch), false);
  // A coarser earlier schema than the later one (schemas only go down).
  assert.equal(subtractPrevious(later, snap(hist([1], 2)), 1, scratch), false);
  assert.equal(copy(later), before);
  // Different window sizes are a programming error.
  assert.throws(() => subtractPrevious(later, snap(hist([1], 3, MIN_WINDOW + 1)), 1, scratch), RangeError);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_NATIVE_SCHEMA,
  DEFAULT_NATIVE_WINDOW,
  EMPTY,
  ExpHistogramColumns,
  MAX_SCHEMA,
  MAX_VALUE,
  MIN_SCHEMA,
  ZERO_THRESHOLD,
  bucketIndexFor,
  bucketLowerBound,
  bucketUpperBound,
  populatedCells,
  type ExpHistogramColumnsView,
} from '../../src/aggregate/exp-histogram.js';

const f64 = new Float64Array(1);
const i64 = new BigInt64Array(f64.buffer);
/** The next double above / below a positive finite v. */
function nextUp(v: number): number {
  f64[0] = v;
  i64[0] += 1n;
  return f64[0];
}
function nextDown(v: number): number {
  f64[0] = v;
  i64[0] -= 1n;
  return f64[0];
}

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SCHEMAS = Array.from({ length: MAX_SCHEMA - MIN_SCHEMA + 1 }, (_, k) => MIN_SCHEMA + k);

test('known indexes: 1 is the upper bound of bucket 0, 2 of bucket 2^schema; values between go up', () => {
  for (const s of SCHEMAS) {
    assert.equal(bucketIndexFor(1, s), 0, `schema ${s}: 1`);
    if (s >= 0) assert.equal(bucketIndexFor(2, s), 2 ** s, `schema ${s}: 2`);
    assert.equal(bucketIndexFor(nextUp(1), s), 1, `schema ${s}: just above 1`);
    assert.equal(bucketIndexFor(nextDown(1), s), 0, `schema ${s}: just below 1`);
  }
  // Schema 3: ceil(log2(v) * 8).
  assert.equal(bucketIndexFor(1.5, 3), 5);
  assert.equal(bucketIndexFor(0.001, 3), -79); // log2(0.001)*8 = -79.73
  assert.equal(bucketIndexFor(0.5, 3), -8);
  // Schema -1: each bucket spans a factor of 4; 4 is the bound of bucket 1, 5 is in bucket 2.
  assert.equal(bucketIndexFor(4, -1), 1);
  assert.equal(bucketIndexFor(5, -1), 2);
  assert.equal(bucketIndexFor(3, -1), 1);
});

test('every bucket boundary from 2^-40 to 2^32 lands in the bucket it bounds; one ulp above, in the next', () => {
  for (const s of SCHEMAS) {
    const perPow = 2 ** s;
    for (let i = Math.ceil(-40 * perPow); i <= 32 * perPow; i++) {
      const b = bucketUpperBound(i, s);
      assert.equal(bucketIndexFor(b, s), i, `schema ${s} bound of ${i} = ${b}`);
      assert.equal(bucketIndexFor(nextUp(b), s), i + 1, `schema ${s} just above the bound of ${i}`);
      assert.equal(bucketIndexFor(nextDown(b), s), nextDown(b) > bucketLowerBound(i, s) ? i : i - 1, `schema ${s} just below the bound of ${i}`);
    }
  }
});

test('random values lie inside the bucket their index names (lower < v <= upper), every schema', () => {
  const r = rng(7);
  for (let k = 0; k < 20_000; k++) {
    const v = 2 ** (r() * 80 - 50) * (1 + r());
    for (const s of SCHEMAS) {
      const i = bucketIndexFor(v, s);
      assert.ok(
        v <= bucketUpperBound(i, s) && v > bucketLowerBound(i, s),
        `schema ${s}: ${v} in bucket ${i} (${bucketLowerBound(i, s)}, ${bucketUpperBound(i, s)}]`,
      );
    }
  }
});

test('downscaling maps index i to ceil(i/2): the bucket at schema s-1 that holds the same values', () => {
  const r = rng(11);
  for (let k = 0; k < 5000; k++) {
    const v = 2 ** (r() * 60 - 40);
    for (let s = MIN_SCHEMA + 1; s <= MAX_SCHEMA; s++) assert.equal(bucketIndexFor(v, s - 1), Math.ceil(bucketIndexFor(v, s) / 2) + 0, `${v} at schema ${s}`);
  }
});

/** The slot's buckets as index -> count (absolute indexes at its schema). */
function bucketsOf(h: ExpHistogramColumnsView | ExpHistogramColumns, slot: number): Map<number, number> {
  const out = new Map<number, number>();
  const range = populatedCells(h, slot);
  if (range === null) return out;
  for (let c = range.lo; c <= range.hi; c++) {
    const n = h.counts[slot * h.window + c];
    if (n !== 0) out.set(h.first[slot] + c, n);
  }
  return out;
}

/** What a histogram of `values` at `schema` holds, computed directly. */
function direct(values: number[], schema: number): { zero: number; buckets: Map<number, number> } {
  const buckets = new Map<number, number>();
  let zero = 0;
  for (const v of values) {
    if (v <= ZERO_THRESHOLD) zero++;
    else {
      const i = bucketIndexFor(v, schema);
      buckets.set(i, (buckets.get(i) ?? 0) + 1);
    }
  }
  return { zero, buckets };
}

test('zero bucket: 0 and values up to 2^-128 count there, the next double does not', () => {
  const h = new ExpHistogramColumns(2);
  h.observe(0, 0);
  h.observe(0, ZERO_THRESHOLD);
  assert.equal(h.zero[0], 2);
  assert.equal(h.first[0], EMPTY, 'no positive bucket yet');
  assert.equal(populatedCells(h, 0), null);
  h.observe(0, nextUp(ZERO_THRESHOLD));
  assert.equal(h.zero[0], 2);
  assert.deepEqual([...bucketsOf(h, 0)], [[bucketIndexFor(nextUp(ZERO_THRESHOLD), DEFAULT_NATIVE_SCHEMA), 1]]);
  assert.equal(h.zero[1], 0, 'the other slot untouched');
});

test('the window follows the values: shifting left and right loses nothing while they fit', () => {
  const h = new ExpHistogramColumns(1, 3, 40);
  const values = [0.001, 0.002, 0.0005, 0.004, 0.0011, 0.003]; // a spread of 8x: 24 buckets at schema 3
  for (const v of values) h.observe(0, v);
  assert.equal(h.schema[0], 3, 'no downscale needed');
  assert.deepEqual(bucketsOf(h, 0), direct(values, 3).buckets);
  assert.equal(h.downscales, 0);
});

test('values spread wider than the window: the schema drops until they fit, and the counts equal a histogram taken at that schema', () => {
  const h = new ExpHistogramColumns(1, 3, 40);
  const values = [0.00001, 1, 0.5, 0.00002, 3, 0.1];
  for (const v of values) h.observe(0, v);
  assert.ok(h.schema[0] < 3, `downscaled, schema ${h.schema[0]}`);
  const want = direct(values, h.schema[0]);
  assert.deepEqual(bucketsOf(h, 0), want.buckets);
  const range = populatedCells(h, 0)!;
  assert.ok(range.hi - range.lo < 40);
  // And no coarser than needed: at the schema above, the values would not fit in the window.
  const finer = [...direct(values, h.schema[0] + 1).buckets.keys()];
  assert.ok(Math.max(...finer) - Math.min(...finer) >= 40, 'the schema above could not hold them');
});

test('random sequences (shifts both ways, downscales, zeros): always equal to the direct histogram at the final schema', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const r = rng(seed);
    const window = [16, 20, 40, 64][seed % 4];
    const schema = SCHEMAS[seed % SCHEMAS.length];
    const h = new ExpHistogramColumns(3, schema, window);
    const values: number[] = [];
    const center = 2 ** (r() * 40 - 30);
    const spread = 2 ** (r() * 12);
    for (let k = 0; k < 200; k++) {
      const v = r() < 0.03 ? 0 : center * spread ** (r() * 2 - 1);
      values.push(v);
      h.observe(1, v);
    }
    const want = direct(values, h.schema[1]);
    assert.deepEqual(bucketsOf(h, 1), want.buckets, `seed ${seed}`);
    assert.equal(h.zero[1], want.zero, `seed ${seed}: zero count`);
    assert.ok(h.schema[1] <= schema);
    assert.equal(bucketsOf(h, 0).size + bucketsOf(h, 2).size + h.zero[0] + h.zero[2], 0, `seed ${seed}: neighbours untouched`);
  }
});

test('the whole range (2^-127 .. 2^32) fits the smallest window at the lowest schema', () => {
  const h = new ExpHistogramColumns(1, MAX_SCHEMA, 16);
  const values = [nextUp(ZERO_THRESHOLD), MAX_VALUE, 1, 1e-20, 1e6];
  for (const v of values) h.observe(0, v);
  assert.deepEqual(bucketsOf(h, 0), direct(values, h.schema[0]).buckets);
  assert.ok(h.schema[0] >= MIN_SCHEMA);
});

test('reset empties one slot and restores its schema; grow keeps the slots and starts new ones empty', () => {
  const h = new ExpHistogramColumns(2, 3, 40);
  for (const v of [1e-5, 10, 1e-3]) h.observe(0, v);
  h.observe(1, 0.01);
  assert.ok(h.schema[0] < 3);
  h.reset(0);
  assert.equal(h.schema[0], 3);
  assert.equal(h.first[0], EMPTY);
  assert.equal(bucketsOf(h, 0).size, 0);
  h.grow(8);
  assert.deepEqual([...bucketsOf(h, 1)], [[bucketIndexFor(0.01, 3), 1]]);
  assert.equal(h.schema[7], 3);
  assert.equal(h.first[7], EMPTY);
  h.observe(7, 0.02);
  assert.deepEqual([...bucketsOf(h, 7)], [[bucketIndexFor(0.02, 3), 1]]);
});

test('a snapshot is a copy: later observations do not change it', () => {
  const h = new ExpHistogramColumns(2);
  h.observe(0, 0.001);
  const snap = h.snapshot(2);
  h.observe(0, 0.001);
  h.observe(0, 100);
  assert.equal(snap.schema[0], DEFAULT_NATIVE_SCHEMA);
  assert.deepEqual([...bucketsOf(snap, 0)], [[bucketIndexFor(0.001, DEFAULT_NATIVE_SCHEMA), 1]]);
  assert.equal(snap.window, DEFAULT_NATIVE_WINDOW);
});

test('bad schema or window is refused', () => {
  assert.throws(() => new ExpHistogramColumns(1, 9), /schema/);
  assert.throws(() => new ExpHistogramColumns(1, -5), /schema/);
  assert.throws(() => new ExpHistogramColumns(1, 3, 8), /window/);
});

test('values at every edge of the 4,096 mantissa cells of the index lookup (and one ulp either side) lie inside the bucket their index names', () => {
  for (let s = 1; s <= MAX_SCHEMA; s++) {
    for (let cell = 0; cell < 4096; cell++) {
      for (const scale of [1, 2 ** -17, 2 ** 9]) {
        const edge = (1 + cell / 4096) * scale;
        for (const v of [nextDown(edge), edge, nextUp(edge)]) {
          const i = bucketIndexFor(v, s);
          assert.ok(v <= bucketUpperBound(i, s) && v > bucketLowerBound(i, s), `schema ${s} cell ${cell}: ${v} in bucket ${i}`);
        }
      }
    }
  }
});

test('cells are 32-bit until one would pass 2^32 − 1: then every cell becomes Float64, counts kept, and snapshots are Float64 throughout', () => {
  const h = new ExpHistogramColumns(2, 3, 40);
  h.observe(0, 0.001);
  h.observe(1, 0.002);
  assert.ok(h.counts instanceof Uint32Array);
  assert.equal(h.bytes, 2 * (1 + 4 + 4 * 40 + 8));
  const cell = h.first[0] === EMPTY ? -1 : populatedCells(h, 0)!.lo;
  const k = cell; // slot 0: cell offset = index
  const narrow = h.snapshot(2);
  assert.ok(narrow.counts instanceof Float64Array);
  assert.equal(narrow.counts[k], 1);
  // Bring the cell to the 32-bit limit, then one more observation.
  h.counts[k] = 0xffffffff;
  h.observe(0, 0.001);
  assert.ok(h.counts instanceof Float64Array, 'widened');
  assert.equal(h.counts[k], 2 ** 32);
  assert.equal(h.snapshot(2).counts[k], 2 ** 32);
  assert.deepEqual([...bucketsOf(h, 1)], [[bucketIndexFor(0.002, 3), 1]], 'the other slot kept');
  h.observe(0, 0.001);
  assert.equal(h.counts[k], 2 ** 32 + 1);

  // A downscale that merges two cells past the limit widens too.
  const d = new ExpHistogramColumns(1, 3, 16);
  d.observe(0, 1.05); // bucket 1 at schema 3
  d.observe(0, 1.15); // bucket 2: with bucket 1, one bucket (1) at schema 2
  const r = populatedCells(d, 0)!;
  d.counts[r.lo] = 0xffffffff;
  d.counts[r.hi] = 0xffffffff;
  d.observe(0, 1000); // far outside 16 cells: downscales, merging the two
  assert.ok(d.counts instanceof Float64Array);
  let total = 0;
  for (let c = 0; c < 16; c++) total += d.counts[c];
  assert.equal(total, 2 * 0xffffffff + 1);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RTT_BUCKETS, bucketIndex, exponentialBuckets, validateBuckets } from '../../src/aggregate/buckets.js';
import { formatNumber } from '../../src/metrics/format.js';

test('default RTT buckets double from 50 µs and end at the first bound >= 10 s', () => {
  assert.equal(DEFAULT_RTT_BUCKETS[0], 50e-6);
  for (let i = 1; i < DEFAULT_RTT_BUCKETS.length; i++) assert.equal(DEFAULT_RTT_BUCKETS[i], DEFAULT_RTT_BUCKETS[i - 1] * 2);
  const last = DEFAULT_RTT_BUCKETS[DEFAULT_RTT_BUCKETS.length - 1];
  assert.ok(last >= 10, `last bound ${last}`);
  assert.ok(DEFAULT_RTT_BUCKETS[DEFAULT_RTT_BUCKETS.length - 2] < 10);
  assert.equal(DEFAULT_RTT_BUCKETS.length, 19);
});

test('default bounds print as short decimals (no float noise in le labels)', () => {
  const printed = Array.from(DEFAULT_RTT_BUCKETS, formatNumber);
  assert.deepEqual(printed.slice(0, 5), ['0.00005', '0.0001', '0.0002', '0.0004', '0.0008']);
  assert.equal(printed[printed.length - 1], '13.1072');
  for (const p of printed) assert.ok(p.length <= 8, p);
});

test('exponentialBuckets honours start, factor and end, and rejects nonsense', () => {
  assert.deepEqual(Array.from(exponentialBuckets(1, 10, 1000)), [1, 10, 100, 1000]);
  assert.deepEqual(Array.from(exponentialBuckets(1, 10, 999)), [1, 10, 100, 1000]);
  assert.deepEqual(Array.from(exponentialBuckets(2, 2, 2)), [2]);
  assert.throws(() => exponentialBuckets(0, 2, 1), RangeError);
  assert.throws(() => exponentialBuckets(1, 1, 10), RangeError);
  assert.throws(() => exponentialBuckets(1, 2, Infinity), RangeError);
  assert.throws(() => exponentialBuckets(5, 2, 1), RangeError);
});

test('validateBuckets accepts a sorted positive finite unique list and copies it', () => {
  const src = [0.001, 0.01, 0.1, 1];
  const v = validateBuckets(src);
  assert.deepEqual(Array.from(v), src);
  src[0] = 5;
  assert.equal(v[0], 0.001);
});

test('validateBuckets rejects empty, unsorted, duplicate, non-positive and non-finite bounds', () => {
  assert.throws(() => validateBuckets([]), /empty/);
  assert.throws(() => validateBuckets([1, 0.5]), /not greater/);
  assert.throws(() => validateBuckets([1, 1]), /duplicate/);
  assert.throws(() => validateBuckets([0, 1]), /not positive/);
  assert.throws(() => validateBuckets([-1, 1]), /not positive/);
  assert.throws(() => validateBuckets([1, Infinity]), /finite/);
  assert.throws(() => validateBuckets([NaN]), /finite/);
  assert.throws(() => validateBuckets(['1' as unknown as number]), /finite/);
});

test('bucketIndex uses le semantics: a value equal to a bound belongs to that bound', () => {
  const b = validateBuckets([1, 2, 4]);
  assert.equal(bucketIndex(b, 0), 0);
  assert.equal(bucketIndex(b, -3), 0);
  assert.equal(bucketIndex(b, 1), 0);
  assert.equal(bucketIndex(b, 1.0000001), 1);
  assert.equal(bucketIndex(b, 2), 1);
  assert.equal(bucketIndex(b, 3), 2);
  assert.equal(bucketIndex(b, 4), 2);
  assert.equal(bucketIndex(b, 4.5), 3);
  assert.equal(bucketIndex(b, Infinity), 3);
  assert.equal(bucketIndex(b, NaN), 3);
});

test('bucketIndex agrees with a linear scan over the default layout for many values', () => {
  const b = DEFAULT_RTT_BUCKETS;
  const linear = (v: number): number => {
    for (let i = 0; i < b.length; i++) if (v <= b[i]) return i;
    return b.length;
  };
  const values: number[] = [];
  for (const x of b) values.push(x, x * (1 - 1e-12), x * (1 + 1e-12), x / 1.5);
  for (let i = 0; i < 5000; i++) values.push(Math.exp(Math.log(1e-6) + (i / 5000) * Math.log(1e8)));
  for (const v of values) assert.equal(bucketIndex(b, v), linear(v), `value ${v}`);
});

test('bucketIndex works for a single-bound layout', () => {
  const b = validateBuckets([0.5]);
  assert.equal(bucketIndex(b, 0.1), 0);
  assert.equal(bucketIndex(b, 0.5), 0);
  assert.equal(bucketIndex(b, 0.6), 1);
});

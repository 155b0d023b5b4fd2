import { test } from 'node:test';
import assert from 'node:assert/strict';
import { histogramQuantile, percentile, subtractCounts } from '../../load-tests/quantiles.js';

test('percentile interpolates between the two nearest ranks of sorted values', () => {
  assert.equal(percentile([3, 1, 2], 0.5), 2);
  assert.equal(percentile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(percentile([10, 20], 0.99), 19.9);
  assert.equal(percentile([7], 0.99), 7);
  assert.ok(Number.isNaN(percentile([], 0.5)));
});

test('histogramQuantile interpolates linearly inside the bucket that holds the rank', () => {
  // 10 values in (0,1], 10 in (1,2]: the median is the top of the first bucket.
  assert.equal(histogramQuantile([1, 2], [10, 20], 20, 0.5), 1);
  // rank 15 is halfway through the second bucket.
  assert.equal(histogramQuantile([1, 2], [10, 20], 20, 0.75), 1.5);
  // first bucket starts at 0.
  assert.equal(histogramQuantile([4, 8], [4, 4], 4, 0.5), 2);
});

test('histogramQuantile skips empty buckets and uses the last finite bound for ranks in +Inf', () => {
  assert.equal(histogramQuantile([1, 2, 3], [0, 0, 10], 10, 0.5), 2.5);
  assert.equal(histogramQuantile([1, 2], [1, 1], 10, 0.99), 2);
  assert.ok(Number.isNaN(histogramQuantile([1, 2], [0, 0], 0, 0.5)));
  assert.throws(() => histogramQuantile([1, 2], [1], 1, 0.5), RangeError);
});

test('subtractCounts gives the window delta of cumulative counters', () => {
  assert.deepEqual([...subtractCounts([5, 9, 12], [1, 2, 3])], [4, 7, 9]);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interarrivalJitter, lossRatio, quantileSorted, reorderedCount, summarizeRtts } from '../../src/protocol/ondemand/stats.js';
import { newTally, summarize } from '../../src/protocol/ondemand/result.js';

const close = (a: number, b: number, what: string, eps = 1e-12): void => assert.ok(Math.abs(a - b) <= eps, `${what}: ${a} != ${b}`);

test('quantiles interpolate linearly between closest ranks (R-7)', () => {
  const s = [1, 2, 3, 4];
  close(quantileSorted(s, 0), 1, 'p0');
  close(quantileSorted(s, 1), 4, 'p100');
  close(quantileSorted(s, 0.5), 2.5, 'p50');
  close(quantileSorted(s, 0.9), 3.7, 'p90'); // pos 2.7
  close(quantileSorted([5], 0.99), 5, 'single sample');
  assert.ok(Number.isNaN(quantileSorted([], 0.5)));
  // 1..100: p99 at position 98.01 -> 99.01
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  close(quantileSorted(hundred, 0.99), 99.01, 'p99 of 1..100', 1e-9);
  close(quantileSorted(hundred, 0.5), 50.5, 'p50 of 1..100');
});

test('summary: min/avg/max, population stddev, percentiles of unsorted input', () => {
  assert.equal(summarizeRtts([]), null);
  const r = summarizeRtts([4, 2, 9, 4, 5, 4, 7, 5])!; // the textbook set: mean 5, population sd 2
  close(r.avg, 5, 'avg');
  close(r.stddev, 2, 'stddev');
  assert.equal(r.min, 2);
  assert.equal(r.max, 9);
  close(r.p50, 4.5, 'p50');
  const one = summarizeRtts([0.25])!;
  assert.deepEqual(one, { min: 0.25, avg: 0.25, max: 0.25, stddev: 0, p50: 0.25, p90: 0.25, p99: 0.25 });
});

test('RFC 3550 jitter: J += (|D| - J)/16 over consecutive transit differences', () => {
  assert.equal(interarrivalJitter([]), 0);
  assert.equal(interarrivalJitter([0.01]), 0);
  assert.equal(interarrivalJitter([0.01, 0.01, 0.01]), 0, 'a constant delay has no jitter');
  // Hand-computed: D = 0.016, then 0.016: J1 = 0.001, J2 = 0.001 + (0.016-0.001)/16 = 0.0019375
  close(interarrivalJitter([0.01, 0.026, 0.01]), 0.0019375, 'two steps', 1e-15);
  // Alternating by d converges to d (the estimator's fixed point for a constant |D|).
  const alt = Array.from({ length: 2000 }, (_, i) => (i % 2 === 0 ? 0.01 : 0.012));
  close(interarrivalJitter(alt), 0.002, 'converges to |D|', 1e-9);
  // Only differences count, not the level: the same series shifted has the same jitter.
  close(interarrivalJitter([1.01, 1.026, 1.01]), interarrivalJitter([0.01, 0.026, 0.01]), 'shift-invariant', 1e-12);
});

test('reordering (RFC 4737): a reply below the highest sequence seen so far', () => {
  assert.equal(reorderedCount([]), 0);
  assert.equal(reorderedCount([1, 2, 3, 4]), 0);
  assert.equal(reorderedCount([1, 3, 2, 4]), 1, '2 arrived after 3');
  assert.equal(reorderedCount([4, 1, 2, 3]), 3, 'everything after 4 is late');
  assert.equal(reorderedCount([1, 2, 5, 3, 4, 6]), 2);
  assert.equal(reorderedCount([2, 1]), 1);
  // Lost probes leave gaps but are not reordering.
  assert.equal(reorderedCount([1, 3, 7, 9]), 0);
});

test('loss ratio and the result of a tally', () => {
  assert.equal(lossRatio(0, 0), 0);
  assert.equal(lossRatio(10, 8), 0.2);
  assert.equal(lossRatio(10, 10), 0);
  const t = newTally();
  t.sent = 5;
  t.received = 4;
  t.timeouts = 1;
  t.duplicates = 2;
  t.rtts = [0.01, 0.02, 0.01, 0.03];
  t.seqs = [1, 3, 2, 4];
  t.errors = { refused: 0 };
  const udp = summarize('udp', t);
  assert.equal(udp.loss_ratio, 0.2);
  assert.equal(udp.reordered, 1);
  assert.equal(udp.duplicates, 2);
  assert.equal(udp.bytes_received, undefined, 'no throughput for udp');
  assert.equal(udp.rtt_seconds!.max, 0.03);
  const h = newTally();
  h.sent = h.received = 2;
  h.rtts = [0.5, 0.5];
  h.bodyBytes = 2000;
  h.transferSeconds = 1;
  const http = summarize('http', h);
  assert.equal(http.throughput_bytes_per_second, 2000);
  assert.equal(http.bytes_received, 2000);
  assert.equal(http.reordered, undefined, 'no reordering for http');
  assert.equal(summarize('http', newTally()).throughput_bytes_per_second, 0, 'nothing answered: 0, not NaN');
});

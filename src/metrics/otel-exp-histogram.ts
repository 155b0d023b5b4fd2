/**
 * The store's exponential histograms (aggregate/exp-histogram.ts: the Prometheus
 * native histogram's buckets) as OTLP ExponentialHistogram values, cumulative or as
 * the increase over a previous cumulative state. Pure: no I/O.
 *
 * Same buckets, two index conventions. Both formats split each power of two into
 * 2^scale buckets of base 2^(2^−scale), so OTLP's scale IS the native schema. But a
 * native bucket index i covers (base^(i−1), base^i] while an OTLP bucket index k
 * covers (base^k, base^(k+1)]: the same bucket is k = i − 1. Upper bounds are
 * inclusive in both, so nothing else moves.
 *
 * What a value carries: scale, zero_count (the store's zero bucket), the positive
 * buckets as one dense run from the lowest to the highest non-zero bucket (gaps
 * inside it as zeros: a window is at most `window` cells, 40 by default, and one
 * target's RTTs cluster), count = zero_count + Σ buckets, and the sum given by the
 * caller (the classic histogram's sum column: the same observations). No negative
 * buckets (an RTT is never negative) and no min/max (the store keeps neither).
 * zero_threshold is not carried: the OTel JS serializers do not write that field, so
 * the collector reads 0 ("exactly zero"). The store's threshold is 2^−128 s, so the
 * zero bucket holds an RTT of exactly 0 and nothing a clock can measure above it.
 */
import type { ExponentialHistogram } from '@opentelemetry/sdk-metrics';
import { EMPTY, populatedCells, type ExpHistogramColumnsView } from '../aggregate/exp-histogram.js';

/** OTLP bucket index of the store's (native) bucket index `i`: see the file header. */
export const otlpIndex = (nativeIndex: number): number => nativeIndex - 1;

/** One slot's histogram as an OTLP ExponentialHistogram value (`sum`: the slot's sum of observations). */
export function exponentialHistogramValue(h: ExpHistogramColumnsView, slot: number, sum: number): ExponentialHistogram {
  const zeroCount = h.zero[slot];
  let count = zeroCount;
  let positive: ExponentialHistogram['positive'];
  const range = populatedCells(h, slot);
  if (range === null) {
    positive = { offset: 0, bucketCounts: [] };
  } else {
    const base = slot * h.window;
    const bucketCounts = new Array<number>(range.hi - range.lo + 1);
    for (let c = range.lo; c <= range.hi; c++) {
      const v = h.counts[base + c];
      bucketCounts[c - range.lo] = v;
      count += v;
    }
    positive = { offset: otlpIndex(h.first[slot] + range.lo), bucketCounts };
  }
  return { count, sum, scale: h.schema[slot], zeroCount, positive, negative: { offset: 0, bucketCounts: [] } };
}

/**
 * Turn slot `slot` of `cur` (cumulative; a snapshot's fresh copy, written into) into its increase over `prev` (the same
 * slot's cumulative state at an earlier instant), in place, bucket by ABSOLUTE index:
 * the window may have moved in between (prev's cell c and cur's cell c are then other
 * buckets), and the schema may have gone down (prev's buckets are merged the way the
 * store merges them, i → ceil(i/2) per step, before subtracting). Returns false, and
 * leaves `cur` untouched, when `prev` cannot be an earlier state of `cur`: a finer
 * schema in cur than in prev, a bucket of prev outside cur's window, or any count
 * (zero bucket included) that went down. `prev` has cur's window size.
 */
export function subtractPrevious(cur: ExpHistogramColumnsView, prev: ExpHistogramColumnsView, slot: number, scratch: Float64Array): boolean {
  const w = cur.window;
  if (prev.window !== w || scratch.length < w) throw new RangeError('exponential histograms of different window sizes');
  const zero = cur.zero[slot] - prev.zero[slot];
  if (!(zero >= 0)) return false;
  const base = slot * w;
  const prevFirst = prev.first[slot];
  let any = false;
  if (prevFirst !== EMPTY) {
    const down = prev.schema[slot] - cur.schema[slot];
    const curFirst = cur.first[slot];
    scratch.fill(0, 0, w);
    for (let c = 0; c < w; c++) {
      const v = prev.counts[base + c];
      if (v === 0) continue;
      if (down < 0 || curFirst === EMPTY) return false;
      let i = prevFirst + c;
      for (let d = 0; d < down; d++) i = (i + 1) >> 1; // ceil(i/2), as ExpHistogramColumns.downscale
      const cell = i - curFirst;
      if (cell < 0 || cell >= w) return false;
      scratch[cell] += v;
      any = true;
    }
    if (any) {
      for (let c = 0; c < w; c++) if (cur.counts[base + c] < scratch[c]) return false;
      for (let c = 0; c < w; c++) cur.counts[base + c] -= scratch[c];
    }
  }
  cur.zero[slot] = zero;
  return true;
}

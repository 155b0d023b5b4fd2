/**
 * RTT histogram bucket boundaries (upper bounds, seconds) and the lookup from an
 * observed value to its bucket. Pure.
 *
 * The default layout doubles from 50 µs: loopback and LAN RTTs (tens of µs to a
 * few ms) get fine resolution, WAN RTTs (tens to hundreds of ms) still land in
 * ~2x-wide buckets, and the last bound (≈13 s) is above any sane probe timeout.
 * Doubling an exactly-rounded double keeps each bound the nearest double to its
 * decimal value, so bounds print as short decimals (0.0001, 0.0002, ...).
 */

/** First bound of the default layout: 50 µs. */
export const DEFAULT_BUCKET_START_SECONDS = 50e-6;
/** The default layout reaches at least this far. */
export const DEFAULT_BUCKET_MIN_END_SECONDS = 10;

/** 50e-6 × 2^k for k = 0.. until the bound is ≥ `minEnd` (19 bounds for 10 s). */
export function exponentialBuckets(start = DEFAULT_BUCKET_START_SECONDS, factor = 2, minEnd = DEFAULT_BUCKET_MIN_END_SECONDS): Float64Array {
  if (!(start > 0) || !Number.isFinite(start)) throw new RangeError(`bucket start must be positive and finite, got ${start}`);
  if (!(factor > 1) || !Number.isFinite(factor)) throw new RangeError(`bucket factor must be > 1, got ${factor}`);
  if (!(minEnd >= start) || !Number.isFinite(minEnd)) throw new RangeError(`bucket end must be finite and >= start, got ${minEnd}`);
  const out: number[] = [];
  for (let b = start; ; b *= factor) {
    out.push(b);
    if (b >= minEnd) break;
  }
  return Float64Array.from(out);
}

/** The default RTT layout, shared by the RTT and HTTP phase histograms. */
export const DEFAULT_RTT_BUCKETS: Float64Array = exponentialBuckets();

/**
 * Validate and copy a bucket layout: non-empty, every bound positive and finite,
 * strictly increasing (so also unique). +Inf is implicit and must not be listed.
 * Throws RangeError naming the first offending bound.
 */
export function validateBuckets(bounds: ArrayLike<number>): Float64Array {
  if (bounds.length === 0) throw new RangeError('bucket list is empty');
  const out = new Float64Array(bounds.length);
  for (let i = 0; i < bounds.length; i++) {
    const b = bounds[i];
    if (typeof b !== 'number' || !Number.isFinite(b)) throw new RangeError(`bucket[${i}] = ${b} is not a finite number`);
    if (b <= 0) throw new RangeError(`bucket[${i}] = ${b} is not positive`);
    if (i > 0 && b <= out[i - 1]) {
      throw new RangeError(
        b === out[i - 1] ? `bucket[${i}] = ${b} is a duplicate` : `bucket[${i}] = ${b} is not greater than bucket[${i - 1}] = ${out[i - 1]}`,
      );
    }
    out[i] = b;
  }
  return out;
}

/**
 * Index of the bucket a value falls into: the first i with value <= bounds[i]
 * (Prometheus `le` semantics), or bounds.length for the implicit +Inf bucket
 * (values above the last bound, and NaN). Binary search, no allocation.
 */
export function bucketIndex(bounds: Float64Array, value: number): number {
  let lo = 0;
  let hi = bounds.length;
  // Invariant: every index < lo has bound < value; every index >= hi has bound >= value.
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (bounds[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  // NaN compares false everywhere, so the loop walks to index 0; send it to +Inf instead.
  return value !== value ? bounds.length : lo;
}

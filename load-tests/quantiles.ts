/**
 * Percentiles, two ways: exact from raw samples (ping's per-reply times) and
 * estimated from a cumulative histogram by linear interpolation inside the
 * bucket that holds the rank, as Prometheus' histogram_quantile() does.
 */

/** Nearest-rank-with-interpolation percentile of raw values (q in [0,1]); NaN when empty. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Quantile q of a histogram given as upper bounds (ascending, finite; +Inf
 * implied) and cumulative counts per bound, plus the total count (the +Inf
 * bucket). The lower edge of the first bucket is 0. A rank that falls in the
 * +Inf bucket returns the last finite bound (nothing better is known). NaN when
 * the histogram is empty.
 */
export function histogramQuantile(bounds: ArrayLike<number>, cumulative: ArrayLike<number>, total: number, q: number): number {
  if (bounds.length !== cumulative.length) throw new RangeError('bounds and counts differ in length');
  if (!(total > 0)) return NaN;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (let i = 0; i < bounds.length; i++) {
    const c = cumulative[i];
    if (c >= rank && c > prevCount) {
      return prevBound + (bounds[i] - prevBound) * ((rank - prevCount) / (c - prevCount));
    }
    prevBound = bounds[i];
    prevCount = c;
  }
  return bounds.length > 0 ? bounds[bounds.length - 1] : NaN;
}

/** Element-wise b - a of two cumulative histograms (window delta of monotonic counters). */
export function subtractCounts(later: ArrayLike<number>, earlier: ArrayLike<number>): Float64Array {
  const out = new Float64Array(later.length);
  for (let i = 0; i < later.length; i++) out[i] = later[i] - (earlier[i] ?? 0);
  return out;
}

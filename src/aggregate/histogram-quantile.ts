/**
 * Quantiles of a bucketed histogram, as Prometheus' histogram_quantile() computes
 * them: find the bucket holding the rank, interpolate linearly inside it (the first
 * bucket starts at 0); a rank in the overflow bucket answers the highest finite
 * bound. Pure.
 */

/**
 * The q-quantile (0 < q ≤ 1) of NON-cumulative counts: `counts[offset + i]` for
 * bucket i of `bounds` (upper bounds), and `counts[offset + bounds.length]` for the
 * overflow. NaN when the histogram is empty.
 */
export function histogramQuantile(q: number, bounds: ArrayLike<number>, counts: ArrayLike<number>, offset = 0, total?: number): number {
  const nb = bounds.length;
  let n = total ?? 0;
  if (total === undefined) for (let i = 0; i <= nb; i++) n += counts[offset + i];
  if (!(n > 0)) return NaN;
  const rank = q * n;
  let below = 0;
  for (let i = 0; i < nb; i++) {
    const c = counts[offset + i];
    if (c > 0 && below + c >= rank) {
      const lo = i === 0 ? 0 : bounds[i - 1];
      const hi = bounds[i];
      return lo + (hi - lo) * Math.max(0, (rank - below) / c);
    }
    below += c;
  }
  return bounds[nb - 1];
}

/**
 * Several quantiles (ascending `qs`) in one pass over the buckets; same answers as
 * histogramQuantile() for each. `out[k]` gets the qs[k]-quantile (NaN when empty).
 */
export function histogramQuantiles(
  qs: readonly number[],
  bounds: ArrayLike<number>,
  counts: ArrayLike<number>,
  offset: number,
  total: number,
  out: Float64Array,
): void {
  const nb = bounds.length;
  if (!(total > 0)) {
    out.fill(NaN, 0, qs.length);
    return;
  }
  let k = 0;
  let below = 0;
  for (let i = 0; i < nb && k < qs.length; i++) {
    const c = counts[offset + i];
    if (c > 0) {
      while (k < qs.length && below + c >= qs[k] * total) {
        const lo = i === 0 ? 0 : bounds[i - 1];
        out[k] = lo + (bounds[i] - lo) * Math.max(0, (qs[k] * total - below) / c);
        k++;
      }
    }
    below += c;
  }
  for (; k < qs.length; k++) out[k] = bounds[nb - 1];
}

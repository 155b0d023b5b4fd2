/**
 * The statistics of one on-demand test, from what its worker recorded. Pure.
 *
 * Inputs are the RTTs of the answered probes in ARRIVAL order (seconds) and, for udp,
 * the sequence number of each reply in arrival order:
 *
 *   - percentiles: linear interpolation between closest ranks (the "R-7" / numpy
 *     default / Excel PERCENTILE.INC definition), so p50 of [1, 2] is 1.5 and p100 is
 *     the maximum; a single sample is every percentile;
 *   - stddev: the population standard deviation (divide by n), as ping's "mdev" is a
 *     deviation of the observed set, not an estimate of a wider one;
 *   - jitter: RFC 3550 §6.4.1 interarrival jitter, J += (|D(i-1,i)| - J) / 16, where
 *     D is the change in transit time between consecutive packets in arrival order.
 *     An echo reply's transit is its RTT (send and receive are stamped by the same
 *     clock, so no clock offset enters), hence D(i-1,i) = RTT(i) - RTT(i-1);
 *   - reordering: RFC 4737 §3.3 "Type-P-Reordered": a reply whose sequence number is
 *     lower than one that arrived before it (the next expected was already passed).
 */

export interface RttSummary {
  min: number;
  avg: number;
  max: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
}

/** The q-quantile (0..1) of `sorted` (ascending, non-empty), linearly interpolated. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = Math.min(1, Math.max(0, q)) * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  const frac = pos - lo;
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

/** min/avg/max/stddev/p50/p90/p99 of the samples, or null when there are none. */
export function summarizeRtts(samples: ArrayLike<number>): RttSummary | null {
  const n = samples.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const avg = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (sorted[i] - avg) ** 2;
  return {
    min: sorted[0],
    avg,
    max: sorted[n - 1],
    stddev: Math.sqrt(sq / n),
    p50: quantileSorted(sorted, 0.5),
    p90: quantileSorted(sorted, 0.9),
    p99: quantileSorted(sorted, 0.99),
  };
}

/** RFC 3550 interarrival jitter (seconds) over RTTs in arrival order; 0 with fewer than two. */
export function interarrivalJitter(rttsInArrivalOrder: ArrayLike<number>): number {
  let j = 0;
  for (let i = 1; i < rttsInArrivalOrder.length; i++) {
    const d = Math.abs(rttsInArrivalOrder[i] - rttsInArrivalOrder[i - 1]);
    j += (d - j) / 16;
  }
  return j;
}

/** Replies that arrived after a reply of a higher sequence number (RFC 4737 reordered). */
export function reorderedCount(seqsInArrivalOrder: ArrayLike<number>): number {
  let highest = Number.NEGATIVE_INFINITY;
  let reordered = 0;
  for (let i = 0; i < seqsInArrivalOrder.length; i++) {
    const s = seqsInArrivalOrder[i];
    if (s < highest) reordered++;
    else highest = s;
  }
  return reordered;
}

/** received / sent as loss: 0 when nothing was sent (no evidence of loss). */
export function lossRatio(sent: number, received: number): number {
  if (sent <= 0) return 0;
  return Math.max(0, sent - received) / sent;
}

/**
 * Event-loop lag sampling, as both planes use it: the workers' LoopLagMonitor
 * (workers/loop-lag.ts) samples every LOOP_LAG_RESOLUTION_MS and the main thread's
 * prom-client default metrics sample at the same period (src/metrics/self.ts). Pure,
 * so the control plane shares it without importing the data plane.
 */

/**
 * Sampling period. Every sample is a wake-up of the thread; at 10 ms (Node's default)
 * the monitors alone cost about 1.5% of a core across three threads. 50 ms still
 * catches any stall that outlasts it, which is the kind that matters for probing.
 */
export const LOOP_LAG_RESOLUTION_MS = 50;

/**
 * Histogram stats (ns, as perf_hooks reports them) → delay in seconds beyond the
 * sampling interval. monitorEventLoopDelay records the time between two runs of its
 * repeating timer, i.e. the interval itself plus how late the timer ran: an idle loop
 * reads about `resolution`, not 0, so the resolution is subtracted from the max and
 * the mean (every sample is ≥ it up to timer rounding; clamped at 0).
 */
export function loopDelaySeconds(
  count: number,
  maxNs: number,
  meanNs: number,
  resolutionMs: number,
  out: { max: number; mean: number },
): { max: number; mean: number } {
  const intervalNs = resolutionMs * 1e6;
  // With no samples the histogram reports max 0 and mean NaN.
  out.max = count > 0 ? Math.max(0, maxNs - intervalNs) / 1e9 : 0;
  out.mean = count > 0 && Number.isFinite(meanNs) ? Math.max(0, meanNs - intervalNs) / 1e9 : 0;
  return out;
}

/**
 * Event-loop delay of this thread, sampled by perf_hooks (a libuv timer in the
 * thread's own loop), read and reset once per batch. A worker whose loop lags is
 * late to start probes and late to read replies, so RTTs it reports are inflated:
 * the main thread exports this next to the probe metrics.
 *
 * What the histogram holds: monitorEventLoopDelay records the time between two runs
 * of its repeating timer, i.e. the sampling interval itself plus how late the timer
 * ran. An idle loop therefore reads about `resolution` (50 ms here), not 0. The
 * delay is the excess over the interval, so the resolution is subtracted from the
 * max and the mean (every sample is ≥ it up to timer rounding; clamped at 0).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * Sampling period. Every sample is a wake-up of the thread; at 10 ms (Node's default)
 * the monitors alone cost about 1.5% of a core across three threads. 50 ms still
 * catches any stall that outlasts it, which is the kind that matters for probing.
 */
export const LOOP_LAG_RESOLUTION_MS = 50;

/** Histogram stats (ns, as perf_hooks reports them) → delay in seconds beyond the sampling interval. */
export function loopDelaySeconds(count: number, maxNs: number, meanNs: number, resolutionMs: number, out: { max: number; mean: number }): { max: number; mean: number } {
  const intervalNs = resolutionMs * 1e6;
  // With no samples the histogram reports max 0 and mean NaN.
  out.max = count > 0 ? Math.max(0, maxNs - intervalNs) / 1e9 : 0;
  out.mean = count > 0 && Number.isFinite(meanNs) ? Math.max(0, meanNs - intervalNs) / 1e9 : 0;
  return out;
}

export class LoopLagMonitor {
  private readonly h: IntervalHistogram;

  constructor(private readonly resolutionMs = LOOP_LAG_RESOLUTION_MS) {
    this.h = monitorEventLoopDelay({ resolution: resolutionMs });
    this.h.enable();
  }

  /** Max and mean delay in seconds since the previous call (0 when nothing was sampled). */
  take(out: { max: number; mean: number }): { max: number; mean: number } {
    const h = this.h;
    loopDelaySeconds(h.count, h.max, h.mean, this.resolutionMs, out);
    h.reset();
    return out;
  }

  stop(): void {
    this.h.disable();
  }
}

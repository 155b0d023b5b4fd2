/**
 * Event-loop delay of this thread, sampled by perf_hooks (a libuv timer in the
 * thread's own loop), read and reset once per batch. A worker whose loop lags is
 * late to start probes and late to read replies, so RTTs it reports are inflated:
 * the main thread exports this next to the probe metrics.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * Sampling period. Every sample is a wake-up of the thread; at 10 ms (Node's default)
 * the monitors alone cost about 1.5% of a core across three threads. 50 ms still
 * catches any stall that outlasts it, which is the kind that matters for probing.
 */
export const LOOP_LAG_RESOLUTION_MS = 50;

export class LoopLagMonitor {
  private readonly h: IntervalHistogram;

  constructor(resolutionMs = LOOP_LAG_RESOLUTION_MS) {
    this.h = monitorEventLoopDelay({ resolution: resolutionMs });
    this.h.enable();
  }

  /** Max and mean delay in seconds since the previous call (0 when nothing was sampled). */
  take(out: { max: number; mean: number }): { max: number; mean: number } {
    const h = this.h;
    // With no samples the histogram reports max 0 and mean NaN; min is a huge sentinel.
    out.max = h.count > 0 ? h.max / 1e9 : 0;
    out.mean = h.count > 0 && Number.isFinite(h.mean) ? h.mean / 1e9 : 0;
    h.reset();
    return out;
  }

  stop(): void {
    this.h.disable();
  }
}

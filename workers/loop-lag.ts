/**
 * Event-loop delay of this thread, sampled by perf_hooks (a libuv timer in the
 * thread's own loop), read and reset once per batch. A worker whose loop lags is
 * late to start probes and late to read replies, so RTTs it reports are inflated:
 * the main thread exports this next to the probe metrics.
 *
 * What the histogram holds, and how it becomes a delay: src/protocol/loop-lag.ts
 * (shared with the main thread's own event-loop metrics).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { LOOP_LAG_RESOLUTION_MS, loopDelaySeconds } from '../src/protocol/loop-lag.js';

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

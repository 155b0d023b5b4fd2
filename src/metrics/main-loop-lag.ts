/**
 * fleetprobe_main_event_loop_lag_seconds: how late the main thread's event loop runs
 * a timer, as a histogram. The main thread merges batches, serves scrapes, the API and
 * the live streams; when its loop lags, all of those wait (probing does not: it runs
 * on the workers).
 *
 * prom-client's nodejs_eventloop_lag_* gauges come from monitorEventLoopDelay, whose
 * samples are the whole timer period (resolution + delay) and are reset at every
 * scrape; this one observes the delay alone into cumulative buckets, so any two
 * scrapes give the lag distribution between them (histogram_quantile in PromQL, or
 * the benchmark's p99).
 *
 * One sample per LOOP_LAG_RESOLUTION_MS (one unref'd timer: a wake-up of a thread
 * that wakes far more often for batches anyway). A sample measures the delay an event
 * arriving at that instant would have seen, so the sampled distribution is the lag
 * distribution; a stall shorter than the period is caught in proportion to its length.
 */
import { Histogram, type Registry } from 'prom-client';
import { LOOP_LAG_RESOLUTION_MS } from '../protocol/loop-lag.js';

/** Seconds: fine where the goals are (a few ms to 20 ms), coarse beyond. */
export const MAIN_LOOP_LAG_BUCKETS = [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface MainLoopLag {
  stop(): void;
}

export function startMainLoopLag(registry: Registry, periodMs = LOOP_LAG_RESOLUTION_MS): MainLoopLag {
  const h = new Histogram({
    name: 'fleetprobe_main_event_loop_lag_seconds',
    help: `Delay of the main thread's event loop (a timer due every ${periodMs} ms: how late it ran).`,
    buckets: MAIN_LOOP_LAG_BUCKETS,
    registers: [registry],
  });
  let due = performance.now() + periodMs;
  let timer: NodeJS.Timeout | null = null;
  const tick = (): void => {
    const now = performance.now();
    h.observe(Math.max(0, now - due) / 1000);
    due = now + periodMs;
    timer = setTimeout(tick, periodMs);
    timer.unref();
  };
  timer = setTimeout(tick, periodMs);
  timer.unref();
  return {
    stop() {
      if (timer) clearTimeout(timer);
      timer = null;
    },
  };
}

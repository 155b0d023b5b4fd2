/**
 * The data plane's one source of time: a monotonic clock and the timer functions that
 * go with it, in one interface.
 *
 * Why one interface and not a clock plus a timer API: whatever reads the time and
 * whatever waits for it must agree. A test hands the scheduler and every prober one
 * manual clock (test/helpers/manual-time.ts) that moves time and fires timers together;
 * two separate objects could be given two different times.
 *
 * Every timer of the real clock is unref()ed: a shard's thread lives as long as its
 * MessagePort, never because a probe timeout or a scheduled start is pending (DESIGN:
 * timers unref()ed), so a stopped shard's thread can end without cancelling each one.
 */

export interface Clock {
  /** Monotonic milliseconds (performance.now() for the real clock). */
  now(): number;
  /** originMs + now() is Unix epoch milliseconds (performance.timeOrigin for the real clock). */
  readonly originMs: number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setImmediate(fn: () => void): unknown;
  clearImmediate(handle: unknown): void;
}

/** performance.now() and Node's timers (unref()ed). */
export const systemClock: Clock = {
  now: () => performance.now(),
  originMs: performance.timeOrigin,
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  setImmediate: (fn) => setImmediate(fn),
  clearImmediate: (h) => clearImmediate(h as NodeJS.Immediate),
};

/**
 * The timing every probe kind shares: bounds of a target's interval and timeout, and
 * how many intervals one probe may stay in flight. Declared here, below the
 * configuration and the workers, because both enforce it: the configuration refuses a
 * target the ICMP prober could not keep in flight, and the prober sizes its in-flight
 * ring from the same number.
 */
import { formatDuration } from '../values/duration.js';
import { HOUR_MS, type Range } from '../values/range.js';

export const TIMING_BOUNDS = {
  /** probe_defaults.interval and a target's interval. */
  interval: { min: 1, max: HOUR_MS },
  /** probe_defaults.timeout and a target's timeout (also <= TIMEOUT_MAX_INTERVALS x interval). */
  timeout: { min: 1, max: HOUR_MS },
} as const satisfies Record<string, Range>;

/**
 * A probe may stay in flight for at most this many intervals: timeout <= 15 x interval.
 * The ICMP prober keeps 16 in-flight entries per target (workers/probes/icmp.ts RING),
 * and the tcp_echo/udp sequence windows are sized from the same ratio; one rule for
 * every kind keeps it simple to state.
 */
export const TIMEOUT_MAX_INTERVALS = 15;

/** Why this interval/timeout pair cannot be probed, or null. */
export function checkTimeoutSpan(intervalMs: number, timeoutMs: number): string | null {
  if (!(intervalMs > 0) || !(timeoutMs > 0)) return null; // reported by their own checks
  if (Math.ceil(timeoutMs / intervalMs) <= TIMEOUT_MAX_INTERVALS) return null;
  return (
    `timeout ${formatDuration(timeoutMs)} spans more than ${TIMEOUT_MAX_INTERVALS} intervals of ${formatDuration(intervalMs)}; ` +
    `timeout must be at most ${TIMEOUT_MAX_INTERVALS} x interval`
  );
}

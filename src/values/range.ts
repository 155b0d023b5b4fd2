/**
 * Bounds of numbers and durations, and how they are shown. Shared by the
 * configuration, target entries and the probe kinds, which each declare their own
 * bounds with these.
 *
 * Why upper bounds at all: a duration reaches a timer, and Node clamps any delay
 * above 2^31-1 ms (~24.8 days) to 1 ms with a TimeoutOverflowWarning, so an
 * `interval: 100000h` would probe every millisecond instead of never. Sizes and
 * counts end up as buffers, label values and series, where "unbounded" means one
 * bad input can take the process's memory.
 */
import { formatDuration } from './duration.js';

export const SECOND_MS = 1000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** Node's largest timer delay; every duration bound stays below it. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Range {
  min: number;
  max: number;
}

/** "1ms to 1h" for durations, "1 to 1024" for counts: how `fleetprobe help` shows a range. */
export function describeDurationRange(r: Range): string {
  return `${formatDuration(r.min)} to ${formatDuration(r.max)}`;
}
export function describeCountRange(r: Range): string {
  return `${r.min} to ${r.max}`;
}

/**
 * Every bound of the configuration, declared once.
 *
 * The config formats (formats.ts), the target-entry checks (targets/spec.ts), the
 * schema docs (`fleetprobe help`), the README's table of limits and the workers'
 * defensive checks all read these numbers, so a bound cannot be checked in one place
 * and forgotten in another.
 *
 * Why upper bounds at all: a duration reaches a timer, and Node clamps any delay
 * above 2^31-1 ms (~24.8 days) to 1 ms with a TimeoutOverflowWarning, so an
 * `interval: 100000h` would probe every millisecond instead of never. Sizes and
 * counts end up as buffers, label values and series, where "unbounded" means one
 * bad input can take the process's memory. Each cap below is far above any sane
 * setting and far below any overflow.
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

/** Durations (milliseconds). */
export const DURATION_BOUNDS = {
  /** probe_defaults.interval and per-target interval. */
  interval: { min: 1, max: HOUR_MS },
  /** probe_defaults.timeout and per-target timeout (also <= TIMEOUT_MAX_INTERVALS x interval). */
  timeout: { min: 1, max: HOUR_MS },
  /** flush_interval: workers clamp below 10 ms anyway; above a minute metrics go stale. */
  flushInterval: { min: 10, max: MINUTE_MS },
  /** dns.refresh_interval. */
  dnsRefresh: { min: SECOND_MS, max: DAY_MS },
  /** tcp_echo reconnect_min_backoff / reconnect_max_backoff (the prober's own limits). */
  reconnectBackoff: { min: 1, max: HOUR_MS },
  /** tcp_echo connect_timeout (the prober's own limit). */
  connectTimeout: { min: 1, max: 10 * MINUTE_MS },
  /** workers_stall_timeout when not "auto" (also >= 3 x flush_interval). */
  stallTimeout: { min: SECOND_MS, max: HOUR_MS },
  /** file_watch.check_interval: the periodic stat of watched files (the fallback of fs.watch). */
  fileCheckInterval: { min: SECOND_MS, max: HOUR_MS },
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

/** Counts and sizes. */
export const COUNT_BOUNDS = {
  workers: { min: 1, max: 1024 },
  /** shard.count; shard.index is 0..count-1. */
  shardCount: { min: 1, max: 10_000 },
  lossWindow: { min: 1, max: 100_000 },
  /** ICMP/UDP payload bytes. */
  payloadSize: { min: 0, max: 65_000 },
  /** udp source_ports (the prober opens one socket per port). */
  sourcePorts: { min: 1, max: 64 },
  /** http max_body_bytes read per probe response. */
  httpProbeMaxBodyBytes: { min: 0, max: 1 << 30 },
  /** metrics.rtt_buckets: number of bounds (each one is a series per target). */
  rttBuckets: { min: 1, max: 256 },
  /** target_files entries. */
  targetFiles: { min: 0, max: 1024 },
  /** responder.allow_cidrs entries. */
  allowCidrs: { min: 0, max: 10_000 },
  /** workers_heap_limit_mb: V8 old-generation limit of a worker thread (MiB). */
  workerHeapLimitMb: { min: 64, max: 65_536 },
} as const satisfies Record<string, Range>;

/** Live streams (stream.*): subscribers, their backlog, and their timers. */
export const STREAM_BOUNDS = {
  maxClients: { min: 1, max: 100_000 },
  /** Bytes one subscriber may owe; below a few KiB a single state event would not fit. */
  maxBufferBytes: { min: 4096, max: 1 << 30 },
  stateInterval: { min: SECOND_MS, max: HOUR_MS },
  stallTimeout: { min: SECOND_MS, max: HOUR_MS },
} as const satisfies Record<string, Range>;

/** The Targets API (POST /api/v1/targets). */
export const API_BOUNDS = {
  /** api.max_targets: 0 turns adding off. */
  maxTargets: { min: 0, max: 1_000_000 },
  /** Bytes of one POST /api/v1/targets body (a list of ~20,000 small targets). */
  bodyBytes: 4 * 1024 * 1024,
} as const;

/** Largest RTT bucket bound (seconds): no probe waits longer than the timeout's cap. */
export const RTT_BUCKET_MAX_SECONDS = DURATION_BOUNDS.timeout.max / 1000;

/**
 * Labels become series labels on every sample of a target, so their size multiplies
 * into every scrape (a 50 MB value once made one scrape 1.68 GB).
 */
export const LABEL_BOUNDS = {
  /** Bytes (UTF-8) of a label name. */
  nameBytes: 128,
  /** Bytes (UTF-8) of a label value. */
  valueBytes: 1024,
  /** User labels on one target, probe_defaults.labels included. */
  perTarget: 32,
} as const;

/** http probe options that end up in every request. */
export const HTTP_BOUNDS = {
  /** Bytes of a target URL. */
  urlBytes: 2048,
  /** Extra request headers per target. */
  headers: 64,
  /** Bytes of one header value. */
  headerValueBytes: 8192,
} as const;

/** "1ms to 1h" for durations, "1 to 1024" for counts: how `fleetprobe help` shows a range. */
export function describeDurationRange(r: Range): string {
  return `${formatDuration(r.min)} to ${formatDuration(r.max)}`;
}
export function describeCountRange(r: Range): string {
  return `${r.min} to ${r.max}`;
}

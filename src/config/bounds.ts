/**
 * The bounds of the process-wide configuration keys, declared once.
 *
 * The config formats (formats.ts), the schema docs (`fleetprobe help`) and the
 * README's table of limits read these numbers. Bounds of a target's own fields live
 * with the targets (targets/fields.ts, kinds/timing.ts), bounds of one kind's options
 * with the kind (kinds/<kind>.ts), the responder's with the responder
 * (responder/limits.ts): each is declared where the code that relies on it lives, and
 * the configuration derives its checks from them.
 *
 * Each cap below is far above any sane setting and far below any overflow (see
 * values/range.ts for why every duration has an upper bound).
 */
import { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, type Range } from '../values/range.js';
import { TIMING_BOUNDS } from '../kinds/timing.js';
import { formatDuration } from '../values/duration.js';

/** Durations (milliseconds). */
export const DURATION_BOUNDS = {
  /** flush_interval: workers clamp below 10 ms anyway; above a minute metrics go stale. */
  flushInterval: { min: 10, max: MINUTE_MS },
  /** dns.refresh_interval. */
  dnsRefresh: { min: SECOND_MS, max: DAY_MS },
  /** web.read_timeout / write_timeout / idle_timeout: shorter than 100ms cuts real clients. */
  webTimeout: { min: 100, max: HOUR_MS },
  /** workers_stall_timeout when not "auto" (also >= 3 x flush_interval). */
  stallTimeout: { min: SECOND_MS, max: HOUR_MS },
  /** file_watch.check_interval: the periodic stat of watched files (the fallback of fs.watch). */
  fileCheckInterval: { min: SECOND_MS, max: HOUR_MS },
  /** history.retention: 0 turns the history off. */
  historyRetention: { min: 0, max: DAY_MS },
  /** history.resolution. */
  historyResolution: { min: SECOND_MS, max: HOUR_MS },
} as const satisfies Record<string, Range>;

/**
 * Most periods a history ring may hold (history.retention / history.resolution):
 * 24 hours at 10 s. Each period costs about 7 bytes per target.
 */
export const HISTORY_MAX_POINTS = 8640;

/** Why this history.retention / history.resolution pair cannot be used, or null. */
export function checkHistorySpan(retentionMs: number, resolutionMs: number): string | null {
  if (retentionMs === 0) return null; // off
  if (!(resolutionMs > 0)) return null; // reported by its own check
  if (retentionMs < resolutionMs) return `must be 0s (off) or at least history.resolution (${formatDuration(resolutionMs)})`;
  if (retentionMs % resolutionMs !== 0) return `must be a whole number of history.resolution periods (${formatDuration(resolutionMs)})`;
  const points = retentionMs / resolutionMs;
  if (points > HISTORY_MAX_POINTS) return `holds ${points} periods of ${formatDuration(resolutionMs)}; at most ${HISTORY_MAX_POINTS}`;
  return null;
}

/** Counts and sizes. */
export const COUNT_BOUNDS = {
  workers: { min: 1, max: 1024 },
  /** shard.count; shard.index is 0..count-1. */
  shardCount: { min: 1, max: 10_000 },
  /** metrics.rtt_buckets: number of bounds (each one is a series per target). */
  rttBuckets: { min: 1, max: 256 },
  /** metrics.group_by: labels per group (each group is a series per kind and family; more labels, more groups). */
  groupBy: { min: 0, max: 4 },
  /** metrics.group_limit: groups with series of their own (each about 26 series per kind with the default buckets). */
  groupLimit: { min: 1, max: 1_000_000 },
  /** target_files entries. */
  targetFiles: { min: 0, max: 1024 },
  /** responder.allow_cidrs entries. */
  allowCidrs: { min: 0, max: 10_000 },
  /** web.max_requests / web.max_connections: 0 (no limit) up to the kernel's default fs.nr_open. */
  webCount: { min: 0, max: 1_048_576 },
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

/**
 * On-demand tests (tests.*, POST /api/v1/tests): the ranges their limits may be set
 * to. maxRate stops at 1,000 probes/s because a test's interval is at least the 1 ms
 * every target's interval is (kinds/timing.ts), and the probers size their in-flight
 * windows from whole milliseconds.
 */
export const TESTS_BOUNDS = {
  maxCount: { min: 1, max: 1_000_000 },
  maxRate: { min: 1, max: 1000 },
  maxDuration: { min: SECOND_MS, max: DAY_MS },
  maxConcurrent: { min: 1, max: 1000 },
  resultsKept: { min: 1, max: 100_000 },
  /** tests.max_http_size: largest ?size= an http test may ask for (the http prober's max_body_bytes cap). */
  maxHttpSize: { min: 0, max: 1 << 30 },
  /** Bytes of one POST /api/v1/tests body. */
  bodyBytes: 64 * 1024,
} as const;

/** Largest RTT bucket bound (seconds): no probe waits longer than the timeout's cap. */
export const RTT_BUCKET_MAX_SECONDS = TIMING_BOUNDS.timeout.max / 1000;

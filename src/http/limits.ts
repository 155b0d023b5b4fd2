/**
 * Limits of the web port (pure): what the config keys `web.max_requests`,
 * `web.max_connections`, `web.read_timeout`, `web.write_timeout` and
 * `web.idle_timeout` become, and the default connection cap derived from the
 * process's file-descriptor limit.
 *
 * Why derive the cap from the fd limit: every open connection costs a descriptor,
 * and so does every probe socket (a tcp_echo target holds one for good), every
 * responder connection and every file read. A web port allowed to take them all
 * makes probes fail with connect_failed (F11). A quarter of the soft limit, at
 * most 1024, leaves the rest to probing; 1024 is plenty for scrapers and API users.
 */

export interface WebLimits {
  /** Concurrent scrapes of the telemetry path; 0: no limit (node_exporter's --web.max-requests). */
  maxRequests: number;
  /** Open connections to the web port; 0: no limit. */
  maxConnections: number;
  /** A request's headers (and body) must arrive within this long (slowloris), ms. */
  readTimeoutMs: number;
  /** A response whose client takes no bytes for this long is dropped, ms. */
  writeTimeoutMs: number;
  /** A keep-alive connection idle this long after its last response is closed, ms. */
  idleTimeoutMs: number;
}

/** Upper bound of the derived connection cap. */
export const MAX_DEFAULT_CONNECTIONS = 1024;
/** Lower bound of the derived connection cap (a tiny fd limit still leaves a few scrapers in). */
export const MIN_DEFAULT_CONNECTIONS = 16;
/** node_exporter's default for --web.max-requests. */
export const DEFAULT_MAX_REQUESTS = 40;

/** RLIMIT_NOFILE as /proc/self/limits shows it; Infinity for "unlimited". */
export interface FdLimits {
  soft: number;
  hard: number;
}

/**
 * Default `web.max_connections`: a quarter of the soft fd limit, between 16 and 1024.
 * Unknown limit (not Linux): 1024.
 */
export function defaultMaxConnections(fdSoftLimit: number | null): number {
  if (fdSoftLimit === null || !(fdSoftLimit > 0)) return MAX_DEFAULT_CONNECTIONS;
  return Math.max(MIN_DEFAULT_CONNECTIONS, Math.min(MAX_DEFAULT_CONNECTIONS, Math.floor(fdSoftLimit / 4)));
}

/** The "Max open files" line of /proc/<pid>/limits, or null when absent or malformed. */
export function parseOpenFilesLimit(procLimits: string): FdLimits | null {
  const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)\s+files\s*$/m.exec(procLimits);
  if (m === null) return null;
  const n = (s: string): number => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: n(m[1]), hard: n(m[2]) };
}

/**
 * How often Node checks for requests past their headers/request timeout. Node's
 * default (30 s) would let a slowloris connection outlive a 10 s read timeout by
 * up to 30 s; a quarter of the timeout, between 250 ms and 5 s, keeps the overshoot
 * small at the cost of one pass over the open connections (at most a few thousand).
 */
export function connectionsCheckingIntervalMs(readTimeoutMs: number): number {
  return Math.max(250, Math.min(5000, Math.floor(readTimeoutMs / 4)));
}

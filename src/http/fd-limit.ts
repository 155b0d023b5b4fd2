/**
 * The process's open-file limit (RLIMIT_NOFILE), read from /proc/self/limits.
 *
 * Raising the soft limit to the hard one, as Go programs (since Go 1.19) and
 * Prometheus do, is already done by Node.js itself before any JavaScript runs:
 * node's PlatformInit (src/node.cc) sets rlim_cur to rlim_max unless an embedder
 * passes kNoAdjustResourceLimits. Node offers no setrlimit() to JavaScript, so
 * fleetprobe does not try again: it reads the limit, logs it at start, and warns
 * when the soft limit is still below the hard one (a runtime that did not raise
 * it). prom-client's process_max_fds exports the same soft limit.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { parseOpenFilesLimit, type FdLimits } from './limits.js';

/** The current soft and hard RLIMIT_NOFILE, or null where /proc/self/limits is unavailable. */
export function readFdLimits(): FdLimits | null {
  try {
    return parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return null;
  }
}

/** Log the open-file limit at start (warn when the soft limit could still be raised). */
export function logFdLimits(log: Logger, webMaxConnections: number): void {
  const l = readFdLimits();
  if (l === null) {
    log.info({ web_max_connections: webMaxConnections }, 'open-file limit unknown (no /proc/self/limits)');
    return;
  }
  const show = (n: number): number | string => (Number.isFinite(n) ? n : 'unlimited');
  const fields = { soft: show(l.soft), hard: show(l.hard), web_max_connections: webMaxConnections };
  if (l.soft < l.hard) log.warn(fields, 'open-file limit (RLIMIT_NOFILE) soft limit is below the hard limit; raise it (ulimit -n, systemd LimitNOFILE=)');
  else log.info(fields, 'open-file limit (RLIMIT_NOFILE)');
}

/**
 * `fleetprobe responder`: answers the probes of other fleetprobe instances (and of
 * other tools) with a TCP echo of 16-byte frames, an RFC 862 UDP echo and an HTTP
 * GET /v1/ping. Each listener is optional; all share one allowlist, one set of
 * limits (limits.ts) and one set of metrics (metrics.ts) on the given registry.
 *
 * The listeners run on a thread of their own (thread.ts), never on the caller's:
 * the peers measure the responder's answers, so nothing the main thread does (a
 * scrape storm, a reload) may delay them. The main thread supervises the thread
 * (thread-supervisor.ts: restart after a crash, counters carried on) and serves
 * its counters on `registry`.
 */
import type { Registry } from 'prom-client';
import { Allowlist } from './cidr.js';
import { validateResponderOptions, type ResponderOptions } from './limits.js';
import type { ResponderAddresses } from './listeners.js';
import type { ResponderLogger } from './logger.js';
import { registerResponderMetrics, RESPONDER_STATS_LENGTH } from './metrics.js';
import { ResponderThread, type ResponderThreadOptions, type ResponderThreadStatus } from './thread-supervisor.js';

export { Allowlist, CidrError, parseCidr } from './cidr.js';
export {
  MAX_RATE_LIMIT_SOURCES,
  MAX_RATE_PER_SOURCE,
  RATE_LIMIT_DEFAULTS,
  REJECT_REASONS,
  RESPONDER_PROTOCOLS,
  ResponderOptionError,
  validateResponderOptions,
  type ListenAddress,
  type RejectReason,
  type ResponderOptions,
  type ResponderProtocol,
} from './limits.js';
export { LISTENER_KEYS, ResponderListenError, type ResponderAddresses } from './listeners.js';
export type { ResponderLogger } from './logger.js';
export type { ResponderThreadStatus } from './thread-supervisor.js';

export interface ResponderDeps {
  registry: Registry;
  logger: ResponderLogger;
  /** Thread script override and restart/close tuning (tests). */
  thread?: Omit<ResponderThreadOptions, 'logger'>;
}

export interface Responder {
  /** Bound addresses (real ports when 0 was asked); the same after a thread restart. */
  addresses(): ResponderAddresses;
  /** Whether the thread is listening, and how often it was restarted. */
  status(): ResponderThreadStatus;
  /** Stop accepting on every listener, let connections flush, close them, end the thread. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_CLOSE_GRACE_MS = 1000;

/**
 * Validate `opts`, register the metrics on deps.registry, start the responder
 * thread and wait until every configured listener listens. If one fails to listen
 * (EADDRINUSE...), the thread is ended, the metrics are unregistered and a
 * ResponderListenError naming the setting and the address is thrown (its `code` is
 * the system's, e.g. EADDRINUSE). Throws ResponderOptionError / CidrError on bad
 * options, before anything starts. The metric names can be registered once per
 * registry.
 */
export async function startResponder(opts: ResponderOptions, deps: ResponderDeps): Promise<Responder> {
  validateResponderOptions(opts);
  new Allowlist(opts.allowCidrs); // throws CidrError here rather than in the thread
  const { logger, registry } = deps;
  const graceMs = opts.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
  const shared = new SharedArrayBuffer(RESPONDER_STATS_LENGTH * Float64Array.BYTES_PER_ELEMENT);
  const thread = new ResponderThread(opts, shared, { ...deps.thread, logger });

  // Registered first so a duplicate registration fails before any port is bound.
  const metricNames = registerResponderMetrics(registry, thread);
  try {
    await thread.start();
  } catch (err) {
    for (const name of metricNames) registry.removeSingleMetric(name);
    throw err;
  }
  return { addresses: () => thread.addresses(), status: () => thread.status(), close: () => thread.close(graceMs) };
}

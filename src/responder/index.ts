/**
 * `fleetprobe responder`: answers the probes of other fleetprobe instances (and of
 * other tools) with a TCP echo of 16-byte frames, an RFC 862 UDP echo and an HTTP
 * GET /v1/ping. Each listener is optional; all share one allowlist, one set of
 * limits (limits.ts) and one set of metrics (metrics.ts) on the given registry.
 */
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { Allowlist } from './cidr.js';
import { HttpPingServer } from './http-ping.js';
import { rateLimits, validateResponderOptions, type ResponderOptions } from './limits.js';
import type { ResponderLogger } from './logger.js';
import { registerResponderMetrics, ResponderStats } from './metrics.js';
import { SourceRateLimiter } from './rate-limit.js';
import { TcpEchoServer } from './tcp-echo.js';
import { UdpEchoServer } from './udp-echo.js';

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
export type { ResponderLogger } from './logger.js';

export interface ResponderDeps {
  registry: Registry;
  logger: ResponderLogger;
}

/** Bound addresses of the listeners that were configured (real ports when 0 was asked). */
export interface ResponderAddresses {
  tcpEcho?: AddressInfo;
  udpEcho?: AddressInfo;
  http?: AddressInfo;
}

export interface Responder {
  addresses(): ResponderAddresses;
  /** Stop accepting on every listener, let connections flush, close them. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_CLOSE_GRACE_MS = 1000;

/**
 * Validate `opts`, register the metrics on deps.registry, start the configured
 * listeners. If one fails to listen (EADDRINUSE...), those already started are
 * closed and the error is thrown. Throws ResponderOptionError / CidrError on bad
 * options. The metric names can be registered once per registry.
 */
export async function startResponder(opts: ResponderOptions, deps: ResponderDeps): Promise<Responder> {
  validateResponderOptions(opts);
  const allowlist = new Allowlist(opts.allowCidrs);
  const { logger, registry } = deps;
  const stats = new ResponderStats();
  const graceMs = opts.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;

  const rates = rateLimits(opts);
  const tcp = opts.tcpEcho
    ? new TcpEchoServer(opts, allowlist, new SourceRateLimiter(rates.tcpConnectRatePerSource, rates.tcpConnectBurstPerSource, rates.rateLimitSources), stats, logger)
    : null;
  const udp = opts.udpEcho
    ? new UdpEchoServer(opts.maxDatagramBytes, allowlist, new SourceRateLimiter(rates.udpRatePerSource, rates.udpBurstPerSource, rates.rateLimitSources), stats, logger)
    : null;
  const http = opts.http ? new HttpPingServer(opts, allowlist, stats, logger) : null;

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= Promise.all([tcp?.close(graceMs), udp?.close(), http?.close()]).then(() => undefined);
    return closing;
  };

  // Registered first so a duplicate registration fails before any port is bound.
  const metricNames = registerResponderMetrics(registry, stats);
  try {
    if (tcp && opts.tcpEcho) await tcp.listen(opts.tcpEcho);
    if (udp && opts.udpEcho) await udp.listen(opts.udpEcho);
    if (http && opts.http) await http.listen(opts.http);
  } catch (err) {
    await close();
    for (const name of metricNames) registry.removeSingleMetric(name);
    throw err;
  }

  const addresses = (): ResponderAddresses => {
    const out: ResponderAddresses = {};
    if (tcp) out.tcpEcho = tcp.address();
    if (udp) out.udpEcho = udp.address();
    if (http) out.http = http.address();
    return out;
  };
  const bound = addresses();
  logger.info(
    {
      tcpEcho: bound.tcpEcho && `${bound.tcpEcho.address}:${bound.tcpEcho.port}`,
      udpEcho: bound.udpEcho && `${bound.udpEcho.address}:${bound.udpEcho.port}`,
      http: bound.http && `${bound.http.address}:${bound.http.port}`,
      allowCidrs: allowlist.allowsAll ? 'all' : opts.allowCidrs,
      ...rates,
    },
    'responder listening',
  );
  return { addresses, close };
}

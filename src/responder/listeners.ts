/**
 * The responder's listeners, started in the calling thread: TCP echo, UDP echo and
 * HTTP ping, sharing one allowlist, one set of limits and one ResponderStats. This
 * runs inside the responder thread (thread.ts); the main thread only supervises it
 * (thread-supervisor.ts).
 */
import type { AddressInfo } from 'node:net';
import { Allowlist } from './cidr.js';
import { HttpPingServer } from './http-ping.js';
import { rateLimits, type ListenAddress, type ResponderOptions } from './limits.js';
import type { ResponderLogger } from './logger.js';
import type { ResponderStats } from './metrics.js';
import { SourceRateLimiter } from './rate-limit.js';
import { TcpEchoServer } from './tcp-echo.js';
import { UdpEchoServer } from './udp-echo.js';

export const LISTENERS = ['tcpEcho', 'udpEcho', 'http'] as const;
export type ListenerName = (typeof LISTENERS)[number];

/** The configuration key of each listener, for error messages. */
export const LISTENER_KEYS: Readonly<Record<ListenerName, string>> = {
  tcpEcho: 'responder.tcp_echo',
  udpEcho: 'responder.udp_echo',
  http: 'responder.http',
};

/** Bound addresses of the listeners that were configured (real ports when 0 was asked). */
export interface ResponderAddresses {
  tcpEcho?: AddressInfo;
  udpEcho?: AddressInfo;
  http?: AddressInfo;
}

export interface Listeners {
  addresses(): ResponderAddresses;
  /** Stop accepting, let connections flush for up to graceMs, close them. */
  close(graceMs: number): Promise<void>;
}

/** A listener failed to bind: which one, where, and the system error code (EADDRINUSE...). */
export class ResponderListenError extends Error {
  readonly code: string;
  constructor(
    readonly listener: ListenerName,
    readonly at: ListenAddress,
    code: string | undefined,
    /** The system's message ("listen EADDRINUSE: address already in use 127.0.0.1:4000"). */
    readonly reason: string,
  ) {
    const where = at.host.includes(':') ? `[${at.host}]:${at.port}` : `${at.host}:${at.port}`;
    super(`${LISTENER_KEYS[listener]}: cannot listen on ${where}: ${reason}`);
    this.name = 'ResponderListenError';
    this.code = code ?? 'FP_ERR_RESPONDER_LISTEN';
  }
}

/**
 * Start the configured listeners (options already validated). If one fails to
 * listen, those already started are closed and a ResponderListenError is thrown.
 */
export async function startListeners(opts: ResponderOptions, stats: ResponderStats, logger: ResponderLogger): Promise<Listeners> {
  const allowlist = new Allowlist(opts.allowCidrs);
  const rates = rateLimits(opts);
  const tcp = opts.tcpEcho
    ? new TcpEchoServer(
        opts,
        allowlist,
        new SourceRateLimiter(rates.tcpConnectRatePerSource, rates.tcpConnectBurstPerSource, rates.rateLimitSources),
        stats,
        logger,
      )
    : null;
  const udp = opts.udpEcho
    ? new UdpEchoServer(
        opts.maxDatagramBytes,
        allowlist,
        new SourceRateLimiter(rates.udpRatePerSource, rates.udpBurstPerSource, rates.rateLimitSources),
        stats,
        logger,
      )
    : null;
  const http = opts.http ? new HttpPingServer(opts, allowlist, stats, logger) : null;

  let closing: Promise<void> | null = null;
  const close = (graceMs: number): Promise<void> => {
    closing ??= Promise.all([tcp?.close(graceMs), udp?.close(), http?.close()]).then(() => undefined);
    return closing;
  };

  const listenOne = async (name: ListenerName, at: ListenAddress | undefined, listen: (at: ListenAddress) => Promise<void>): Promise<void> => {
    if (!at) return;
    try {
      await listen(at);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new ResponderListenError(name, at, e.code, e.message);
    }
  };
  try {
    if (tcp) await listenOne('tcpEcho', opts.tcpEcho, (at) => tcp.listen(at));
    if (udp) await listenOne('udpEcho', opts.udpEcho, (at) => udp.listen(at));
    if (http) await listenOne('http', opts.http, (at) => http.listen(at));
  } catch (err) {
    await close(0);
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

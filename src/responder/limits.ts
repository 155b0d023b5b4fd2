/**
 * Responder options, their validation, and the bounded sets of label values used
 * when something is refused. An echo service is an amplification and resource
 * exhaustion target, so every listener has limits and every refusal is counted.
 *
 * TCP echo framing decision (tcp_ping_prometheus clients send only 16-byte frames
 * and wait for each echo):
 *  - the stream is cut into 16-byte frames; bytes are echoed in multiples of 16 as
 *    soon as whole frames are there (a frame split across reads is held, at most 15
 *    bytes, until completed; coalesced frames are echoed in one write);
 *  - `maxFrameBytes` bounds what the responder holds for one connection without
 *    having delivered it: the held partial frame plus echoed bytes queued in user
 *    space because the peer does not read its echoes. Past that the connection is
 *    dropped (reason `oversized`). A well-behaved prober never gets near it;
 *  - a peer that half-closes while a partial frame is held sent a stream that is not
 *    made of 16-byte frames: the partial bytes are dropped and counted (`malformed`).
 */
import { isIP } from 'node:net';

export const RESPONDER_PROTOCOLS = ['tcp', 'udp', 'http'] as const;
export type ResponderProtocol = (typeof RESPONDER_PROTOCOLS)[number];

/** Bounded `reason` label values of fleetprobe_responder_rejected_total. Append only. */
export const REJECT_REASONS = [
  'max_connections',
  'not_allowed',
  'oversized',
  'idle_timeout',
  'malformed',
  'self', // udp: the source port is the echo's own port (udp-guard.ts)
  'reflector_port', // udp: the source port is 0 or a service that answers datagrams (udp-guard.ts)
  'rate_limited', // udp datagrams / tcp echo connections above the per-source rate (rate-limit.ts)
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export const enum Proto {
  Tcp = 0,
  Udp = 1,
  Http = 2,
}

export const enum Reject {
  MaxConnections = 0,
  NotAllowed = 1,
  Oversized = 2,
  IdleTimeout = 3,
  Malformed = 4,
  Self = 5,
  ReflectorPort = 6,
  RateLimited = 7,
}

/**
 * The (protocol, reason) pairs that can actually happen; their series exist from
 * start at zero, the others are never exported.
 */
export const REJECT_PAIRS: ReadonlyArray<readonly [Proto, Reject]> = [
  [Proto.Tcp, Reject.MaxConnections],
  [Proto.Tcp, Reject.NotAllowed],
  [Proto.Tcp, Reject.Oversized],
  [Proto.Tcp, Reject.IdleTimeout],
  [Proto.Tcp, Reject.Malformed],
  [Proto.Tcp, Reject.RateLimited], // connection attempts above tcpConnectRatePerSource
  [Proto.Udp, Reject.NotAllowed],
  [Proto.Udp, Reject.Oversized],
  [Proto.Udp, Reject.Self],
  [Proto.Udp, Reject.ReflectorPort],
  [Proto.Udp, Reject.RateLimited],
  [Proto.Http, Reject.MaxConnections],
  [Proto.Http, Reject.NotAllowed],
  [Proto.Http, Reject.Oversized], // ?size= above httpMaxBodyBytes
  [Proto.Http, Reject.Malformed], // ?size= not a decimal integer
];

export interface ListenAddress {
  /** IP literal ("0.0.0.0", "::", "127.0.0.1"); "::" is dual stack. */
  host: string;
  /** 0 = any free port (read the real one from Responder.addresses()). */
  port: number;
}

/**
 * The responder's limits, the same in the config (ResponderConfig, which
 * extends this) and in the options startResponder takes.
 */
export interface ResponderLimits {
  /** Open connections per TCP listener (tcp echo, and separately http); excess accepted and closed at once. >= 1. */
  maxConnections: number;
  /** Bytes held undelivered per tcp echo connection (see file header). 16..64 MiB. */
  maxFrameBytes: number;
  /** Larger UDP datagrams are dropped, not echoed. 0..65507. */
  maxDatagramBytes: number;
  /** A connection with no traffic for this long is closed. 1 ms..24 h. */
  idleTimeoutMs: number;
  /** Source networks allowed to use any listener; [] = every source (default). */
  allowCidrs: string[];
  /** Body size of a plain GET /v1/ping. 0..httpMaxBodyBytes. */
  httpBodyBytes: number;
  /** Upper bound of GET /v1/ping?size=N. >= 0, at most 64 MiB. */
  httpMaxBodyBytes: number;
  /** UDP echo: datagrams per second answered per source address; 0 = no limit. Default RATE_LIMIT_DEFAULTS. */
  udpRatePerSource?: number;
  /** UDP echo: datagrams a source may send at once before the rate applies. >= 1. */
  udpBurstPerSource?: number;
  /** TCP echo: connections per second accepted per source address; 0 = no limit. */
  tcpConnectRatePerSource?: number;
  /** TCP echo: connections a source may open at once before the rate applies. >= 1. */
  tcpConnectBurstPerSource?: number;
  /** Source addresses each rate limiter tracks at most (oldest forgotten first). >= 1. */
  rateLimitSources?: number;
}

/**
 * Per-source rate limits, when not configured. 2,000 datagrams/s lets a heavy
 * on-demand test at 1,000 probes/s from one prober through with a 2x margin, and
 * ends an echo loop with another reflector after at most a burst (rate-limit.ts).
 * Connections: a tcp_echo prober holds one connection; a `tcp` probe opens one
 * per probe (and has its answer from the kernel's handshake before we see it).
 * 65,536 sources: about 10 MB per limiter when full.
 */
export const RATE_LIMIT_DEFAULTS = {
  udpRatePerSource: 2000,
  udpBurstPerSource: 2000,
  tcpConnectRatePerSource: 1000,
  tcpConnectBurstPerSource: 1000,
  rateLimitSources: 65_536,
} as const;

/** Upper bounds of the rate-limit options (a rate above this is no limit: use 0). */
export const MAX_RATE_PER_SOURCE = 10_000_000;
export const MAX_RATE_LIMIT_SOURCES = 1_000_000;

/** The rate-limit options with their defaults filled in. */
export function rateLimits(opts: ResponderLimits): Required<Pick<ResponderLimits, keyof typeof RATE_LIMIT_DEFAULTS>> {
  return {
    udpRatePerSource: opts.udpRatePerSource ?? RATE_LIMIT_DEFAULTS.udpRatePerSource,
    udpBurstPerSource: opts.udpBurstPerSource ?? RATE_LIMIT_DEFAULTS.udpBurstPerSource,
    tcpConnectRatePerSource: opts.tcpConnectRatePerSource ?? RATE_LIMIT_DEFAULTS.tcpConnectRatePerSource,
    tcpConnectBurstPerSource: opts.tcpConnectBurstPerSource ?? RATE_LIMIT_DEFAULTS.tcpConnectBurstPerSource,
    rateLimitSources: opts.rateLimitSources ?? RATE_LIMIT_DEFAULTS.rateLimitSources,
  };
}

export interface ResponderOptions extends ResponderLimits {
  /** tcp_ping_prometheus-compatible TCP echo of 16-byte frames. Absent = not started. */
  tcpEcho?: ListenAddress;
  /** RFC 862 UDP echo. Absent = not started. */
  udpEcho?: ListenAddress;
  /** HTTP GET /v1/ping. Absent = not started. */
  http?: ListenAddress;
  /** How long close() lets connections flush before destroying them. Default 1000. */
  closeGraceMs?: number;
}

export class ResponderOptionError extends Error {
  readonly code = 'FP_ERR_RESPONDER_OPTION';
  constructor(
    readonly option: string,
    why: string,
  ) {
    super(`responder option ${option}: ${why}`);
    this.name = 'ResponderOptionError';
  }
}

const MAX_UDP_PAYLOAD = 65507; // 65535 - 8 (UDP) - 20 (IPv4)
export const MAX_HTTP_BODY_BYTES = 64 * 1024 * 1024;

/**
 * Bounds of every numeric limit, declared once: validateResponderOptions() checks them
 * when a responder starts, and the configuration derives its responder.* formats,
 * their documented ranges and its check of the same rules from this table, so
 * `check-config` rejects what the responder would refuse (exit 2, named key) instead
 * of `run` failing later. `max` may depend on another limit (httpBodyBytes).
 */
export interface LimitRule {
  min: number;
  max: number;
  /** A second upper bound taken from another option (cross-field rule). */
  atMost?: keyof ResponderLimits;
  unit: 'count' | 'bytes' | 'ms';
}

export const RESPONDER_LIMIT_RULES = {
  maxConnections: { min: 1, max: 10_000_000, unit: 'count' },
  maxFrameBytes: { min: 16, max: MAX_HTTP_BODY_BYTES, unit: 'bytes' },
  maxDatagramBytes: { min: 0, max: MAX_UDP_PAYLOAD, unit: 'bytes' },
  // A day: idle connections are closed by a per-connection timer (< 2^31-1 ms).
  idleTimeoutMs: { min: 1, max: 86_400_000, unit: 'ms' },
  httpMaxBodyBytes: { min: 0, max: MAX_HTTP_BODY_BYTES, unit: 'bytes' },
  httpBodyBytes: { min: 0, max: MAX_HTTP_BODY_BYTES, atMost: 'httpMaxBodyBytes', unit: 'bytes' },
  // Per-source rate limits (optional in the options: RATE_LIMIT_DEFAULTS apply when absent).
  udpRatePerSource: { min: 0, max: MAX_RATE_PER_SOURCE, unit: 'count' },
  udpBurstPerSource: { min: 1, max: MAX_RATE_PER_SOURCE, unit: 'count' },
  tcpConnectRatePerSource: { min: 0, max: MAX_RATE_PER_SOURCE, unit: 'count' },
  tcpConnectBurstPerSource: { min: 1, max: MAX_RATE_PER_SOURCE, unit: 'count' },
  rateLimitSources: { min: 1, max: MAX_RATE_LIMIT_SOURCES, unit: 'count' },
} as const satisfies Partial<Record<keyof ResponderLimits, LimitRule>>;

export type NumericResponderLimit = keyof typeof RESPONDER_LIMIT_RULES;

export interface ResponderLimitProblem {
  option: NumericResponderLimit;
  value: unknown;
  message: string;
}

/**
 * Every numeric limit outside its rule (all of them, not only the first). `show`
 * renders a bound in the caller's units (the config shows durations as "24h").
 */
export function responderLimitProblems(
  limits: Partial<Pick<ResponderLimits, NumericResponderLimit>>,
  show: (n: number, rule: LimitRule) => string = (n) => String(n),
  nameOf: (option: NumericResponderLimit) => string = (o) => o,
): ResponderLimitProblem[] {
  const out: ResponderLimitProblem[] = [];
  for (const [option, r] of Object.entries(RESPONDER_LIMIT_RULES) as Array<[NumericResponderLimit, LimitRule]>) {
    const v = limits[option] ?? (RATE_LIMIT_DEFAULTS as Partial<Record<NumericResponderLimit, number>>)[option];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < r.min || v > r.max) {
      out.push({ option, value: v, message: `must be an integer in ${show(r.min, r)}..${show(r.max, r)}, got ${String(v)}` });
    } else if (r.atMost !== undefined) {
      const other = limits[r.atMost as NumericResponderLimit];
      if (typeof other === 'number' && v > other)
        out.push({ option, value: v, message: `must be at most ${nameOf(r.atMost as NumericResponderLimit)} (${show(other, r)}), got ${show(v, r)}` });
    }
  }
  return out;
}

function integerIn(option: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ResponderOptionError(option, `must be an integer in ${min}..${max}, got ${String(value)}`);
  }
}

function listenAddress(option: string, value: ListenAddress | undefined): void {
  if (value === undefined) return;
  if (isIP(value.host) === 0) throw new ResponderOptionError(`${option}.host`, `must be an IP address, got "${value.host}"`);
  integerIn(`${option}.port`, value.port, 0, 65535);
}

/** Throws ResponderOptionError (or CidrError from the allowlist) on the first bad option. */
export function validateResponderOptions(opts: ResponderOptions): void {
  listenAddress('tcpEcho', opts.tcpEcho);
  listenAddress('udpEcho', opts.udpEcho);
  listenAddress('http', opts.http);
  if (!opts.tcpEcho && !opts.udpEcho && !opts.http) {
    throw new ResponderOptionError('tcpEcho/udpEcho/http', 'no listener configured');
  }
  const [first] = responderLimitProblems(opts);
  if (first) throw new ResponderOptionError(first.option, first.message);
  if (opts.closeGraceMs !== undefined) integerIn('closeGraceMs', opts.closeGraceMs, 0, 600_000);
  if (!Array.isArray(opts.allowCidrs)) throw new ResponderOptionError('allowCidrs', 'must be an array of CIDR strings');
}

/** Parse the `size` query parameter of /v1/ping: a decimal integer, or -1 if malformed. */
export function parseSizeParam(text: string): number {
  if (!/^(0|[1-9][0-9]{0,9})$/.test(text)) return -1;
  return Number(text);
}

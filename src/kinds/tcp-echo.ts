/**
 * tcp_echo: RTT of 16-byte frames over one persistent connection per target
 * (workers/probes/tcp-echo.ts), reconnecting with capped exponential backoff.
 */
import { parseDuration } from '../values/duration.js';
import { durationFormat } from '../values/format.js';
import { HOUR_MS, MINUTE_MS, type Range } from '../values/range.js';
import type { KindModule } from './kind.js';
import { CONNECT_REASONS } from './tcp.js';

export const TCP_ECHO_BOUNDS = {
  /** reconnect_min_backoff / reconnect_max_backoff. */
  reconnectBackoff: { min: 1, max: HOUR_MS },
  /** connect_timeout. */
  connectTimeout: { min: 1, max: 10 * MINUTE_MS },
} as const satisfies Record<string, Range>;

/** Without connect_timeout, a connect may take the larger of the probe timeout and this (capped by the bound). */
export const TCP_ECHO_MIN_CONNECT_TIMEOUT_MS = 3000;

export type TcpEchoOptions = {
  readonly kind: 'tcp_echo';
  /** First wait before reconnecting; never above reconnectMaxBackoffMs. */
  readonly reconnectMinBackoffMs: number;
  readonly reconnectMaxBackoffMs: number;
  /** Limit on establishing the connection (connect_timeout, or derived from the target's timeout). */
  readonly connectTimeoutMs: number;
};

export const tcpEchoKind: KindModule<'tcp_echo', TcpEchoOptions> = {
  kind: 'tcp_echo',
  addressing: 'host_port',
  options: {
    reconnect_min_backoff: {
      format: durationFormat(TCP_ECHO_BOUNDS.reconnectBackoff),
      default: '100ms',
      doc: 'First wait before reconnecting a broken tcp_echo connection.',
    },
    reconnect_max_backoff: {
      format: durationFormat(TCP_ECHO_BOUNDS.reconnectBackoff),
      default: '30s',
      doc: 'tcp_echo keeps one connection per target; after it breaks, reconnect waits double up to this.',
    },
    connect_timeout: {
      format: durationFormat(TCP_ECHO_BOUNDS.connectTimeout),
      default: null,
      nullable: true,
      doc: 'Limit on establishing the tcp_echo connection (unset: the larger of timeout and 3s).',
    },
  },
  normalise: (v, timing) => {
    const max = parseDuration(v.reconnect_max_backoff);
    const ct = TCP_ECHO_BOUNDS.connectTimeout;
    return {
      kind: 'tcp_echo',
      reconnectMaxBackoffMs: max,
      // A minimum above the maximum would make the backoff shrink: the maximum wins.
      reconnectMinBackoffMs: Math.min(max, parseDuration(v.reconnect_min_backoff)),
      connectTimeoutMs:
        v.connect_timeout === null ? Math.min(ct.max, Math.max(timing.timeoutMs, TCP_ECHO_MIN_CONNECT_TIMEOUT_MS)) : parseDuration(v.connect_timeout),
    };
  },
  // Connect failures, then a connection lost with probes in flight (tcp-errors.ts establishedErrorReason).
  reasons: [...CONNECT_REASONS, 'closed'],
  zeroReasons: ['refused', 'reset', 'closed'],
  families: ['connects', 'connected'],
};

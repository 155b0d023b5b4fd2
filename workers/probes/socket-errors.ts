/**
 * Maps Node socket error codes to the bounded ErrorReason codes (the `reason` label).
 * Shared by the tcp, tcp_echo and http probers: errors of any Node socket, so named for
 * what they map, not for one kind (they were tcp-errors.ts).
 *
 * The distinction that matters to operators: `refused` (a RST answered our SYN: the host
 * is up, nothing listens) is not a timeout (SYN unanswered: host or path down, or a
 * firewall dropping), and neither is `net_unreachable`/`host_unreachable` (the kernel got an
 * ICMP unreachable or has no route).
 */
import { ErrorReason } from '../../src/protocol/events.js';

/** Reason for an error raised while connecting (before the handshake completed). */
export function connectErrorReason(code: string | undefined): number {
  switch (code) {
    case 'ECONNREFUSED':
      return ErrorReason.refused;
    case 'ENETUNREACH':
      return ErrorReason.net_unreachable;
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
      return ErrorReason.host_unreachable;
    case 'ECONNRESET':
      return ErrorReason.reset;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
      return ErrorReason.dns;
    default:
      return ErrorReason.connect_failed;
  }
}

/** Reason for an error on an established connection. */
export function establishedErrorReason(code: string | undefined): number {
  switch (code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return ErrorReason.reset;
    case 'ENETUNREACH':
      return ErrorReason.net_unreachable;
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
      return ErrorReason.host_unreachable;
    default:
      return ErrorReason.closed;
  }
}

/** `err.code` of a Node error, if any, without trusting its shape. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

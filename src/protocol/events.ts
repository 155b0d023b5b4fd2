/**
 * Fixed codes shared by workers (which write them into batches) and the main
 * thread (which turns them into counters and label values). Codes are part of
 * the batch wire format: append new ones, never renumber.
 */

/** What a batch record says happened to one probe of one target. */
export const enum ProbeEvent {
  /** A probe left the socket. value: 0. */
  Sent = 1,
  /** A matching reply arrived in time. value: RTT in seconds. */
  Reply = 2,
  /** No reply within the timeout. */
  Timeout = 3,
  /** The probe failed with a reason (reason field). value: RTT in seconds if known, else 0. */
  Error = 4,
  /** A second reply for a probe already answered. */
  Duplicate = 5,
  /** A reply for a probe already counted as timed out. value: RTT in seconds. */
  Late = 6,
  /** A connection (tcp_echo) was established. */
  Connect = 7,
  /** Connection state changed: aux = 1 up, 0 down. */
  Connected = 8,
  /** One HTTP phase duration: aux = HttpPhase, value: seconds. */
  Phase = 9,
  /** HTTP status code of a completed request: aux = status code. */
  Status = 10,
  /** A target could not be probed at all (bad address for its kind, ...): reason field. */
  TargetInvalid = 11,
}

/**
 * Bounded set of failure reasons; the names are the `reason` label values.
 * Index in ERROR_REASON_NAMES == code written in batches.
 */
export const ERROR_REASON_NAMES = [
  'unknown', // 0
  'send_failed', // 1 sendto() failed (EHOSTUNREACH, ENETUNREACH, EPERM from a firewall, ...)
  'net_unreachable', // 2 ICMP destination unreachable, code 0 (v4) / no route (v6)
  'host_unreachable', // 3
  'port_unreachable', // 4
  'protocol_unreachable', // 5
  'admin_prohibited', // 6 administratively prohibited (filtered)
  'unreachable_other', // 7 any other destination-unreachable code
  'ttl_exceeded', // 8 ICMP time exceeded
  'refused', // 9 TCP RST on connect
  'reset', // 10 connection reset after being established
  'dns', // 11 name resolution failed
  'tls', // 12 TLS handshake / certificate failure
  'status_4xx', // 13 HTTP 4xx
  'status_5xx', // 14 HTTP 5xx
  'status_other', // 15 HTTP 1xx/3xx when not accepted
  'protocol', // 16 peer answered with something that is not the protocol (bad echo frame, ...)
  'connect_failed', // 17 other connect() failures
  'closed', // 18 peer closed the connection while a probe was in flight
  'packet_too_big', // 19 ICMPv6 packet too big / v4 fragmentation needed
  'resolve', // 20 a host name target has no usable address
] as const;

export type ErrorReasonName = (typeof ERROR_REASON_NAMES)[number];

export const ErrorReason: { readonly [K in ErrorReasonName]: number } = Object.freeze(
  Object.fromEntries(ERROR_REASON_NAMES.map((n, i) => [n, i])) as { [K in ErrorReasonName]: number },
);

/** HTTP phases, the columns of pingmesh / perftest. Index == aux code of a Phase record. */
export const HTTP_PHASE_NAMES = ['dns', 'connect', 'tls', 'first_byte', 'total'] as const;
export type HttpPhaseName = (typeof HTTP_PHASE_NAMES)[number];

/**
 * Per-worker counters of packets/frames that were received but dropped because they
 * were not ours or were malformed. Index == position in the batch header's drop block.
 * Names are the `reason` label of fleetprobe_worker_dropped_packets_total.
 */
export const DROP_REASON_NAMES = [
  'short', // 0 shorter than the headers it claims
  'wrong_type', // 1 ICMP type we did not ask for (kernel filter missing or bypassed)
  'foreign_identifier', // 2 ICMP identifier of another prober
  'bad_cookie', // 3 our identifier, but the payload cookie does not match this process
  'unknown_slot', // 4 cookie ok but the slot is not (or no longer) one of ours
  'address_mismatch', // 5 reply came from another address than the probed one
  'bad_sequence', // 6 sequence never sent (in the future or garbage)
  'garbage', // 7 any other undecodable input (TCP/UDP echo frames, ...)
] as const;
export type DropReasonName = (typeof DROP_REASON_NAMES)[number];
export const DropReason: { readonly [K in DropReasonName]: number } = Object.freeze(
  Object.fromEntries(DROP_REASON_NAMES.map((n, i) => [n, i])) as { [K in DropReasonName]: number },
);

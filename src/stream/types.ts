/**
 * The contracts between the subscription hub (src/stream/hub.ts) and the transports
 * that carry its events (SSE over HTTP, gRPC): how events are encoded (a
 * StreamFormat, one per wire format, so an event is encoded once and the same bytes
 * go to every subscriber of that format) and where they are written (a StreamSink,
 * one per client connection).
 */
import type { SlotState } from '../aggregate/store.js';
import type { Catalog } from './selection.js';
import type { Outcome } from './outcome.js';

export const TRANSPORTS = ['sse', 'grpc'] as const;
export type Transport = (typeof TRANSPORTS)[number];

export const MODES = ['stream', 'once', 'poll'] as const;
export type Mode = (typeof MODES)[number];

/** Why a subscriber was dropped: the `reason` label of fleetprobe_stream_dropped_clients_total. */
export const DROP_REASONS = ['buffer_full', 'stalled'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** Why a subscription was refused: the `reason` label of fleetprobe_stream_rejected_total. */
export const REJECT_REASONS = ['limit', 'not_found', 'invalid', 'unauthorized'] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** The time of a batch or a state read, computed once and shared by every event of it. */
export interface EventTime {
  ms: number;
  /** RFC 3339, for SSE. */
  iso: string;
  /** Nanoseconds since the Unix epoch, for gRPC (a double: exact to well under a microsecond). */
  unixNano: number;
}

export function eventTime(ms: number): EventTime {
  return { ms, iso: new Date(ms).toISOString(), unixNano: ms * 1e6 };
}

/** Encodes events into one wire format's chunks (C: string for SSE, bytes for gRPC). */
export interface StreamFormat<C> {
  /** Per-target parts (name, kind, address, labels) prepared when the target set changes. */
  setCatalog(catalog: Catalog): void;
  /** One probe result (outcome: src/stream/outcome.ts; reason: ErrorReason code). */
  result(slot: number, outcome: Outcome, rttSeconds: number, reason: number, time: EventTime): C;
  /** The state of one target. */
  state(slot: number, state: SlotState, time: EventTime): C;
  /** End of a full state (ONCE, each POLL, start of STREAM): gNMI's sync_response. */
  sync(): C;
  /** Bytes of a chunk (for the backlog bound of a subscriber still being synced). */
  size(chunk: C): number;
}

/** One subscriber's connection. Implementations must not keep the arrays given to write(). */
export interface StreamSink<C> {
  readonly transport: Transport;
  /** Bytes accepted but not yet handed to the kernel (or, for HTTP/2, not yet let through by flow control). */
  backlog(): number;
  write(chunks: readonly C[]): void;
  /** Resolves once the backlog is below `bytes` or the connection is gone. */
  below(bytes: number): Promise<void>;
  /** Normal end after a ONCE subscription. */
  end(): void;
  /** The client cannot keep up: a last event with the reason (if it can still be written), then close. */
  drop(reason: DropReason): void;
  /** The server is stopping. */
  shutdown(): void;
  /** Called once when the client goes away (or the sink is closed by any of the above). */
  onClose(cb: () => void): void;
}

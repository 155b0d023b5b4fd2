/**
 * The interface every probe kind implements (one kind per file, like cloudprober's
 * probes/<kind>/). The shard owns one prober per kind and calls it when a target is
 * due; the prober reports outcomes into the shared sink (the batch writer), and
 * owns its sockets and its in-flight bookkeeping, including timeouts.
 */
import type { ShardTarget } from '../../src/targets/model.js';

/** Where probers report outcomes. Implemented by the shard on top of BatchWriter. */
export interface ProbeSink {
  sent(slot: number): void;
  /** seq: the probe's sequence number where the kind has one the tests use (udp: reordering). */
  reply(slot: number, rttSeconds: number, seq?: number): void;
  timeout(slot: number): void;
  /** reason: an ErrorReason code from src/protocol/events.ts. */
  error(slot: number, reason: number): void;
  duplicate(slot: number): void;
  late(slot: number, rttSeconds: number): void;
  /** Garbage or foreign input received and dropped (reason: DropReason code). */
  dropped(reason: number): void;
  /** Kind-specific records (Connect, Connected, Phase, Status): see ProbeEvent. */
  record(slot: number, event: number, reason: number, aux: number, value: number): void;
  /** Optional: body bytes of an answered http probe and its request-to-end time (on-demand throughput). */
  transferred?(slot: number, bytes: number, seconds: number): void;
  /** Optional: operational messages (socket options unavailable, ...) forwarded to the main thread's log. */
  log?(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

export interface Prober {
  /** Start tracking a target (its sockets may be opened lazily). Throws on a target it cannot probe. */
  add(target: ShardTarget): void;
  /** Optional: room for `targets` targets now (the shard is about to add that many; per-target columns sized exactly). */
  reserve?(targets: number): void;
  /** Stop tracking a target; in-flight probes for it are forgotten, not counted. */
  remove(slot: number): void;
  /** Send one probe to the target now. Must not block; must report exactly one outcome per Sent. */
  probe(slot: number): void;
  /** Close sockets and timers. In-flight probes are abandoned. */
  close(): Promise<void> | void;
  /**
   * Optional: write the prober's own statistics into the header of the batch about to
   * be shipped (src/protocol/batch.ts Header): counters as deltas since the previous
   * call (add to the field), states as their current value.
   */
  reportStats?(header: Float64Array): void;
}

/** How the shard creates the prober of one kind (one instance per kind per shard). */
export type ProberFactory = (sink: ProbeSink, settings: import('../../src/protocol/messages.js').ShardSettings) => Prober;

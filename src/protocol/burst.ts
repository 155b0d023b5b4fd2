/**
 * One-shot bursts: "run N probes of one ad-hoc target on a worker and give me what
 * happened". Used by GET /probe (the multi-target pattern) and meant for on-demand
 * tests too. The messages travel on the shard's own port, beside its updates and
 * batches (see messages.ts):
 *
 *   main ──{burst, id, spec}──▶ worker           start a burst (answered exactly once)
 *   main ──{burst_cancel, id}──▶ worker          end it early (answered with what it has)
 *   worker ──{burst_done, id, records, times, …}──▶ main
 *   worker ──{burst_failed, id, reason}──▶ main  the prober refused the target
 *
 * On the worker the burst uses the shard's own prober of the kind (its sockets, its
 * ICMP identifier), under a slot from a range that the main thread's store never
 * hands out (BURST_SLOT_BASE and up), so its outcomes never reach the scheduled
 * targets' counters: the shard routes records of those slots to the burst instead of
 * its batch. What comes back is every record the prober wrote for the burst, in the
 * batch codec (batch.ts, one record per sink call, slot field = the burst slot), plus
 * the time of each record: the receiver reads them with BatchReader and summarises
 * them (src/pool/burst-summary.ts).
 */
import type { ShardTarget } from '../targets/model.js';

/** First slot of the range reserved for bursts (the store's slots are dense indices far below). */
export const BURST_SLOT_BASE = 0xffff0000;
/** Bursts one worker runs at once (its slot range); more are refused with reason "busy". */
export const BURST_SLOTS = 0x10000;

/** Probes in one burst: the protocol's own cap, far above any endpoint's limit. */
export const BURST_MAX_COUNT = 100_000;

/** The ad-hoc target of a burst: a ShardTarget without the fields only scheduling uses. */
export type BurstTarget = Omit<ShardTarget, 'slot' | 'phaseMs' | 'intervalMs'>;

export interface BurstSpec {
  target: BurstTarget;
  /** Probes to send, 1..BURST_MAX_COUNT; the first at once, then one every intervalMs. */
  count: number;
  /** Gap between probe starts (ms, > 0). The prober's in-flight rule applies: timeoutMs <= 15 x intervalMs. */
  intervalMs: number;
}

/** Main -> worker. */
export type ToWorkerBurst = { type: 'burst'; id: number; spec: BurstSpec } | { type: 'burst_cancel'; id: number };

/** Worker -> main: the answer to one burst, exactly one per {burst}. */
export type FromWorkerBurst =
  | {
      type: 'burst_done';
      id: number;
      /** Batch-codec buffer (header + records) holding only this burst's records. Transferred. */
      records: ArrayBuffer;
      /** Float64Array buffer: when each record was written, ms after the first probe started. Transferred. */
      times: ArrayBuffer;
      /** Probes started (may be < count when cancelled or when the worker stopped). */
      started: number;
      /** From the first probe start to the last outcome (ms). */
      durationMs: number;
      /** The burst ended early: cancelled, its deadline passed, or the shard stopped. */
      cut: boolean;
    }
  | { type: 'burst_failed'; id: number; reason: string };

/** Why a spec cannot run, or null. Checked on both sides (main before sending, worker before starting). */
export function checkBurstSpec(spec: BurstSpec): string | null {
  if (!Number.isInteger(spec.count) || spec.count < 1 || spec.count > BURST_MAX_COUNT) return `count must be an integer 1..${BURST_MAX_COUNT}`;
  if (!(spec.intervalMs > 0) || !Number.isFinite(spec.intervalMs)) return 'interval must be > 0 ms';
  if (!(spec.target.timeoutMs > 0) || !Number.isFinite(spec.target.timeoutMs)) return 'timeout must be > 0 ms';
  return null;
}

/**
 * Longest a burst may run before the worker ends it on its own (a prober that never
 * reports an outcome must not hold the burst forever): the last start plus one timeout
 * plus a second of grace.
 */
export function burstDeadlineMs(spec: BurstSpec): number {
  return (spec.count - 1) * spec.intervalMs + spec.target.timeoutMs + 1000;
}

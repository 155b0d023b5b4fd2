/**
 * Messages between the main thread and a shard worker (over the task's MessagePort).
 * One port is FIFO in each direction, which the update protocol and shutdown rely on
 * (see generations.ts):
 *
 *   main ──task {settings, targets, generation}──▶ worker   (the whole set, at start and restart)
 *   main ──{update, generation, upsert, remove}──▶ worker   (every generation, to every worker; empty when nothing changed for it)
 *   worker ──{batch}──▶ main                                (header: the generation applied when its records were written)
 *   main ──{stop}──▶ worker ──{final batch}, {stopped}──▶ main
 *   main ──{burst | burst_cancel}──▶ worker ──{burst_done | burst_failed}──▶ main   (one-shot bursts: burst.ts)
 */
import type { MessagePort } from 'node:worker_threads';
import type { ShardTarget } from '../targets/model.js';
import type { FromWorkerBurst, ToWorkerBurst } from './burst.js';

/** Settings every shard gets; fixed for the life of a shard task. */
export interface ShardSettings {
  workerIndex: number;
  /** Per-process random cookie carried in probe payloads (uint32). */
  cookie: number;
  /** ICMP identifier of this worker (uint16), distinct from the other workers'. */
  icmpIdentifier: number;
  /** How often the worker ships a batch (ms). */
  flushIntervalMs: number;
}

/** The piscina task payload: one long-lived shard. */
export interface ShardTask {
  settings: ShardSettings;
  /** The shard's whole target set at `generation`. */
  targets: ShardTarget[];
  /** The generation `targets` is the set of (0 when generations are not used). */
  generation?: number;
  /** Main <-> worker channel; transferred with the task. */
  port: MessagePort;
}

/**
 * Main -> worker. `update`: what changed for this worker at `generation`, applied in
 * this order: remove these slots, then add or replace these targets (a slot in upsert
 * that the worker has is a changed target: its prober state starts afresh).
 */
export type ToWorker = { type: 'update'; generation: number; upsert: ShardTarget[]; remove: number[] } | { type: 'stop' } | ToWorkerBurst;

/** Worker -> main. */
export type FromWorker =
  | { type: 'batch'; buf: ArrayBuffer }
  | { type: 'started'; workerIndex: number; threadId: number }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string; fields?: Record<string, unknown> }
  /** The worker could not probe this target, as given at `generation`. */
  | { type: 'target_rejected'; slot: number; reason: string; generation: number }
  /** Posted after the final batch: nothing more comes from this worker. */
  | { type: 'stopped' }
  /** The answer to a one-shot burst (burst.ts). */
  | FromWorkerBurst;

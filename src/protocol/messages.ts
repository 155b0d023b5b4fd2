/**
 * Messages between the main thread and a shard worker (over the task's MessagePort).
 * One port is FIFO in each direction, which the update protocol and shutdown rely on
 * (see generations.ts):
 *
 *   main ──task {settings, targets, generation}──▶ worker   (the whole set, at start and restart)
 *   main ──{update, generation, upsert, remove}──▶ worker   (every generation, to every worker; empty when nothing changed for it)
 *   worker ──{batch}──▶ main                                (header: the generation applied when its records were written)
 *   main ──{stop}──▶ worker ──{final batch}, {stopped}──▶ main
 *   main ──{test_start}──▶ worker ──{test_end}──▶ main      (on-demand tests; {test_cancel} ends one early)
 */
import type { MessagePort } from 'node:worker_threads';
import type { ShardTarget } from '../targets/model.js';
import type { IcmpSocketChoice } from './icmp-socket-mode.js';
import type { TestResult } from './ondemand/result.js';

/**
 * Slots from here up belong to on-demand tests, never to the store: a worker routes
 * the outcomes of these slots to the test's tally instead of the batch, so a test
 * never touches a scheduled target's counters. Below 2^32 because the probers carry
 * slots as uint32 in their payloads.
 */
export const ONDEMAND_SLOT_BASE = 0xf000_0000;
/** On-demand slots in use at once are bounded far below this (tests.max_concurrent). */
export const ONDEMAND_SLOT_SPAN = 0x0fff_ffff;

/** One on-demand test as its worker runs it. */
export interface OnDemandTask {
  id: string;
  /** The target to probe, with slot >= ONDEMAND_SLOT_BASE and the test's interval/timeout/payload. */
  target: ShardTarget;
  count: number;
  /** Between probe starts (may be fractional: a udp rate). */
  intervalMs: number;
}

export type TestEndState = 'done' | 'failed' | 'cancelled';

/** Settings every shard gets; fixed for the life of a shard task. */
export interface ShardSettings {
  workerIndex: number;
  /** Per-process random cookie carried in probe payloads (uint32). */
  cookie: number;
  /** ICMP identifier of this worker (uint16), distinct from the other workers'. */
  icmpIdentifier: number;
  /** How often the worker ships a batch (ms). */
  flushIntervalMs: number;
  /** Which ICMP socket to open (default auto): see protocol/icmp-socket-mode.ts. */
  icmpSocket?: IcmpSocketChoice;
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
export type ToWorker =
  | { type: 'update'; generation: number; upsert: ShardTarget[]; remove: number[] }
  | { type: 'stop' }
  | { type: 'test_start'; task: OnDemandTask }
  | { type: 'test_cancel'; id: string };

/** Worker -> main. */
export type FromWorker =
  | { type: 'batch'; buf: ArrayBuffer }
  | { type: 'started'; workerIndex: number; threadId: number }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string; fields?: Record<string, unknown> }
  /** The worker could not probe this target, as given at `generation`. */
  | { type: 'target_rejected'; slot: number; reason: string; generation: number }
  /** An on-demand test ended (its result so far when cancelled or failed; error: why it failed). */
  | { type: 'test_end'; id: string; state: TestEndState; result: TestResult; error?: string }
  /** Posted after the final batch: nothing more comes from this worker. */
  | { type: 'stopped' };

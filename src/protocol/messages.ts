/** Messages between the main thread and a shard worker (over the task's MessagePort). */
import type { MessagePort } from 'node:worker_threads';
import type { ShardTarget } from '../targets/model.js';

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
  targets: ShardTarget[];
  /** Main <-> worker channel; transferred with the task. */
  port: MessagePort;
}

/** Main -> worker. `update` replaces the shard's whole target set (diffed by slot). */
export type ToWorker = { type: 'update'; targets: ShardTarget[] } | { type: 'stop' };

/** Worker -> main. */
export type FromWorker =
  | { type: 'batch'; buf: ArrayBuffer }
  | { type: 'started'; workerIndex: number; threadId: number }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string; fields?: Record<string, unknown> }
  | { type: 'target_rejected'; slot: number; reason: string };

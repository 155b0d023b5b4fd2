/**
 * The hook for loads added on top of probing in an A/B run of the benchmark
 * (`npm run bench -- --stream-clients …`): the same exporter is measured without
 * and with them, back to back. A load starts once the exporter is ready and warmed
 * up, runs through the measured window, and reports what it did when stopped.
 * Streaming clients are one (stream-load.ts); the on-demand UDP test of issue 8's
 * benchmark is meant to be another (a class implementing ExtraLoad, added to the
 * list in stream-bench.ts behind its own option).
 */
import type { TargetEntry } from './loopback-fleet.js';

export interface LoadContext {
  /** http://127.0.0.1:PORT of the exporter. */
  baseUrl: string;
  /** host:port of its gRPC server. */
  grpcAddress: string;
  /** The exporter's targets, in target-file order. */
  targets: readonly TargetEntry[];
}

/** One line of facts for the report: name -> figure. */
export type LoadFigures = Record<string, number | string>;

export interface ExtraLoad {
  readonly name: string;
  /** Exporter config keys this load needs (merged into the config of both A and B runs, so they differ only by the load). */
  readonly exporterConfig?: Record<string, unknown>;
  /** Start; resolves once the load is running in steady state. Bounded in time. */
  start(ctx: LoadContext): Promise<void>;
  /** Mark the start of the measured window (counters reset). */
  windowStart(): void;
  /** Stop (bounded in time) and report what happened during the window. */
  stop(): Promise<LoadFigures>;
}

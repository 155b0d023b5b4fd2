/**
 * The hook for loads added on top of probing in an A/B run of the benchmark
 * (`npm run bench -- --stream-clients …`): the same exporter is measured without
 * and with them, back to back. A load starts once the exporter is ready and warmed
 * up, runs through the measured window, and reports what it did when stopped.
 * Streaming clients are one (stream-load.ts), the on-demand udp test of issue 8's
 * benchmark another (ondemand-udp-load.ts); each joins the list in stream-bench.ts's
 * loadsFor() behind its own option.
 */
import type { TargetEntry } from './loopback-fleet.js';

export interface LoadContext {
  /** http://127.0.0.1:PORT of the exporter. */
  baseUrl: string;
  /** host:port of its gRPC server. */
  grpcAddress: string;
  /** The exporter's targets, in target-file order. */
  targets: readonly TargetEntry[];
  /** host:port of the exporter's own responder.udp_echo, when the bench config has one. */
  udpEcho?: string;
}

/** One line of facts for the report: name -> figure (`cell`, if the load has a `column`, goes into the table instead). */
export type LoadFigures = Record<string, number | string>;

export interface ExtraLoad {
  readonly name: string;
  /** Exporter config keys this load needs (merged into the config of both A and B runs, so they differ only by the load). */
  readonly exporterConfig?: Record<string, unknown>;
  /** A column of its own in the A/B table (header); its B cell is the figures' `cell`. */
  readonly column?: string;
  /** Start; resolves once the load is running in steady state. Bounded in time. */
  start(ctx: LoadContext): Promise<void>;
  /** Mark the start of the measured window (counters reset). */
  windowStart(): void;
  /** Stop (bounded in time) and report what happened during the window. */
  stop(): Promise<LoadFigures>;
}

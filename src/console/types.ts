/** Shapes of the console API's answers (src/http/routes/console.ts). RTTs in seconds; null: no data. */

export interface WorkerHealth {
  worker: number;
  running: boolean;
  targets: number;
  restarts: number;
  batches: number;
  probesStarted: number;
  lastBatchAgeSeconds: number | null;
  schedulingLagMaxSeconds: number;
  eventLoopLagMaxSeconds: number;
  eventLoopLagMeanSeconds: number;
  droppedPackets: number;
}

export interface Series {
  resolution_seconds?: number;
  resolutionMs: number;
  end: number[];
  answered: number[];
  lost: number[];
  p50: (number | null)[];
  p90: (number | null)[];
  p99: (number | null)[];
  targets?: number[];
}

export interface Figures {
  answered: number;
  lost: number;
  loss: number | null;
  p50: number | null;
  p99: number | null;
}

export interface Overview {
  node: { name: string; labels: Record<string, string>; mesh: boolean };
  version: string;
  mode: string;
  started: string;
  ready: boolean;
  config: string;
  last_reload: { status: string; at: string; problems: { key: string; message: string }[] } | null;
  target_files: { file: string; ok: boolean; error: string | null; targets: number; kept_last_good: boolean }[];
  targets: { total: number; by_state: Record<string, number>; by_kind: Record<string, number>; by_health: Record<string, number> };
  fleet: { now: Figures & { window_seconds: number | null }; history: Series | null };
  worst: { name: string; kind: string; address: string; loss: number | null; last_rtt: number | null; p99: number | null }[];
  workers: WorkerHealth[];
  history: {
    retention_seconds: number;
    resolution_seconds: number;
    points: number;
    bytes: number;
    bytes_per_target: number;
    closes: number;
    last_close_ms: number;
  } | null;
}

export interface TargetsList {
  generation: number;
  count: number;
  names: string[];
  addresses: string[];
  kinds: string[];
  kind: number[];
  states: string[];
  state: number[];
  labelKeys: string[];
  labels: Record<string, { values: string[]; index: number[] }>;
  errors: Record<string, string>;
  // Added on load.
  namesLower?: string[];
  addressesLower?: string[];
}

export interface LiveColumns {
  generation: number;
  count: number;
  loss: Float32Array;
  last: Float32Array;
  p99: Float32Array;
  at: number;
}

export interface TargetDetail {
  name: string;
  kind: string;
  address: string;
  labels: Record<string, string>;
  state: string;
  error: string | null;
  worker: number | null;
  ip: string | null;
  source: string | null;
  totals: { sent: number; received: number; timeouts: number; late: number; duplicates: number; errors: Record<string, number> } | null;
  loss_window_ratio?: number | null;
  last_rtt?: number | null;
  history: (Series & { retention_seconds: number }) | null;
  open: { startMs: number; answered: number; lost: number; p50: number | null; p90: number | null; p99: number | null } | null;
  now: number;
}

export interface MatrixCell {
  targets: number;
  answered: number;
  lost: number;
  loss: number | null;
  p50: number | null;
  p99: number | null;
}

export interface MatrixAnswer {
  rowLabel: string;
  colLabel: string;
  rows: { key: string; nodes: string[]; missing: { node: string; error: string }[] }[];
  cols: string[];
  cells: (MatrixCell | null)[][];
  window: string;
  windows: string[];
  labels: { rows: string[]; cols: string[] };
  mesh: boolean;
  nodes: { node: string; ok: boolean; error: string | null; ms: number; cached: boolean }[];
}

/** What GET /api/v1/tests/ID answers (issue 8's documented shape). */
export interface OnDemandTest {
  id: string;
  state: 'running' | 'done' | 'failed' | 'cancelled';
  tags?: Record<string, string>;
  started_at?: string;
  ended_at?: string | null;
  error?: string;
  result?: {
    sent: number;
    received: number;
    loss_ratio: number;
    rtt_seconds: {
      min: number | null;
      avg: number | null;
      max: number | null;
      stddev: number | null;
      p50: number | null;
      p90: number | null;
      p99: number | null;
    };
    errors: Record<string, number>;
    [k: string]: unknown;
  };
}

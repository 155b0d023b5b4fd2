/**
 * fleetprobe's own health metrics: a prom-client Registry with the default
 * process_* / nodejs_* metrics plus per-worker and control-plane families.
 *
 * Everything is READ AT SCRAPE TIME: the supervisor only records facts
 * (onBatch, onWorkerRestart, ...) into plain arrays; each metric's collect()
 * copies them into prom-client at scrape time. Nothing runs on a timer, and a
 * batch costs a few array additions, not prom-client label hashing.
 *
 * Batch header counters are deltas since the worker's previous batch; they are
 * summed here, so the exported counters are monotonic for the life of the
 * process and carry on across worker restarts (a replacement worker starts its
 * own deltas from zero, which simply add to the totals).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { LOOP_LAG_RESOLUTION_MS } from '../../workers/loop-lag.js';
import { Header } from '../protocol/batch.js';
import { DROP_REASON_NAMES } from '../protocol/events.js';
import { WORKER_FAILURE_REASONS, WORKER_STATES, type WorkerFailureReason, type WorkerState } from '../pool/failures.js';

/** Target states always exported (0 when absent), so alerts on them never see a missing series. */
export const TARGET_STATES = ['configured', 'probing', 'rejected', 'unresolved'] as const;

/** prom-client default metrics left out: see the constructor. */
export const LINT_FAILING_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

/** Where self metrics read the store's drop counters (a TargetStore fits). */
export interface StoreStats {
  readonly unknownSlotRecords: number;
  readonly malformedRecords: number;
  readonly size: number;
}

export interface SelfMetricsOptions {
  /** Store whose dropped-record counters are exported. */
  store?: StoreStats;
  /** Register process_* and nodejs_* default metrics (default true). */
  defaultMetrics?: boolean;
  /** Monotonic clock in ms (tests inject one); default performance.now(). */
  monotonicNow?: () => number;
  /** Wall clock in ms for timestamps; default Date.now(). */
  wallNow?: () => number;
}

/** What the OTLP exporter has done so far (read at scrape time; see metrics/otel.ts). */
export interface OtlpExportStats {
  /** Export requests that succeeded. */
  readonly exports: number;
  /** Export requests that failed (collector unreachable, rejected, timed out). */
  readonly failures: number;
  /** Export intervals skipped because a request of the previous export was still pending. */
  readonly skipped: number;
  /** Unix time (s) of the newest successful export request, 0 before the first. */
  readonly lastSuccessAt: number;
}

/** Per-worker facts, indexed by worker index. */
class WorkerFacts {
  probesStarted: number[] = [];
  batches: number[] = [];
  rejectedBatches: number[] = [];
  restarts: number[] = [];
  /** failures[worker][reason index in WORKER_FAILURE_REASONS] */
  failures: number[][] = [];
  /** Current restart backoff (s); 0 while the worker is healthy. */
  backoff: number[] = [];
  targets: number[] = [];
  state: WorkerState[] = [];
  /** Monotonic ms of the newest batch, or NaN before the first batch of this thread. */
  lastBatchAt: number[] = [];
  /** Monotonic ms at which the current thread was (re)started or configured. */
  startedAt: number[] = [];
  schedLagSum: number[] = [];
  schedLagCount: number[] = [];
  schedLagMax: number[] = [];
  loopLagMax: number[] = [];
  loopLagMean: number[] = [];
  /** drops[worker][reason] */
  drops: number[][] = [];
  /** Highest index seen + 1. */
  seen = 0;

  ensure(i: number, now: number): void {
    while (this.seen <= i) {
      const k = this.seen++;
      this.probesStarted[k] = 0;
      this.batches[k] = 0;
      this.rejectedBatches[k] = 0;
      this.restarts[k] = 0;
      this.failures[k] = new Array<number>(WORKER_FAILURE_REASONS.length).fill(0);
      this.backoff[k] = 0;
      this.targets[k] = 0;
      this.state[k] = 'starting';
      this.lastBatchAt[k] = NaN;
      this.startedAt[k] = now;
      this.schedLagSum[k] = 0;
      this.schedLagCount[k] = 0;
      this.schedLagMax[k] = 0;
      this.loopLagMax[k] = 0;
      this.loopLagMean[k] = 0;
      this.drops[k] = new Array<number>(DROP_REASON_NAMES.length).fill(0);
    }
  }
}

/**
 * A `summary` family with only _sum and _count, from counters kept elsewhere.
 * prom-client's Summary can only observe() single values, not be given a sum
 * and a count, so this implements the small interface its Registry reads.
 */
class SumCountSummary {
  readonly type = 'summary';
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => { labels: Record<string, string>; sum: number; count: number }[],
  ) {}
  get() {
    const values: { labels: Record<string, string>; value: number; metricName: string }[] = [];
    for (const r of this.read()) {
      values.push({ labels: r.labels, value: r.sum, metricName: `${this.name}_sum` });
      values.push({ labels: r.labels, value: r.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
  reset(): void {}
}

export class SelfMetrics {
  readonly registry: Registry;
  private readonly w = new WorkerFacts();
  private configuredWorkers = 0;
  private targetStates = new Map<string, number>(TARGET_STATES.map((s) => [s, 0]));
  /** 0 until the supervisor reports the initial load with onReload(true). */
  private reloadOk = 0;
  private reloadSuccessAt = 0;
  private readonly mono: () => number;
  private readonly wall: () => number;
  private readonly store: StoreStats | undefined;
  private otlp: (() => OtlpExportStats) | null = null;

  constructor(opts: SelfMetricsOptions = {}) {
    this.registry = new Registry();
    this.mono = opts.monotonicNow ?? (() => performance.now());
    this.wall = opts.wallNow ?? (() => Date.now());
    this.store = opts.store;
    if (opts.defaultMetrics !== false) {
      // 50 ms instead of prom-client's 10 ms event-loop sampling: same reason as the
      // workers' LoopLagMonitor (each sample wakes the thread).
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: LOOP_LAG_RESOLUTION_MS });
      // These three are gauges named like counters (promtool lint: non-counter
      // with _total suffix) and only repeat sum(nodejs_active_<x>), so drop them.
      for (const name of LINT_FAILING_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    }
    this.register();
  }

  /**
   * A new pool of n worker threads (at start, and when a reload restarts the pool):
   * workers below n get series at zero, and no thread counts as running until it
   * delivers a batch (a pool shrunk from 2 to 1 must not go on reporting 2 running).
   */
  setWorkers(n: number): void {
    this.configuredWorkers = n;
    const now = this.mono();
    if (n > 0) this.w.ensure(n - 1, now);
    for (let i = 0; i < this.w.seen; i++) {
      this.w.state[i] = 'starting';
      this.w.startedAt[i] = now;
      this.w.lastBatchAt[i] = NaN;
    }
  }

  /** Record a merged batch's header (see src/protocol/batch.ts Header). */
  onBatch(workerIndex: number, header: Float64Array): void {
    const w = this.w;
    const i = workerIndex;
    const now = this.mono();
    w.ensure(i, now);
    w.batches[i]++;
    w.state[i] = 'running';
    w.lastBatchAt[i] = now;
    w.targets[i] = header[Header.Targets];
    w.probesStarted[i] += nonNegative(header[Header.ProbesStarted]);
    w.schedLagSum[i] += nonNegative(header[Header.SchedLagSum]);
    w.schedLagCount[i] += nonNegative(header[Header.SchedLagCount]);
    w.schedLagMax[i] = header[Header.SchedLagMax];
    w.loopLagMax[i] = header[Header.LoopLagMax];
    w.loopLagMean[i] = header[Header.LoopLagMean];
    const drops = w.drops[i];
    for (let r = 0; r < DROP_REASON_NAMES.length; r++) drops[r] += nonNegative(header[Header.DropsStart + r]);
  }

  /** A batch from this worker could not be decoded (and was not merged). */
  onBatchRejected(workerIndex: number): void {
    this.w.ensure(workerIndex, this.mono());
    this.w.rejectedBatches[workerIndex]++;
  }

  /**
   * A worker thread ended (crash, out of memory, stall, exit) and will be replaced after
   * `backoffMs`: counted by reason, and not running until its replacement's first batch.
   */
  onWorkerFailure(workerIndex: number, reason: WorkerFailureReason, backoffMs: number): void {
    const w = this.w;
    const now = this.mono();
    w.ensure(workerIndex, now);
    w.restarts[workerIndex]++;
    w.failures[workerIndex][WORKER_FAILURE_REASONS.indexOf(reason)]++;
    w.backoff[workerIndex] = backoffMs / 1000;
    w.state[workerIndex] = reason === 'stalled' ? 'stalled' : 'crashed';
    w.startedAt[workerIndex] = now;
    w.lastBatchAt[workerIndex] = NaN;
  }

  /** A worker's shard task was (re)launched: starting until its first batch. */
  onWorkerLaunch(workerIndex: number): void {
    this.w.ensure(workerIndex, this.mono());
    this.w.state[workerIndex] = 'starting';
    this.w.startedAt[workerIndex] = this.mono();
  }

  /** A worker that had failed ran long enough to be healthy: its backoff is reset. */
  onWorkerHealthy(workerIndex: number): void {
    this.w.ensure(workerIndex, this.mono());
    this.w.backoff[workerIndex] = 0;
  }

  /** Export fleetprobe_otlp_* from these stats (call once, when OTLP export is on). */
  setOtlpSource(read: () => OtlpExportStats): void {
    if (this.otlp === null) this.registerOtlp();
    this.otlp = read;
  }

  /** Counts of targets by state; the TARGET_STATES are always exported, missing ones as 0. */
  setTargetStates(counts: Readonly<Record<string, number>>): void {
    const m = new Map<string, number>(TARGET_STATES.map((s) => [s, 0]));
    for (const [k, v] of Object.entries(counts)) m.set(k, v);
    this.targetStates = m;
  }

  /** A configuration load or reload finished; call it for the initial load too. */
  onReload(ok: boolean): void {
    this.reloadOk = ok ? 1 : 0;
    if (ok) this.reloadSuccessAt = this.wall() / 1000;
  }

  private workerIndexes(): number[] {
    const n = Math.max(this.configuredWorkers, this.w.seen);
    return Array.from({ length: n }, (_, i) => i);
  }

  private registerOtlp(): void {
    const reg = this.registry;
    const exports: Counter<'result'> = new Counter({
      name: 'fleetprobe_otlp_exports_total',
      help: 'OTLP metric export requests by result (success, failure). A large fleet is exported in several requests per interval.',
      labelNames: ['result'],
      registers: [reg],
      collect: () => {
        exports.reset();
        const st = this.otlp?.();
        exports.inc({ result: 'success' }, st?.exports ?? 0);
        exports.inc({ result: 'failure' }, st?.failures ?? 0);
      },
    });
    const skipped: Counter = new Counter({
      name: 'fleetprobe_otlp_exports_skipped_total',
      help: 'OTLP export intervals skipped because a request of the previous export was still pending (a slow or unresponsive collector): at most one export is in flight.',
      registers: [reg],
      collect: () => {
        skipped.reset();
        skipped.inc(this.otlp?.().skipped ?? 0);
      },
    });
    const lastOk: Gauge = new Gauge({
      name: 'fleetprobe_otlp_last_export_success_timestamp_seconds',
      help: 'Unix time of the newest successful OTLP export request (0 before the first).',
      registers: [reg],
      collect: () => lastOk.set(this.otlp?.().lastSuccessAt ?? 0),
    });
  }

  private register(): void {
    const reg = this.registry;
    const w = this.w;
    const perWorkerCounter = (name: string, help: string, col: number[]): void => {
      const c: Counter<'worker'> = new Counter({
        name,
        help,
        labelNames: ['worker'],
        registers: [reg],
        collect: () => {
          c.reset();
          for (const i of this.workerIndexes()) c.inc({ worker: String(i) }, col[i] ?? 0);
        },
      });
    };
    const perWorkerGauge = (name: string, help: string, read: (i: number) => number): void => {
      const g: Gauge<'worker'> = new Gauge({
        name,
        help,
        labelNames: ['worker'],
        registers: [reg],
        collect: () => {
          g.reset();
          for (const i of this.workerIndexes()) g.set({ worker: String(i) }, read(i));
        },
      });
    };

    const workers: Gauge<'state'> = new Gauge({
      name: 'fleetprobe_workers',
      help:
        'Worker threads: configured; running (sent a batch since its last (re)start); starting (no batch yet); ' +
        'stalled (sent no batch for workers_stall_timeout, being replaced); crashed (died, being replaced).',
      labelNames: ['state'],
      registers: [reg],
      collect: () => {
        const n = new Map<WorkerState, number>(WORKER_STATES.map((st) => [st, 0]));
        for (const i of this.workerIndexes()) if (i < this.configuredWorkers) n.set(w.state[i], (n.get(w.state[i]) ?? 0) + 1);
        workers.set({ state: 'configured' }, this.configuredWorkers);
        for (const [state, count] of n) workers.set({ state }, count);
      },
    });
    perWorkerCounter('fleetprobe_worker_restarts_total', 'Times a worker thread was replaced (after a crash, running out of memory, a stall or an exit).', w.restarts);
    const failures: Counter<'worker' | 'reason'> = new Counter({
      name: 'fleetprobe_worker_failures_total',
      help: 'Worker threads that ended and were replaced, by reason: crashed, out_of_memory, stalled, exited.',
      labelNames: ['worker', 'reason'],
      registers: [reg],
      collect: () => {
        failures.reset();
        for (const i of this.workerIndexes()) {
          const f = w.failures[i];
          WORKER_FAILURE_REASONS.forEach((reason, r) => failures.inc({ worker: String(i), reason }, f === undefined ? 0 : f[r]));
        }
      },
    });
    perWorkerGauge(
      'fleetprobe_worker_restart_backoff_seconds',
      'Delay before the newest restart of a worker while it keeps failing (doubles per failure in a row up to a cap); 0 once it runs healthily.',
      (i) => w.backoff[i] ?? 0,
    );
    perWorkerCounter('fleetprobe_worker_probes_started_total', 'Probes started by a worker (all kinds).', w.probesStarted);
    perWorkerCounter('fleetprobe_batches_received_total', 'Result batches merged from a worker.', w.batches);
    perWorkerCounter('fleetprobe_batches_rejected_total', 'Result batches from a worker that could not be decoded (dropped).', w.rejectedBatches);
    perWorkerGauge('fleetprobe_worker_targets', 'Targets owned by a worker (as of its newest batch).', (i) => w.targets[i] ?? 0);
    perWorkerGauge(
      'fleetprobe_worker_last_batch_age_seconds',
      "Seconds since a worker's newest batch; before its first batch, seconds since it was (re)started.",
      (i) => {
        const now = this.mono();
        const last = w.lastBatchAt[i];
        const since = Number.isNaN(last) ? w.startedAt[i] : last;
        return since === undefined ? 0 : Math.max(0, (now - since) / 1000);
      },
    );
    reg.registerMetric(
      new SumCountSummary('fleetprobe_worker_scheduling_lag_seconds', 'How late probes started relative to their deadline (sum and count).', () =>
        this.workerIndexes().map((i) => ({ labels: { worker: String(i) }, sum: w.schedLagSum[i] ?? 0, count: w.schedLagCount[i] ?? 0 })),
      ) as unknown as Metric<string>,
    );
    perWorkerGauge('fleetprobe_worker_scheduling_lag_max_seconds', 'Largest probe start lateness in the newest batch interval.', (i) => w.schedLagMax[i] ?? 0);
    perWorkerGauge('fleetprobe_worker_event_loop_lag_max_seconds', "Largest event-loop delay of the worker thread in the newest batch interval.", (i) => w.loopLagMax[i] ?? 0);
    perWorkerGauge('fleetprobe_worker_event_loop_lag_mean_seconds', "Mean event-loop delay of the worker thread in the newest batch interval.", (i) => w.loopLagMean[i] ?? 0);

    const dropped: Counter<'worker' | 'reason'> = new Counter({
      name: 'fleetprobe_worker_dropped_packets_total',
      help: 'Received packets/frames dropped by a worker because they were not ours or malformed, by reason.',
      labelNames: ['worker', 'reason'],
      registers: [reg],
      collect: () => {
        dropped.reset();
        for (const i of this.workerIndexes()) {
          const d = w.drops[i];
          for (let r = 0; r < DROP_REASON_NAMES.length; r++) dropped.inc({ worker: String(i), reason: DROP_REASON_NAMES[r] }, d === undefined ? 0 : d[r]);
        }
      },
    });

    const unknownSlot: Counter = new Counter({
      name: 'fleetprobe_batch_records_unknown_slot_total',
      help: 'Batch records dropped because their target slot is not (or no longer) defined.',
      registers: [reg],
      collect: () => {
        unknownSlot.reset();
        unknownSlot.inc(this.store?.unknownSlotRecords ?? 0);
      },
    });
    const malformed: Counter = new Counter({
      name: 'fleetprobe_batch_records_malformed_total',
      help: 'Batch records dropped because their event code or HTTP phase is unknown.',
      registers: [reg],
      collect: () => {
        malformed.reset();
        malformed.inc(this.store?.malformedRecords ?? 0);
      },
    });

    const targets: Gauge<'state'> = new Gauge({
      name: 'fleetprobe_targets',
      help: 'Targets by state: configured (valid, owned by this instance), probing (placed on a worker and not refused by it), rejected (invalid, or refused by a worker), unresolved (name does not resolve).',
      labelNames: ['state'],
      registers: [reg],
      collect: () => {
        targets.reset();
        for (const [state, n] of this.targetStates) targets.set({ state }, n);
      },
    });

    const reloadOk: Gauge = new Gauge({
      name: 'fleetprobe_config_last_reload_successful',
      help: 'Whether the last configuration (re)load succeeded (1) or failed (0).',
      registers: [reg],
      collect: () => reloadOk.set(this.reloadOk),
    });
    const reloadAt: Gauge = new Gauge({
      name: 'fleetprobe_config_last_reload_success_timestamp_seconds',
      help: 'Unix time of the last successful configuration (re)load (0 before the first).',
      registers: [reg],
      collect: () => reloadAt.set(this.reloadSuccessAt),
    });
  }
}

function nonNegative(v: number): number {
  return v > 0 ? v : 0;
}

/**
 * fleetprobe's own health metrics: a prom-client Registry with the default
 * process_* / nodejs_* metrics plus per-worker and control-plane families.
 *
 * Everything is READ AT SCRAPE TIME: the per-worker facts live in one record per
 * worker (src/pool/worker-record.ts), written by the shard supervisor; the store's
 * drop counters live in the store; each metric's collect() copies them into
 * prom-client at scrape time. Nothing runs on a timer, and a batch costs a few
 * additions in its worker's record, not prom-client label hashing.
 *
 * The records' counters are monotonic for the life of the process and carry on
 * across worker and pool restarts (see worker-record.ts).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { IcmpSocketBits } from '../protocol/batch.js';
import { DROP_REASON_NAMES } from '../protocol/events.js';
import { LOOP_LAG_RESOLUTION_MS } from '../protocol/loop-lag.js';
import { WORKER_FAILURE_REASONS, WORKER_STATES, type WorkerState } from '../pool/failures.js';
import { WorkerRecords, type WorkerRecord } from '../pool/worker-record.js';

/** Target states always exported (0 when absent), so alerts on them never see a missing series. */
export const TARGET_STATES = ['configured', 'probing', 'rejected', 'unresolved'] as const;

/** prom-client default metrics left out: see the constructor. */
export const LINT_FAILING_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;

/** Clocks that time ICMP RTTs: the `clock` label of fleetprobe_worker_icmp_rtt_clock_total. */
export const ICMP_RTT_CLOCKS = ['kernel', 'monotonic'] as const;
/** The `family` label of the ICMP socket gauges, in IcmpSocket4/6 order. */
export const ICMP_FAMILIES = ['ipv4', 'ipv6'] as const;

/** Where self metrics read the store's drop counters (a TargetStore fits). */
export interface StoreStats {
  readonly unknownSlotRecords: number;
  readonly staleRecords: number;
  readonly malformedRecords: number;
  readonly invalidValues: number;
  readonly size: number;
}

export interface SelfMetricsOptions {
  /** Store whose dropped-record counters are exported. */
  store?: StoreStats;
  /** The per-worker records (written by the supervisor); default: an empty table. */
  workers?: WorkerRecords;
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

/** One worker's health (SelfMetrics.workerHealth()); lags are those of its newest batch interval. */
export interface WorkerHealth {
  worker: number;
  running: boolean;
  /** starting, running, stalled or crashed (see pool/failures.ts). */
  state: WorkerState;
  targets: number;
  restarts: number;
  batches: number;
  probesStarted: number;
  /** Seconds since its newest batch; null before the first batch of this thread. */
  lastBatchAgeSeconds: number | null;
  schedulingLagMaxSeconds: number;
  eventLoopLagMaxSeconds: number;
  eventLoopLagMeanSeconds: number;
  droppedPackets: number;
}

export class SelfMetrics {
  readonly registry: Registry;
  readonly workers: WorkerRecords;
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
    this.workers = opts.workers ?? new WorkerRecords(this.mono);
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

  /** Export fleetprobe_otlp_* from these stats (call once, when OTLP export is on). */
  setOtlpSource(read: () => OtlpExportStats): void {
    if (this.otlp === null) this.registerOtlp();
    this.otlp = read;
  }

  /**
   * Each configured worker's health from its record (for the web console's overview):
   * the same facts the self metrics export, read on demand.
   */
  workerHealth(): WorkerHealth[] {
    const now = this.mono();
    const out: WorkerHealth[] = [];
    const all = this.workers.all();
    for (let i = 0; i < this.workers.configured && i < all.length; i++) {
      const r = all[i];
      out.push({
        worker: i,
        running: r.state === 'running',
        state: r.state,
        targets: r.targets,
        restarts: r.restarts,
        batches: r.batches,
        probesStarted: r.probesStarted,
        lastBatchAgeSeconds: Number.isNaN(r.lastBatchAt) ? null : (now - r.lastBatchAt) / 1000,
        schedulingLagMaxSeconds: r.schedLagMax,
        eventLoopLagMaxSeconds: r.loopLagMax,
        eventLoopLagMeanSeconds: r.loopLagMean,
        droppedPackets: r.drops.reduce((a, b) => a + b, 0),
      });
    }
    return out;
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

  /** Records of the current pool's workers and of any higher index an earlier, larger pool had. */
  private records(): readonly WorkerRecord[] {
    if (this.workers.configured > 0) this.workers.get(this.workers.configured - 1);
    return this.workers.all();
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
    const perWorkerCounter = (name: string, help: string, read: (r: WorkerRecord) => number): void => {
      const c: Counter<'worker'> = new Counter({
        name,
        help,
        labelNames: ['worker'],
        registers: [reg],
        collect: () => {
          c.reset();
          for (const r of this.records()) c.inc({ worker: String(r.index) }, read(r));
        },
      });
    };
    const perWorkerGauge = (name: string, help: string, read: (r: WorkerRecord) => number): void => {
      const g: Gauge<'worker'> = new Gauge({
        name,
        help,
        labelNames: ['worker'],
        registers: [reg],
        collect: () => {
          g.reset();
          for (const r of this.records()) g.set({ worker: String(r.index) }, read(r));
        },
      });
    };
    const perWorkerAndFamilyGauge = (name: string, help: string, bit: IcmpSocketBits): void => {
      const g: Gauge<'worker' | 'family'> = new Gauge({
        name,
        help,
        labelNames: ['worker', 'family'],
        registers: [reg],
        collect: () => {
          g.reset();
          for (const r of this.records())
            ICMP_FAMILIES.forEach((family, f) => g.set({ worker: String(r.index), family }, (r.icmpSocket[f] & bit) !== 0 ? 1 : 0));
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
        const configured = this.workers.configured;
        const n = new Map<WorkerState, number>(WORKER_STATES.map((st) => [st, 0]));
        for (const r of this.records()) if (r.index < configured) n.set(r.state, (n.get(r.state) ?? 0) + 1);
        workers.set({ state: 'configured' }, configured);
        for (const [state, count] of n) workers.set({ state }, count);
      },
    });
    perWorkerCounter(
      'fleetprobe_worker_restarts_total',
      'Times a worker thread was replaced (after a crash, running out of memory, a stall or an exit).',
      (r) => r.restarts,
    );
    const failures: Counter<'worker' | 'reason'> = new Counter({
      name: 'fleetprobe_worker_failures_total',
      help: 'Worker threads that ended and were replaced, by reason: crashed, out_of_memory, stalled, exited.',
      labelNames: ['worker', 'reason'],
      registers: [reg],
      collect: () => {
        failures.reset();
        for (const r of this.records()) WORKER_FAILURE_REASONS.forEach((reason, k) => failures.inc({ worker: String(r.index), reason }, r.failures[k]));
      },
    });
    perWorkerGauge(
      'fleetprobe_worker_restart_backoff_seconds',
      'Delay before the newest restart of a worker while it keeps failing (doubles per failure in a row up to a cap); 0 once it runs healthily.',
      (r) => r.backoffMs / 1000,
    );
    perWorkerCounter('fleetprobe_worker_probes_started_total', 'Probes started by a worker (all kinds).', (r) => r.probesStarted);
    perWorkerCounter('fleetprobe_batches_received_total', 'Result batches merged from a worker.', (r) => r.batches);
    perWorkerCounter('fleetprobe_batches_rejected_total', 'Result batches from a worker that could not be decoded (dropped).', (r) => r.rejectedBatches);
    perWorkerGauge('fleetprobe_worker_targets', 'Targets owned by a worker (as of its newest batch).', (r) => r.targets);
    perWorkerGauge(
      'fleetprobe_worker_target_generation',
      'Generation of the newest target update a worker has applied (acknowledged in its batches); a slot freed by an update is reused once every worker has reached it.',
      (r) => r.acknowledged,
    );
    perWorkerGauge(
      'fleetprobe_worker_last_batch_age_seconds',
      "Seconds since a worker's newest batch; before its first batch, seconds since it was (re)started.",
      (r) => Math.max(0, (this.mono() - (Number.isNaN(r.lastBatchAt) ? r.stateSince : r.lastBatchAt)) / 1000),
    );
    reg.registerMetric(
      new SumCountSummary('fleetprobe_worker_scheduling_lag_seconds', 'How late probes started relative to their deadline (sum and count).', () =>
        this.records().map((r) => ({ labels: { worker: String(r.index) }, sum: r.schedLagSum, count: r.schedLagCount })),
      ) as unknown as Metric<string>,
    );
    perWorkerGauge('fleetprobe_worker_scheduling_lag_max_seconds', 'Largest probe start lateness in the newest batch interval.', (r) => r.schedLagMax);
    perWorkerGauge(
      'fleetprobe_worker_event_loop_lag_max_seconds',
      'Largest event-loop delay of the worker thread in the newest batch interval.',
      (r) => r.loopLagMax,
    );
    perWorkerGauge(
      'fleetprobe_worker_event_loop_lag_mean_seconds',
      'Mean event-loop delay of the worker thread in the newest batch interval.',
      (r) => r.loopLagMean,
    );

    const dropped: Counter<'worker' | 'reason'> = new Counter({
      name: 'fleetprobe_worker_dropped_packets_total',
      help: 'Received packets/frames dropped by a worker because they were not ours or malformed, by reason.',
      labelNames: ['worker', 'reason'],
      registers: [reg],
      collect: () => {
        dropped.reset();
        for (const r of this.records()) DROP_REASON_NAMES.forEach((reason, k) => dropped.inc({ worker: String(r.index), reason }, r.drops[k]));
      },
    });

    const rttClock: Counter<'worker' | 'clock'> = new Counter({
      name: 'fleetprobe_worker_icmp_rtt_clock_total',
      help:
        "ICMP replies (in time or late) by the clock that timed their RTT: kernel (the kernel's receive timestamp against a clock read right before sendto(), as ping does) " +
        "or monotonic (the worker's own clock at send and at read, which adds its wake-up and read time: no kernel timestamps, or inconsistent ones).",
      labelNames: ['worker', 'clock'],
      registers: [reg],
      collect: () => {
        rttClock.reset();
        for (const r of this.records()) {
          rttClock.inc({ worker: String(r.index), clock: 'kernel' }, r.icmpRttKernel);
          rttClock.inc({ worker: String(r.index), clock: 'monotonic' }, r.icmpRttMonotonic);
        }
      },
    });
    perWorkerCounter(
      'fleetprobe_worker_icmp_kernel_timestamps_rejected_total',
      'ICMP replies whose kernel timestamps were inconsistent with the monotonic clock (the wall clock stepped between send and receive), timed by the monotonic clock instead.',
      (r) => r.icmpStampsRejected,
    );
    perWorkerAndFamilyGauge(
      'fleetprobe_worker_icmp_socket_open',
      "1 when the worker's raw ICMP socket of this family is open (it opens with the first target of the family).",
      IcmpSocketBits.Open,
    );
    perWorkerAndFamilyGauge(
      'fleetprobe_worker_icmp_bpf_filter_attached',
      "1 when the worker's raw ICMP socket of this family has its BPF filter on the worker's ICMP identifier (else every ICMP packet on the host reaches the worker and is filtered in user space).",
      IcmpSocketBits.BpfFilter,
    );
    perWorkerAndFamilyGauge(
      'fleetprobe_worker_icmp_type_filter_attached',
      "1 when the worker's raw ICMP socket of this family has its ICMP type filter (ICMP_FILTER / ICMP6_FILTER).",
      IcmpSocketBits.TypeFilter,
    );
    perWorkerAndFamilyGauge(
      'fleetprobe_worker_icmp_kernel_timestamps_enabled',
      "1 when the worker's raw ICMP socket of this family has kernel receive timestamps (SO_TIMESTAMPNS), so RTTs can be timed by the kernel clock.",
      IcmpSocketBits.KernelTimestamps,
    );
    perWorkerAndFamilyGauge(
      'fleetprobe_worker_icmp_ping_socket',
      "1 when the worker's ICMP socket of this family is a ping socket (SOCK_DGRAM: icmp.socket dgram, or auto without CAP_NET_RAW), 0 when raw. A ping socket needs no type or BPF filter: the kernel delivers only its own replies.",
      IcmpSocketBits.PingSocket,
    );

    const unknownSlot: Counter = new Counter({
      name: 'fleetprobe_batch_records_unknown_slot_total',
      help: 'Batch records dropped because their target slot is not (or no longer) defined.',
      registers: [reg],
      collect: () => {
        unknownSlot.reset();
        unknownSlot.inc(this.store?.unknownSlotRecords ?? 0);
      },
    });
    const stale: Counter = new Counter({
      name: 'fleetprobe_batch_records_stale_total',
      help: 'Batch records dropped because their batch was written before the target now in their slot was put there (a record of an earlier target of the slot).',
      registers: [reg],
      collect: () => {
        stale.reset();
        stale.inc(this.store?.staleRecords ?? 0);
      },
    });
    const invalid: Counter = new Counter({
      name: 'fleetprobe_batch_records_invalid_value_total',
      help: 'RTT and HTTP phase values in batch records that were negative or not finite (observed as 0).',
      registers: [reg],
      collect: () => {
        invalid.reset();
        invalid.inc(this.store?.invalidValues ?? 0);
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

/**
 * The piscina task of one worker thread: a long-lived shard that owns its targets,
 * its probers (one per kind, sockets included), one scheduler and one batcher,
 * and runs until told to stop over its MessagePort.
 *
 *   main ──{update | stop | test_start | test_cancel}──▶ port ──▶ shard
 *   shard ──{started, batch (transferred ArrayBuffer), log, target_rejected, test_end, stopped}──▶ main
 *
 * Probers write to a ProbeSinkRouter: scheduled slots into the batch, on-demand slots
 * (tests, workers/ondemand.ts) into the test's tally, so a test shares the probers of
 * its kind and never touches the store.
 *
 * A batch is posted every flushIntervalMs even when it holds no records: it is the
 * heartbeat the main thread uses for readiness and batch age.
 *
 * Target updates are deltas tagged with a generation (src/protocol/generations.ts):
 * before applying one, the shard ships the records it wrote since its last batch, so
 * every batch's records were written at the one generation its header names. The
 * shard decides nothing about identity: a slot in `upsert` that it has is replaced
 * (its prober state starts afresh); the main thread only sends what changed.
 *
 * On {stop}: probers closed, a final batch, then {stopped} on the same port (FIFO),
 * so the main thread knows the final batch has arrived when {stopped} does.
 *
 * Nothing one target or one packet does may end the shard: prober.add() failures
 * become target_rejected, probe() failures are caught by the scheduler, packet
 * handling is guarded inside the probers.
 *
 * `runShard` is the same code path usable directly on the main thread (tests).
 */
import { threadId } from 'node:worker_threads';
import { Header } from '../src/protocol/batch.js';
import type { FromWorker, ShardTask, ToWorker } from '../src/protocol/messages.js';
import type { ProbeKind, ShardTarget } from '../src/targets/model.js';
import { Batcher } from './batcher.js';
import { LoopLagMonitor } from './loop-lag.js';
import { proberFactories } from './probes/registry.js';
import type { Prober, ProberFactory } from './probes/prober.js';
import { Scheduler, type SchedulerOptions, type SchedulerStats } from './scheduler.js';
import { OnDemandRunner } from './ondemand.js';
import { ProbeSinkRouter } from './probe-sink-router.js';

export interface RunShardOptions {
  /** Prober factories by kind (default: the registry). */
  factories?: Partial<Record<ProbeKind, ProberFactory>>;
  scheduler?: SchedulerOptions;
  /** Called with the running shard once it is set up (tests: inspect probers). */
  onReady?: (shard: ShardRuntime) => void;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class ShardRuntime {
  readonly batcher: Batcher;
  readonly scheduler: Scheduler;
  readonly probers = new Map<ProbeKind, Prober>();
  /** The probers in the order they were made: a target's scheduler tag is its prober's index here. */
  private readonly proberList: Prober[] = [];
  readonly ondemand: OnDemandRunner;
  private readonly sink: ProbeSinkRouter;
  /** The prober of each target's slot (a key here = a target of this shard). */
  private readonly proberOf = new Map<number, Prober>();
  private readonly loopLag = new LoopLagMonitor();
  private readonly flushTimer: NodeJS.Timeout;
  private readonly schedStats: SchedulerStats = { started: 0, lagMax: 0, lagSum: 0, lagCount: 0 };
  private readonly lag = { max: 0, mean: 0 };
  private stopping: Promise<void> | null = null;
  private resolveDone!: () => void;
  readonly done: Promise<void>;
  /** The newest target update applied (the generation every record written now belongs to). */
  private generation: number;

  private readonly onMessage = (msg: ToWorker): void => {
    try {
      if (msg?.type === 'update') this.update(msg.generation, msg.upsert, msg.remove);
      else if (msg?.type === 'stop') void this.stop();
      else if (msg?.type === 'test_start') {
        if (!this.stopping) this.ondemand.start(msg.task);
      } else if (msg?.type === 'test_cancel') this.ondemand.cancel(msg.id);
    } catch (err) {
      this.log('error', 'shard: message handling failed', { error: errorMessage(err) });
    }
  };
  private readonly onPortClose = (): void => {
    void this.stop(false);
  };

  constructor(
    private readonly task: ShardTask,
    private readonly factories: Partial<Record<ProbeKind, ProberFactory>>,
    schedulerOptions: SchedulerOptions = {},
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    const { settings } = task;
    this.batcher = new Batcher(settings.workerIndex, 4096, (level, msg, fields) => this.log(level, msg, fields));
    this.ondemand = new OnDemandRunner(
      (kind) => this.proberFor(kind),
      (m) => this.post(m),
    );
    this.sink = new ProbeSinkRouter(this.batcher, this.ondemand);
    this.scheduler = new Scheduler(
      (slot, tag) => this.proberList[tag].probe(slot),
      (slot, err) => this.log('warn', 'probe start failed', { slot, error: errorMessage(err) }),
      schedulerOptions,
    );
    task.port.on('message', this.onMessage);
    task.port.on('close', this.onPortClose);
    this.post({ type: 'started', workerIndex: settings.workerIndex, threadId });
    this.generation = task.generation ?? 0;
    this.reserve(task.targets);
    for (const t of task.targets) this.addTarget(t);
    this.flushTimer = setInterval(() => this.flush(), Math.max(10, settings.flushIntervalMs));
  }

  get targetCount(): number {
    return this.proberOf.size;
  }

  /** Size the scheduler and each kind's prober for the targets about to be added, exactly. */
  private reserve(targets: readonly ShardTarget[]): void {
    const perKind = new Map<ProbeKind, number>();
    for (const t of targets) perKind.set(t.kind, (perKind.get(t.kind) ?? 0) + 1);
    this.scheduler.reserve(targets.length);
    for (const [kind, n] of perKind) {
      try {
        this.proberFor(kind).reserve?.(n);
      } catch {
        /* a kind this worker cannot probe: its targets are rejected one by one in addTarget */
      }
    }
  }

  /** Generation of the newest update applied. */
  get appliedGeneration(): number {
    return this.generation;
  }

  /**
   * Apply the update of `generation`: remove these slots, then add or replace these
   * targets. Records written so far are shipped first, under the generation they
   * were written at.
   */
  update(generation: number, upsert: readonly ShardTarget[], remove: readonly number[]): void {
    if (this.stopping) return;
    if (this.batcher.length > 0) this.flush();
    // From here on everything written (and a target_rejected) belongs to the new generation.
    this.generation = generation;
    for (const slot of remove) this.removeTarget(slot);
    for (const t of upsert) {
      if (this.proberOf.has(t.slot)) this.removeTarget(t.slot);
      this.addTarget(t);
    }
  }

  private addTarget(t: ShardTarget): void {
    let prober: Prober | undefined;
    try {
      prober = this.proberFor(t.kind);
      prober.add(t);
      this.scheduler.set(t.slot, t.intervalMs, t.phaseMs, this.proberList.indexOf(prober));
      this.proberOf.set(t.slot, prober);
    } catch (err) {
      // add() may have succeeded before scheduling failed: undo it.
      try {
        prober?.remove(t.slot);
      } catch {
        /* it never had it */
      }
      this.scheduler.remove(t.slot);
      this.proberOf.delete(t.slot);
      this.post({ type: 'target_rejected', slot: t.slot, reason: errorMessage(err), generation: this.generation });
    }
  }

  private removeTarget(slot: number): void {
    this.scheduler.remove(slot);
    const p = this.proberOf.get(slot);
    try {
      p?.remove(slot);
    } catch (err) {
      this.log('warn', 'prober remove failed', { slot, error: errorMessage(err) });
    }
    this.proberOf.delete(slot);
  }

  private proberFor(kind: ProbeKind): Prober {
    let p = this.probers.get(kind);
    if (p) return p;
    const factory = this.factories[kind];
    if (!factory) throw new Error(`probe kind '${kind}' is not supported by this worker`);
    p = factory(this.sink, this.task.settings);
    this.probers.set(kind, p);
    this.proberList.push(p);
    return p;
  }

  /** Finish the current batch and post it (transferred). */
  flush(): void {
    const h = this.batcher.header;
    this.scheduler.drainStats(this.schedStats);
    this.loopLag.take(this.lag);
    h[Header.Targets] = this.proberOf.size;
    h[Header.ProbesStarted] += this.schedStats.started;
    h[Header.SchedLagMax] = Math.max(h[Header.SchedLagMax], this.schedStats.lagMax);
    h[Header.SchedLagSum] += this.schedStats.lagSum;
    h[Header.SchedLagCount] += this.schedStats.lagCount;
    h[Header.LoopLagMax] = this.lag.max;
    h[Header.LoopLagMean] = this.lag.mean;
    for (const p of this.probers.values()) p.reportStats?.(h);
    const buf = this.batcher.take(this.generation);
    try {
      this.task.port.postMessage({ type: 'batch', buf } satisfies FromWorker, [buf]);
    } catch {
      /* port closed: the main thread is gone; stop() follows via 'close' */
    }
  }

  /** Stop probing, ship a final batch (unless the port is gone), close sockets. */
  stop(finalBatch = true): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      clearInterval(this.flushTimer);
      this.scheduler.stop();
      this.ondemand.stopAll();
      for (const p of this.probers.values()) {
        try {
          await p.close();
        } catch (err) {
          this.log('warn', 'prober close failed', { error: errorMessage(err) });
        }
      }
      if (finalBatch) {
        this.flush();
        this.post({ type: 'stopped' });
      }
      this.loopLag.stop();
      this.task.port.off('message', this.onMessage);
      this.task.port.off('close', this.onPortClose);
      // The port belongs to the main thread; unref it so it no longer keeps us alive.
      this.task.port.unref();
      this.resolveDone();
    })();
    return this.stopping;
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    this.post({ type: 'log', level, msg, fields: { workerIndex: this.task.settings.workerIndex, ...fields } });
  }

  private post(msg: FromWorker): void {
    try {
      this.task.port.postMessage(msg);
    } catch {
      /* port closed */
    }
  }
}

/** Run a shard until it receives {type:'stop'} (or its port closes). */
export async function runShard(task: ShardTask, options: RunShardOptions = {}): Promise<void> {
  const shard = new ShardRuntime(task, options.factories ?? proberFactories, options.scheduler);
  options.onReady?.(shard);
  await shard.done;
}

/** The piscina task entry point. */
export default async function shard(task: ShardTask): Promise<void> {
  const running = runShard(task); // the targets are added before this returns
  // Piscina holds the task until it ends (the life of the shard); what the probers need
  // of the targets is in their columns now, so the task's objects (a name, an ip, ... per
  // target: 50,000 per shard at 100,000 targets) are let go.
  task.targets = [];
  await running;
}

/**
 * The piscina task of one worker thread: a long-lived shard that owns its targets,
 * its probers (one per kind, sockets included), one scheduler and one batcher,
 * and runs until told to stop over its MessagePort.
 *
 *   main ──{update | stop}──▶ port ──▶ shard
 *   shard ──{started, batch (transferred ArrayBuffer), log, target_rejected}──▶ main
 *
 * A batch is posted every flushIntervalMs even when it holds no records: it is the
 * heartbeat the main thread uses for readiness and batch age.
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

export interface RunShardOptions {
  /** Prober factories by kind (default: the registry). */
  factories?: Partial<Record<ProbeKind, ProberFactory>>;
  scheduler?: SchedulerOptions;
  /** Called with the running shard once it is set up (tests: inspect probers). */
  onReady?: (shard: ShardRuntime) => void;
}

/** Whether two placements of a slot can keep their prober state. */
function sameTarget(a: ShardTarget, b: ShardTarget): boolean {
  return (
    a.kind === b.kind &&
    a.ip === b.ip &&
    a.family === b.family &&
    a.port === b.port &&
    a.url === b.url &&
    a.name === b.name &&
    a.intervalMs === b.intervalMs &&
    a.phaseMs === b.phaseMs &&
    a.timeoutMs === b.timeoutMs &&
    a.payloadSize === b.payloadSize &&
    JSON.stringify(a.options ?? {}) === JSON.stringify(b.options ?? {})
  );
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class ShardRuntime {
  readonly batcher: Batcher;
  readonly scheduler: Scheduler;
  readonly probers = new Map<ProbeKind, Prober>();
  private readonly targets = new Map<number, ShardTarget>();
  private readonly proberOf = new Map<number, Prober>();
  private readonly loopLag = new LoopLagMonitor();
  private readonly flushTimer: NodeJS.Timeout;
  private readonly schedStats: SchedulerStats = { started: 0, lagMax: 0, lagSum: 0, lagCount: 0 };
  private readonly lag = { max: 0, mean: 0 };
  private stopping: Promise<void> | null = null;
  private resolveDone!: () => void;
  readonly done: Promise<void>;

  private readonly onMessage = (msg: ToWorker): void => {
    try {
      if (msg?.type === 'update') this.update(msg.targets);
      else if (msg?.type === 'stop') void this.stop();
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
    this.scheduler = new Scheduler(
      (slot) => this.proberOf.get(slot)?.probe(slot),
      (slot, err) => this.log('warn', 'probe start failed', { slot, error: errorMessage(err) }),
      schedulerOptions,
    );
    task.port.on('message', this.onMessage);
    task.port.on('close', this.onPortClose);
    this.post({ type: 'started', workerIndex: settings.workerIndex, threadId });
    this.update(task.targets);
    this.flushTimer = setInterval(() => this.flush(), Math.max(10, settings.flushIntervalMs));
  }

  get targetCount(): number {
    return this.targets.size;
  }

  /** Replace the target set, diffed by slot: unchanged targets keep their state. */
  update(next: readonly ShardTarget[]): void {
    if (this.stopping) return;
    const seen = new Set<number>();
    for (const t of next) {
      seen.add(t.slot);
      const cur = this.targets.get(t.slot);
      if (cur && sameTarget(cur, t)) continue;
      if (cur) this.removeTarget(t.slot);
      this.addTarget(t);
    }
    for (const slot of [...this.targets.keys()]) if (!seen.has(slot)) this.removeTarget(slot);
  }

  private addTarget(t: ShardTarget): void {
    let prober: Prober | undefined;
    try {
      prober = this.proberFor(t.kind);
      prober.add(t);
      this.scheduler.set(t.slot, t.intervalMs, t.phaseMs);
      this.targets.set(t.slot, t);
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
      this.post({ type: 'target_rejected', slot: t.slot, reason: errorMessage(err) });
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
    this.targets.delete(slot);
  }

  private proberFor(kind: ProbeKind): Prober {
    let p = this.probers.get(kind);
    if (p) return p;
    const factory = this.factories[kind];
    if (!factory) throw new Error(`probe kind '${kind}' is not supported by this worker`);
    p = factory(this.batcher, this.task.settings);
    this.probers.set(kind, p);
    return p;
  }

  /** Finish the current batch and post it (transferred). */
  flush(): void {
    const h = this.batcher.header;
    this.scheduler.drainStats(this.schedStats);
    this.loopLag.take(this.lag);
    h[Header.Targets] = this.targets.size;
    h[Header.ProbesStarted] += this.schedStats.started;
    h[Header.SchedLagMax] = Math.max(h[Header.SchedLagMax], this.schedStats.lagMax);
    h[Header.SchedLagSum] += this.schedStats.lagSum;
    h[Header.SchedLagCount] += this.schedStats.lagCount;
    h[Header.LoopLagMax] = this.lag.max;
    h[Header.LoopLagMean] = this.lag.mean;
    const buf = this.batcher.take();
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
      for (const p of this.probers.values()) {
        try {
          await p.close();
        } catch (err) {
          this.log('warn', 'prober close failed', { error: errorMessage(err) });
        }
      }
      if (finalBatch) this.flush();
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
  await runShard(task);
}


/**
 * Shard supervisor: runs one long-lived shard task per piscina thread and keeps it
 * running.
 *
 * Why piscina is configured the way it is:
 * - `atomics: 'disabled'`: by default a piscina worker waits for its next task in
 *   `Atomics.wait`, which blocks the thread's event loop — a shard's sockets and
 *   timers would freeze. A shard task never returns while it runs, but the setting
 *   also matters in the window between a crash and the replacement task.
 * - min = max threads, `concurrentTasksPerWorker: 1`: exactly one shard per thread,
 *   so N tasks land on N distinct threads.
 * - `idleTimeout: Infinity`: never reap a thread between a shard's end and its restart.
 *
 * A task that rejects (the thread died, or the shard threw) is restarted with the
 * shard's current target list after a capped backoff. Counters live in the main
 * thread's store, so a replaced worker's targets continue from where they were.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { FromWorker, ShardSettings, ShardTask, ToWorker } from '../protocol/messages.js';
import type { ShardTarget } from '../targets/model.js';

export interface SupervisorLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SupervisorOptions {
  workers: number;
  flushIntervalMs: number;
  /** Per-process payload cookie (uint32). */
  cookie: number;
  /** First ICMP identifier; worker i uses (base + i) mod 2^16. */
  icmpIdentifierBase: number;
  onBatch(workerIndex: number, buf: ArrayBuffer): void;
  onRejected?(slot: number, reason: string): void;
  onRestart?(workerIndex: number, err: unknown): void;
  logger: SupervisorLogger;
  /** Override the worker script (tests). Default: the compiled workers/shard.js. */
  filename?: string;
  /** Backoff bounds for restarting a crashed shard (ms). */
  restartMinMs?: number;
  restartMaxMs?: number;
}

export interface WorkerStatus {
  index: number;
  running: boolean;
  restarts: number;
  targets: number;
  /** performance.now() of the last batch, or NaN. */
  lastBatchAt: number;
  batches: number;
  threadId: number;
}

interface ShardState {
  index: number;
  targets: ShardTarget[];
  port: MessagePort | null;
  running: boolean;
  restarts: number;
  consecutiveFailures: number;
  lastBatchAt: number;
  batchesSinceStart: number;
  batches: number;
  threadId: number;
  restartTimer: NodeJS.Timeout | null;
}

const DEFAULT_SHARD_FILE = fileURLToPath(new URL('../../workers/shard.js', import.meta.url));

export class ShardSupervisor {
  private readonly pool: Piscina<ShardTask, void>;
  private readonly shards: ShardState[];
  private stopping = false;

  constructor(private readonly opts: SupervisorOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new RangeError(`workers must be a positive integer, got ${opts.workers}`);
    this.pool = new Piscina({
      filename: opts.filename ?? DEFAULT_SHARD_FILE,
      minThreads: opts.workers,
      maxThreads: opts.workers,
      concurrentTasksPerWorker: 1,
      atomics: 'disabled',
      idleTimeout: Number.POSITIVE_INFINITY,
      maxQueue: opts.workers * 2,
      recordTiming: false,
      name: 'default',
    });
    // Piscina re-emits thread errors; the task promise carries the same error, which is
    // where we act. Without a listener an 'error' event would crash the process.
    this.pool.on('error', (err: unknown) => opts.logger.error({ err }, 'worker pool error'));
    this.shards = Array.from({ length: opts.workers }, (_, index) => ({
      index,
      targets: [],
      port: null,
      running: false,
      restarts: 0,
      consecutiveFailures: 0,
      lastBatchAt: Number.NaN,
      batchesSinceStart: 0,
      batches: 0,
      threadId: -1,
      restartTimer: null,
    }));
  }

  get workers(): number {
    return this.shards.length;
  }

  /** Start every shard with its assignment (assignments[i] for worker i). */
  start(assignments: ShardTarget[][]): void {
    this.checkAssignments(assignments);
    for (const s of this.shards) {
      s.targets = assignments[s.index];
      this.launch(s);
    }
  }

  /** Replace every shard's target set; running shards diff it themselves. */
  update(assignments: ShardTarget[][]): void {
    this.checkAssignments(assignments);
    for (const s of this.shards) {
      s.targets = assignments[s.index];
      this.post(s, { type: 'update', targets: s.targets });
    }
  }

  /** True once every shard has delivered a batch since it (re)started. */
  ready(): boolean {
    return this.shards.every((s) => s.running && s.batchesSinceStart > 0);
  }

  status(): WorkerStatus[] {
    return this.shards.map((s) => ({
      index: s.index,
      running: s.running,
      restarts: s.restarts,
      targets: s.targets.length,
      lastBatchAt: s.lastBatchAt,
      batches: s.batches,
      threadId: s.threadId,
    }));
  }

  /**
   * Graceful stop: ask each shard to flush its last batch and return, wait up to
   * `timeoutMs`, then destroy the pool (the patched raw-socket closes open sockets in
   * its environment cleanup hook, so terminating a thread is safe).
   */
  async stop(timeoutMs = 3000): Promise<void> {
    this.stopping = true;
    for (const s of this.shards) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      this.post(s, { type: 'stop' });
    }
    // Poll until every shard task has returned, or the deadline passes. The poll timer is
    // deliberately not unref()ed: during shutdown it may be the only handle left, and an
    // empty loop would exit (code 13) before the shards flushed.
    const deadline = performance.now() + timeoutMs;
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.shards.every((s) => !s.running) || performance.now() >= deadline) resolve();
        else setTimeout(check, 10);
      };
      check();
    });
    // The final batch travels on the shard's own port, the task's completion on piscina's;
    // the two are not ordered, so give queued port messages a turn before closing.
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const s of this.shards) s.port?.close();
    await this.pool.destroy();
  }

  private checkAssignments(assignments: ShardTarget[][]): void {
    if (assignments.length !== this.shards.length) {
      throw new RangeError(`expected ${this.shards.length} shard assignments, got ${assignments.length}`);
    }
  }

  private settings(index: number): ShardSettings {
    return {
      workerIndex: index,
      cookie: this.opts.cookie >>> 0,
      icmpIdentifier: (this.opts.icmpIdentifierBase + index) & 0xffff,
      flushIntervalMs: this.opts.flushIntervalMs,
    };
  }

  private post(s: ShardState, msg: ToWorker): void {
    if (!s.port || !s.running) return; // a shard that is (re)starting gets s.targets at launch
    s.port.postMessage(msg);
  }

  private launch(s: ShardState): void {
    if (this.stopping) return;
    const { port1, port2 } = new MessageChannel();
    s.port = port1;
    s.running = true;
    s.batchesSinceStart = 0;
    port1.on('message', (m: FromWorker) => this.onMessage(s, m));
    const task: ShardTask = { settings: this.settings(s.index), targets: s.targets, port: port2 };
    this.pool.run(task, { transferList: [port2] }).then(
      () => this.onExit(s, null),
      (err: unknown) => this.onExit(s, err ?? new Error('shard task failed')),
    );
  }

  private onMessage(s: ShardState, m: FromWorker): void {
    switch (m.type) {
      case 'batch':
        s.lastBatchAt = performance.now();
        s.batchesSinceStart++;
        s.batches++;
        if (s.batchesSinceStart > 3) s.consecutiveFailures = 0;
        try {
          this.opts.onBatch(s.index, m.buf);
        } catch (err) {
          this.opts.logger.error({ err, worker: s.index }, 'dropping a malformed batch');
        }
        break;
      case 'started':
        s.threadId = m.threadId;
        this.opts.logger.debug({ worker: s.index, threadId: m.threadId }, 'shard started');
        break;
      case 'log':
        this.opts.logger[m.level]({ worker: s.index, ...(m.fields ?? {}) }, m.msg);
        break;
      case 'target_rejected':
        this.opts.onRejected?.(m.slot, m.reason);
        break;
    }
  }

  private onExit(s: ShardState, err: unknown): void {
    s.running = false;
    if (this.stopping) return; // stop() closes the port once queued batches are delivered
    s.port?.close();
    s.port = null;
    // A shard that returns or throws while we are not stopping has failed: replace it.
    s.restarts++;
    s.consecutiveFailures++;
    const min = this.opts.restartMinMs ?? 100;
    const max = this.opts.restartMaxMs ?? 10_000;
    const delay = Math.min(max, min * 2 ** Math.min(16, s.consecutiveFailures - 1));
    this.opts.logger.error({ worker: s.index, err, restarts: s.restarts, delayMs: delay }, 'shard exited; restarting it');
    this.opts.onRestart?.(s.index, err);
    s.restartTimer = setTimeout(() => {
      s.restartTimer = null;
      this.launch(s);
    }, delay);
  }
}

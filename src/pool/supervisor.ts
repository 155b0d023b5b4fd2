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
 * - `resourceLimits.maxOldGenerationSizeMb`: a shard that leaks is ended by V8 at this
 *   heap size (ERR_WORKER_OUT_OF_MEMORY) and replaced like a crashed one, instead of
 *   growing to V8's default limit (a fraction of the machine's memory) first.
 *
 * Failures, and what happens to them (each one is logged, counted by reason and
 * replaced after a backoff):
 * - `crashed`: the task rejected (an uncaught exception ended the thread, or the
 *   shard threw); `out_of_memory`: the thread reached its heap limit; `exited`: the
 *   task returned although nobody asked it to stop.
 * - `stalled`: the thread is alive but delivers no batch (a busy loop, a blocked event
 *   loop). The main thread cannot run code in a busy thread, so detection is from
 *   here: a watchdog compares each shard's newest batch with `stallTimeoutMs`.
 *   Replacing it means aborting its task: piscina terminates the thread of a running
 *   task whose AbortSignal fires (Worker.terminate() stops even a busy loop).
 *
 * A failed shard restarts with its current target list after min × 2^(n−1) ms (n =
 * consecutive failures), capped at max; n resets once a shard has run for
 * `healthyAfterMs`. Counters live in the main thread's store, so a replaced worker's
 * targets continue from where they were.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { FromWorker, ShardSettings, ShardTask, ToWorker } from '../protocol/messages.js';
import type { ShardTarget } from '../targets/model.js';
import {
  classifyExit,
  DEFAULT_HEALTHY_AFTER_MS,
  DEFAULT_HEAP_LIMIT_MB,
  DEFAULT_RESTART_MAX_MS,
  DEFAULT_RESTART_MIN_MS,
  defaultStallTimeoutMs,
  restartDelayMs,
  type WorkerFailureReason,
  type WorkerState,
} from './failures.js';

export { WORKER_FAILURE_REASONS, WORKER_STATES, type WorkerFailureReason, type WorkerState } from './failures.js';

export interface SupervisorLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface WorkerFailure {
  reason: WorkerFailureReason;
  /** Replacements of this worker so far (this one included). */
  restarts: number;
  /** Failures in a row without a healthy run in between (this one included). */
  consecutiveFailures: number;
  /** Delay before the replacement starts (the current backoff). */
  delayMs: number;
  error: unknown;
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
  /** A shard ended and will be replaced after failure.delayMs. */
  onFailure?(workerIndex: number, failure: WorkerFailure): void;
  /** A shard task was (re)launched (state starting). */
  onLaunch?(workerIndex: number): void;
  /** A shard that had failed has run for healthyAfterMs: its backoff is back to the minimum. */
  onHealthy?(workerIndex: number): void;
  logger: SupervisorLogger;
  /** Override the worker script (tests). Default: the compiled workers/shard.js. */
  filename?: string;
  /** Backoff bounds for restarting a failed shard (ms). Default 100 and 10,000. */
  restartMinMs?: number;
  restartMaxMs?: number;
  /** A restarted shard that runs this long without failing is healthy again (ms, default 30,000). */
  healthyAfterMs?: number;
  /** No batch for this long = stalled (ms). Default: max(5 s, 10 × flushIntervalMs). */
  stallTimeoutMs?: number;
  /** resourceLimits.maxOldGenerationSizeMb of every worker thread; default 1024. */
  heapLimitMb?: number;
}

export interface WorkerStatus {
  index: number;
  state: WorkerState;
  /** A shard task is in flight (starting or running). */
  running: boolean;
  restarts: number;
  /** Failures in a row (0 when healthy). */
  consecutiveFailures: number;
  /** Why the newest failure happened, or null if it never failed. */
  lastFailure: WorkerFailureReason | null;
  /** Delay chosen for the newest restart while consecutiveFailures > 0, else 0. */
  backoffMs: number;
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
  abort: AbortController | null;
  state: WorkerState;
  /** Set when the watchdog ends the task, so its rejection is counted as a stall. */
  stalledFor: number;
  restarts: number;
  consecutiveFailures: number;
  lastFailure: WorkerFailureReason | null;
  backoffMs: number;
  launchedAt: number;
  /** The watchdog declares a stall when performance.now() passes this. */
  stallDeadline: number;
  lastBatchAt: number;
  batchesSinceStart: number;
  batches: number;
  threadId: number;
  restartTimer: NodeJS.Timeout | null;
  restartAt: number;
}

const DEFAULT_SHARD_FILE = fileURLToPath(new URL('../../workers/shard.js', import.meta.url));
/**
 * Extra stall allowance per target handed to a shard (at launch or in an update): a
 * shard applies its target list synchronously and sends no batch meanwhile. Measured
 * about 10 µs per target on the project machine (250k targets: 2.5 s); 4× that.
 */
export const STALL_GRACE_PER_TARGET_MS = 0.04;
/** Grace for a graceful stop's pool teardown (terminating threads) after the shards returned or timed out. */
const DESTROY_TIMEOUT_MS = 1000;

export class ShardSupervisor {
  private readonly pool: Piscina<ShardTask, void>;
  private readonly shards: ShardState[];
  private readonly stallTimeoutMs: number;
  private readonly watchdogEveryMs: number;
  private watchdog: NodeJS.Timeout | null = null;
  private lastWatchdogAt = 0;
  private stopping = false;

  constructor(private readonly opts: SupervisorOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new RangeError(`workers must be a positive integer, got ${opts.workers}`);
    this.stallTimeoutMs = opts.stallTimeoutMs ?? defaultStallTimeoutMs(opts.flushIntervalMs);
    // Ten looks per timeout: a stall is seen within 10% of the timeout after it is due.
    this.watchdogEveryMs = Math.min(1000, Math.max(20, this.stallTimeoutMs / 10));
    this.pool = new Piscina({
      filename: opts.filename ?? DEFAULT_SHARD_FILE,
      minThreads: opts.workers,
      maxThreads: opts.workers,
      concurrentTasksPerWorker: 1,
      atomics: 'disabled',
      idleTimeout: Number.POSITIVE_INFINITY,
      maxQueue: opts.workers * 2,
      recordTiming: false,
      resourceLimits: { maxOldGenerationSizeMb: opts.heapLimitMb ?? DEFAULT_HEAP_LIMIT_MB },
      name: 'default',
    });
    // Piscina re-emits thread errors; the task promise carries the same error, which is
    // where we act. Without a listener an 'error' event would crash the process.
    this.pool.on('error', (err: unknown) => opts.logger.error({ err }, 'worker pool error'));
    this.shards = Array.from({ length: opts.workers }, (_, index) => ({
      index,
      targets: [],
      port: null,
      abort: null,
      state: 'starting',
      stalledFor: Number.NaN,
      restarts: 0,
      consecutiveFailures: 0,
      lastFailure: null,
      backoffMs: 0,
      launchedAt: Number.NaN,
      stallDeadline: Number.POSITIVE_INFINITY,
      lastBatchAt: Number.NaN,
      batchesSinceStart: 0,
      batches: 0,
      threadId: -1,
      restartTimer: null,
      restartAt: Number.NaN,
    }));
  }

  get workers(): number {
    return this.shards.length;
  }

  /** No batch for this long = stalled (ms). */
  get stallTimeout(): number {
    return this.stallTimeoutMs;
  }

  /** Start every shard with its assignment (assignments[i] for worker i). */
  start(assignments: ShardTarget[][]): void {
    this.checkAssignments(assignments);
    for (const s of this.shards) {
      s.targets = assignments[s.index];
      this.launch(s);
    }
    this.lastWatchdogAt = performance.now();
    this.watchdog ??= setInterval(() => this.checkStalls(), this.watchdogEveryMs);
    this.watchdog.unref();
  }

  /** Replace every shard's target set; running shards diff it themselves. */
  update(assignments: ShardTarget[][]): void {
    this.checkAssignments(assignments);
    for (const s of this.shards) {
      s.targets = assignments[s.index];
      if (this.post(s, { type: 'update', targets: s.targets })) {
        // Applying a big update keeps the shard busy; give it time before calling it stalled.
        s.stallDeadline = Math.max(s.stallDeadline, performance.now() + this.stallAllowance(s.targets.length));
      }
    }
  }

  /** True once every shard delivers batches (each has sent one since it (re)started). */
  ready(): boolean {
    return this.shards.every((s) => s.state === 'running');
  }

  /** Why the pool is not ready, one sentence per worker that is not running (empty when ready). */
  notReadyReasons(): string[] {
    const now = performance.now();
    const out: string[] = [];
    for (const s of this.shards) {
      if (s.state === 'running') continue;
      if (s.state === 'starting') {
        out.push(`worker ${s.index} is starting (no result batch yet${s.restarts > 0 ? `; restart ${s.restarts}` : ''})`);
        continue;
      }
      const what = s.state === 'stalled' ? `worker ${s.index} stalled (no result batch for ${seconds(s.stalledFor)})` : `worker ${s.index} ${describeFailure(s.lastFailure)}`;
      const wait = Number.isNaN(s.restartAt) ? '' : `; restarting in ${seconds(Math.max(0, s.restartAt - now))}`;
      out.push(`${what}; ${s.consecutiveFailures} failure(s) in a row${wait}`);
    }
    return out;
  }

  status(): WorkerStatus[] {
    return this.shards.map((s) => ({
      index: s.index,
      state: s.state,
      running: s.abort !== null,
      restarts: s.restarts,
      consecutiveFailures: s.consecutiveFailures,
      lastFailure: s.lastFailure,
      backoffMs: s.backoffMs,
      targets: s.targets.length,
      lastBatchAt: s.lastBatchAt,
      batches: s.batches,
      threadId: s.threadId,
    }));
  }

  /**
   * Graceful stop: ask each shard to flush its last batch and return, wait up to
   * `timeoutMs`, then destroy the pool (the patched raw-socket closes open sockets in
   * its environment cleanup hook, so terminating a thread is safe). Bounded: resolves
   * within timeoutMs + about 1 s even if a thread never answers.
   */
  async stop(timeoutMs = 3000): Promise<void> {
    this.stopping = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    for (const s of this.shards) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.restartTimer = null;
      this.post(s, { type: 'stop' });
    }
    // Poll until every shard task has returned, or the deadline passes. The poll timer is
    // deliberately not unref()ed: during shutdown it may be the only handle left, and an
    // empty loop would exit (code 13) before the shards flushed.
    const deadline = performance.now() + timeoutMs;
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.shards.every((s) => s.port === null || s.abort === null) || performance.now() >= deadline) resolve();
        else setTimeout(check, 10);
      };
      check();
    });
    // The final batch travels on the shard's own port, the task's completion on piscina's;
    // the two are not ordered, so give queued port messages a turn before closing.
    await new Promise((resolve) => setTimeout(resolve, 20));
    for (const s of this.shards) s.port?.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.pool.destroy().catch((err: unknown) => this.opts.logger.warn({ err }, 'worker pool teardown failed')),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.opts.logger.warn({ timeoutMs: DESTROY_TIMEOUT_MS }, 'worker threads did not exit in time; leaving them to the process exit');
          resolve();
        }, DESTROY_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
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

  private stallAllowance(targets: number): number {
    return this.stallTimeoutMs + targets * STALL_GRACE_PER_TARGET_MS;
  }

  /** Post to a live shard; false when it is (re)starting (it gets s.targets at launch). */
  private post(s: ShardState, msg: ToWorker): boolean {
    if (!s.port || !s.abort) return false;
    s.port.postMessage(msg);
    return true;
  }

  private launch(s: ShardState): void {
    if (this.stopping) return;
    const { port1, port2 } = new MessageChannel();
    const abort = new AbortController();
    const now = performance.now();
    s.port = port1;
    s.abort = abort;
    s.state = 'starting';
    s.stalledFor = Number.NaN;
    s.restartAt = Number.NaN;
    s.batchesSinceStart = 0;
    s.launchedAt = now;
    s.stallDeadline = now + this.stallAllowance(s.targets.length);
    port1.on('message', (m: FromWorker) => this.onMessage(s, port1, m));
    const task: ShardTask = { settings: this.settings(s.index), targets: s.targets, port: port2 };
    this.pool.run(task, { transferList: [port2], signal: abort.signal }).then(
      () => this.onExit(s, abort, null),
      (err: unknown) => this.onExit(s, abort, err ?? new Error('shard task failed')),
    );
    this.opts.onLaunch?.(s.index);
  }

  private onMessage(s: ShardState, port: MessagePort, m: FromWorker): void {
    if (port !== s.port) return; // a message from a thread that was already replaced
    switch (m.type) {
      case 'batch': {
        const now = performance.now();
        s.lastBatchAt = now;
        s.batchesSinceStart++;
        s.batches++;
        if (s.state === 'starting') s.state = 'running';
        s.stallDeadline = Math.max(s.stallDeadline, now + this.stallTimeoutMs);
        if (s.consecutiveFailures > 0 && now - s.launchedAt >= (this.opts.healthyAfterMs ?? DEFAULT_HEALTHY_AFTER_MS)) {
          this.opts.logger.info({ worker: s.index, restarts: s.restarts, failuresInARow: s.consecutiveFailures }, 'worker healthy again; restart backoff reset');
          s.consecutiveFailures = 0;
          s.backoffMs = 0;
          this.opts.onHealthy?.(s.index);
        }
        try {
          this.opts.onBatch(s.index, m.buf);
        } catch (err) {
          this.opts.logger.error({ err, worker: s.index }, 'dropping a malformed batch');
        }
        break;
      }
      case 'started':
        s.threadId = m.threadId;
        // The thread is up and has its task; applying the targets comes next.
        s.stallDeadline = Math.max(s.stallDeadline, performance.now() + this.stallAllowance(s.targets.length));
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

  /**
   * The watchdog. A tick that comes late means the main thread itself was blocked: the
   * batches that arrived meanwhile wait in the ports and are read after this timer
   * phase, so judging now would blame the workers for the main thread's pause.
   */
  private checkStalls(): void {
    const now = performance.now();
    const late = now - this.lastWatchdogAt > 2 * this.watchdogEveryMs + 100;
    this.lastWatchdogAt = now;
    if (late || this.stopping) return;
    for (const s of this.shards) {
      if (s.abort === null || now <= s.stallDeadline) continue;
      const silentFor = now - (Number.isNaN(s.lastBatchAt) || s.lastBatchAt < s.launchedAt ? s.launchedAt : s.lastBatchAt);
      s.stalledFor = silentFor;
      this.opts.logger.error(
        { worker: s.index, threadId: s.threadId, silentForMs: Math.round(silentFor), stallTimeoutMs: this.stallTimeoutMs, targets: s.targets.length },
        `worker ${s.index} stalled: no result batch for ${seconds(silentFor)}; terminating its thread and restarting its shard`,
      );
      s.abort.abort(new Error(`worker ${s.index} stalled`));
    }
  }

  private onExit(s: ShardState, abort: AbortController, err: unknown): void {
    if (s.abort !== abort) return; // an older task of this shard
    const stalled = !Number.isNaN(s.stalledFor);
    s.abort = null;
    if (this.stopping) return; // stop() closes the port once queued batches are delivered
    s.port?.close();
    s.port = null;
    // A shard that returns, throws or stalls while we are not stopping has failed: replace it.
    const reason = classifyExit(err, stalled);
    s.state = reason === 'stalled' ? 'stalled' : 'crashed';
    s.restarts++;
    s.consecutiveFailures++;
    s.lastFailure = reason;
    const delay = restartDelayMs(s.consecutiveFailures, this.opts.restartMinMs ?? DEFAULT_RESTART_MIN_MS, this.opts.restartMaxMs ?? DEFAULT_RESTART_MAX_MS);
    s.backoffMs = delay;
    s.restartAt = performance.now() + delay;
    this.opts.logger.error(
      { worker: s.index, reason, err: reason === 'stalled' ? undefined : err, restarts: s.restarts, failuresInARow: s.consecutiveFailures, delayMs: delay },
      `worker ${s.index} ${describeFailure(reason)} (${s.consecutiveFailures} in a row, ${s.restarts} restarts in all); restarting its shard in ${seconds(delay)}`,
    );
    this.opts.onFailure?.(s.index, { reason, restarts: s.restarts, consecutiveFailures: s.consecutiveFailures, delayMs: delay, error: err });
    s.restartTimer = setTimeout(() => {
      s.restartTimer = null;
      this.launch(s);
    }, delay);
  }
}

function describeFailure(reason: WorkerFailureReason | null): string {
  switch (reason) {
    case 'out_of_memory':
      return 'ran out of memory (heap limit)';
    case 'stalled':
      return 'stalled';
    case 'exited':
      return 'exited unexpectedly';
    default:
      return 'crashed';
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}

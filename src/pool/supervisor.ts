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
 *
 * Targets: the supervisor places each target on a worker (rendezvous hashing of its
 * name) and keeps every worker's current set, so a (re)started shard gets all of it
 * with the current generation. update() sends each running worker only what changed
 * for it, tagged with the generation (an empty delta when nothing did, so its
 * acknowledgement keeps up), and acknowledgedGeneration() says what every worker has
 * applied (src/protocol/generations.ts).
 *
 * What the supervisor knows about each worker lives in one WorkerRecord
 * (worker-record.ts), which it alone writes and the self metrics read.
 *
 * Stopping: each shard ships its final batch and then {stopped} on the same port, so
 * the final batch has arrived when {stopped} has; stop() waits for that (bounded), not
 * for piscina's task completion, which travels on another channel.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { acknowledgedByAll } from '../protocol/generations.js';
import type { FromWorker, OnDemandTask, ShardSettings, ShardTask, TestEndState, ToWorker } from '../protocol/messages.js';
import type { TestResult } from '../protocol/ondemand/result.js';
import type { IcmpSocketChoice } from '../protocol/icmp-socket-mode.js';
import { IcmpSocketBits } from '../protocol/batch.js';
import type { ShardTarget } from '../targets/model.js';
import { workerOf } from '../targets/partition.js';
import {
  classifyExit,
  DEFAULT_HEALTHY_AFTER_MS,
  DEFAULT_HEAP_LIMIT_MB,
  WORKER_YOUNG_GENERATION_MB,
  DEFAULT_RESTART_MAX_MS,
  DEFAULT_RESTART_MIN_MS,
  defaultStallTimeoutMs,
  restartDelayMs,
  type WorkerFailureReason,
  type WorkerState,
} from './failures.js';
import { WorkerRecords, type WorkerRecord } from './worker-record.js';

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
  /**
   * Merge a worker's batch; returns its header (a view on buf). Throws for a malformed
   * batch, which is then counted as rejected and dropped.
   */
  onBatch(workerIndex: number, buf: ArrayBuffer): Float64Array;
  /** A worker could not probe this target as it was at `generation`. */
  onRejected?(slot: number, reason: string, generation: number): void;
  /** An on-demand test ended on a worker (see startTest). */
  onTestEnd?(workerIndex: number, end: { id: string; state: TestEndState; result: TestResult; error?: string }): void;
  /** A shard's thread is gone (failed, or stopped): its on-demand tests will not report. */
  onShardGone?(workerIndex: number): void;
  /** A shard ended and will be replaced after failure.delayMs. */
  onFailure?(workerIndex: number, failure: WorkerFailure): void;
  logger: SupervisorLogger;
  /** The per-worker records to write (default: a new table). Pass the same table to a replacement pool. */
  records?: WorkerRecords;
  /** Worker of a target by its name (default: rendezvous hashing over `workers`). */
  place?: (name: string, workers: number) => number;
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
  /** icmp.socket (default auto). */
  icmpSocket?: IcmpSocketChoice;
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
  /** The ICMP socket open per family as of the newest batch: raw, dgram (ping socket), or null (none open). */
  icmpSockets: { ipv4: 'raw' | 'dgram' | null; ipv6: 'raw' | 'dgram' | null };
  /** Generation of the newest target update the worker has acknowledged. */
  generation: number;
}

interface ShardState {
  index: number;
  /** The worker's current targets by slot: what a (re)started shard gets. */
  targets: Map<number, ShardTarget>;
  port: MessagePort | null;
  abort: AbortController | null;
  /** Set when the watchdog ends the task, so its rejection is counted as a stall. */
  stalledFor: number;
  /** The watchdog declares a stall when performance.now() passes this. */
  stallDeadline: number;
  restartTimer: NodeJS.Timeout | null;
  restartAt: number;
  /** While stop() waits: resolves when this shard posted {stopped} (or its task ended without). */
  onStopped: (() => void) | null;
  readonly record: WorkerRecord;
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
  readonly records: WorkerRecords;
  private readonly stallTimeoutMs: number;
  private readonly watchdogEveryMs: number;
  private readonly place: (name: string, workers: number) => number;
  /** The newest generation handed to the workers. */
  private generation = 0;
  private watchdog: NodeJS.Timeout | null = null;
  private lastWatchdogAt = 0;
  private stopping = false;

  constructor(private readonly opts: SupervisorOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new RangeError(`workers must be a positive integer, got ${opts.workers}`);
    this.stallTimeoutMs = opts.stallTimeoutMs ?? defaultStallTimeoutMs(opts.flushIntervalMs);
    // Ten looks per timeout: a stall is seen within 10% of the timeout after it is due.
    this.watchdogEveryMs = Math.min(1000, Math.max(20, this.stallTimeoutMs / 10));
    this.place = opts.place ?? workerOf;
    this.records = opts.records ?? new WorkerRecords();
    this.records.configure(opts.workers);
    this.pool = new Piscina({
      filename: opts.filename ?? DEFAULT_SHARD_FILE,
      minThreads: opts.workers,
      maxThreads: opts.workers,
      concurrentTasksPerWorker: 1,
      atomics: 'disabled',
      idleTimeout: Number.POSITIVE_INFINITY,
      maxQueue: opts.workers * 2,
      recordTiming: false,
      resourceLimits: { maxOldGenerationSizeMb: opts.heapLimitMb ?? DEFAULT_HEAP_LIMIT_MB, maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      name: 'default',
    });
    // Piscina re-emits thread errors; the task promise carries the same error, which is
    // where we act. Without a listener an 'error' event would crash the process.
    this.pool.on('error', (err: unknown) => opts.logger.error({ err }, 'worker pool error'));
    this.shards = Array.from({ length: opts.workers }, (_, index) => ({
      index,
      targets: new Map<number, ShardTarget>(),
      port: null,
      abort: null,
      stalledFor: Number.NaN,
      stallDeadline: Number.POSITIVE_INFINITY,
      restartTimer: null,
      restartAt: Number.NaN,
      onStopped: null,
      record: this.records.get(index),
    }));
  }

  get workers(): number {
    return this.shards.length;
  }

  /** No batch for this long = stalled (ms). */
  get stallTimeout(): number {
    return this.stallTimeoutMs;
  }

  /** Start every shard with its share of `targets`, the whole target set at `generation`. */
  start(targets: readonly ShardTarget[], generation: number): void {
    this.generation = generation;
    for (const t of targets) this.assign(t);
    for (const s of this.shards) this.launch(s);
    this.lastWatchdogAt = performance.now();
    this.watchdog ??= setInterval(() => this.checkStalls(), this.watchdogEveryMs);
    this.watchdog.unref();
  }

  /**
   * The target update of `generation`: these targets are gone (a slot and the name it
   * had), these are new or changed. Each running worker gets what changed for it, every
   * worker gets the generation; a worker waiting for its restart gets its whole set when
   * it starts. A target's worker follows from its name alone (and a slot keeps its
   * name while it holds a target), so a target never moves between the workers of one
   * pool.
   */
  update(generation: number, upsert: readonly ShardTarget[], remove: ReadonlyArray<{ slot: number; name: string }>): void {
    if (!(generation > this.generation)) throw new RangeError(`generation ${generation} after ${this.generation}`);
    this.generation = generation;
    const deltas = this.shards.map(() => ({ upsert: [] as ShardTarget[], remove: [] as number[] }));
    for (const r of remove) {
      const shard = this.shards[this.workerOf(r.name)];
      if (shard.targets.delete(r.slot)) deltas[shard.index].remove.push(r.slot);
    }
    for (const t of upsert) deltas[this.assign(t)].upsert.push(t);
    for (const s of this.shards) {
      const d = deltas[s.index];
      if (this.post(s, { type: 'update', generation, upsert: d.upsert, remove: d.remove }) && d.upsert.length > 0) {
        // Applying a big update keeps the shard busy; give it time before calling it stalled.
        s.stallDeadline = Math.max(s.stallDeadline, performance.now() + this.stallAllowance(d.upsert.length));
      }
    }
  }

  /**
   * The generation every worker has acknowledged (generations.ts, rule 3): a running
   * thread's newest batch (or its launch generation before one); a worker without a
   * thread delivers nothing more, so it counts as the current generation.
   */
  acknowledgedGeneration(): number {
    return acknowledgedByAll(
      this.shards.map((s) => (s.abort !== null ? s.record.acknowledged : this.generation)),
      this.generation,
    );
  }

  /** Worker index a target (by name) is placed on. */
  workerOf(name: string): number {
    const w = this.place(name, this.shards.length);
    if (!Number.isInteger(w) || w < 0 || w >= this.shards.length) throw new RangeError(`placement of ${name} gave worker ${w} of ${this.shards.length}`);
    return w;
  }

  /** True once every shard delivers batches (each has sent one since it (re)started). */
  ready(): boolean {
    return this.shards.every((s) => s.record.state === 'running');
  }

  /** Why the pool is not ready, one sentence per worker that is not running (empty when ready). */
  notReadyReasons(): string[] {
    const now = performance.now();
    const out: string[] = [];
    for (const s of this.shards) {
      const r = s.record;
      if (r.state === 'running') continue;
      if (r.state === 'starting') {
        out.push(`worker ${s.index} is starting (no result batch yet${r.restarts > 0 ? `; restart ${r.restarts}` : ''})`);
        continue;
      }
      const what =
        r.state === 'stalled'
          ? `worker ${s.index} stalled (no result batch for ${seconds(s.stalledFor)})`
          : `worker ${s.index} ${describeFailure(r.lastFailure)}`;
      const wait = Number.isNaN(s.restartAt) ? '' : `; restarting in ${seconds(Math.max(0, s.restartAt - now))}`;
      out.push(`${what}; ${r.consecutiveFailures} failure(s) in a row${wait}`);
    }
    return out;
  }

  status(): WorkerStatus[] {
    return this.shards.map((s) => ({
      index: s.index,
      state: s.record.state,
      running: s.abort !== null,
      restarts: s.record.restarts,
      consecutiveFailures: s.record.consecutiveFailures,
      lastFailure: s.record.lastFailure,
      backoffMs: s.record.backoffMs,
      targets: s.targets.size,
      lastBatchAt: s.record.lastBatchAt,
      batches: s.record.batches,
      threadId: s.record.threadId,
      icmpSockets: { ipv4: socketKind(s.record.icmpSocket[0]), ipv6: socketKind(s.record.icmpSocket[1]) },
      generation: s.abort !== null ? s.record.acknowledged : this.generation,
    }));
  }

  /**
   * Graceful stop: ask each shard to ship its final batch, wait until each has said
   * {stopped} (which follows its final batch on the same port) or `timeoutMs` passed,
   * then destroy the pool (the patched raw-socket closes open sockets in its
   * environment cleanup hook, so terminating a thread is safe). Bounded: resolves
   * within timeoutMs + about 1 s even if a thread never answers.
   */
  async stop(timeoutMs = 3000): Promise<void> {
    this.stopping = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    const waits: Promise<void>[] = [];
    for (const s of this.shards) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.restartTimer = null;
      if (this.post(s, { type: 'stop' })) waits.push(new Promise<void>((resolve) => (s.onStopped = resolve)));
    }
    // The timer is deliberately not unref()ed: during shutdown it may be the only handle
    // left, and an empty loop would exit (code 13) before the shards flushed.
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      Promise.all(waits).then(() => 'stopped' as const),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      const late = this.shards.filter((s) => s.onStopped !== null).map((s) => s.index);
      this.opts.logger.warn({ workers: late, timeoutMs }, 'workers did not confirm their final batch in time; their last results are lost');
    }
    for (const s of this.shards) {
      s.onStopped = null;
      s.port?.close();
      s.port = null;
    }
    let destroyTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.pool.destroy().catch((err: unknown) => this.opts.logger.warn({ err }, 'worker pool teardown failed')),
      new Promise<void>((resolve) => {
        destroyTimer = setTimeout(() => {
          this.opts.logger.warn({ timeoutMs: DESTROY_TIMEOUT_MS }, 'worker threads did not exit in time; leaving them to the process exit');
          resolve();
        }, DESTROY_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(destroyTimer);
  }

  /**
   * Run an on-demand test on a worker (beside its scheduled probes; the task's slot is an
   * on-demand slot, see ONDEMAND_SLOT_BASE). False when that worker is not running now
   * (restarting after a failure): nothing was sent.
   */
  startTest(workerIndex: number, task: OnDemandTask): boolean {
    const s = this.shards[workerIndex];
    return s !== undefined && !this.stopping && this.post(s, { type: 'test_start', task });
  }

  /** Ask a worker to end an on-demand test now (it answers with test_end, state cancelled). */
  cancelTest(workerIndex: number, id: string): void {
    const s = this.shards[workerIndex];
    if (s) this.post(s, { type: 'test_cancel', id });
  }

  /** The running worker with the fewest targets: where a test to a new address runs (any worker may). */
  leastLoadedWorker(): number {
    let best = 0;
    for (const s of this.shards) if (s.abort !== null && (this.shards[best].abort === null || s.targets.size < this.shards[best].targets.size)) best = s.index;
    return best;
  }

  /** Put a target in its worker's set; returns the worker index. */
  private assign(t: ShardTarget): number {
    const w = this.workerOf(t.name);
    this.shards[w].targets.set(t.slot, t);
    return w;
  }

  private settings(index: number): ShardSettings {
    return {
      workerIndex: index,
      cookie: this.opts.cookie >>> 0,
      icmpIdentifier: (this.opts.icmpIdentifierBase + index) & 0xffff,
      flushIntervalMs: this.opts.flushIntervalMs,
      icmpSocket: this.opts.icmpSocket ?? 'auto',
    };
  }

  private stallAllowance(targets: number): number {
    return this.stallTimeoutMs + targets * STALL_GRACE_PER_TARGET_MS;
  }

  /** Post to a live shard; false when it is (re)starting (it gets its whole set at launch). */
  private post(s: ShardState, msg: ToWorker): boolean {
    if (!s.port || !s.abort) return false;
    s.port.postMessage(msg);
    return true;
  }

  private launch(s: ShardState): void {
    if (this.stopping) return;
    const { port1, port2 } = new MessageChannel();
    const abort = new AbortController();
    s.port = port1;
    s.abort = abort;
    s.stalledFor = Number.NaN;
    s.restartAt = Number.NaN;
    this.records.launched(s.index, this.generation);
    s.stallDeadline = performance.now() + this.stallAllowance(s.targets.size);
    port1.on('message', (m: FromWorker) => this.onMessage(s, port1, m));
    const task: ShardTask = { settings: this.settings(s.index), targets: [...s.targets.values()], generation: this.generation, port: port2 };
    this.pool.run(task, { transferList: [port2], signal: abort.signal }).then(
      () => this.onExit(s, abort, null),
      (err: unknown) => this.onExit(s, abort, err ?? new Error('shard task failed')),
    );
  }

  private onMessage(s: ShardState, port: MessagePort, m: FromWorker): void {
    if (port !== s.port) return; // a message from a thread that was already replaced
    switch (m.type) {
      case 'batch':
        this.onBatch(s, m.buf);
        break;
      case 'started':
        s.record.threadId = m.threadId;
        // The thread is up and has its task; applying the targets comes next.
        s.stallDeadline = Math.max(s.stallDeadline, performance.now() + this.stallAllowance(s.targets.size));
        this.opts.logger.debug({ worker: s.index, threadId: m.threadId }, 'shard started');
        break;
      case 'log':
        this.opts.logger[m.level]({ worker: s.index, ...(m.fields ?? {}) }, m.msg);
        break;
      case 'target_rejected':
        this.opts.onRejected?.(m.slot, m.reason, m.generation);
        break;
      case 'test_end':
        this.opts.onTestEnd?.(s.index, m);
        break;
      case 'stopped':
        s.onStopped?.();
        s.onStopped = null;
        break;
    }
  }

  private onBatch(s: ShardState, buf: ArrayBuffer): void {
    const now = performance.now();
    // Any batch, even one that fails to decode, shows the thread is alive.
    s.stallDeadline = Math.max(s.stallDeadline, now + this.stallTimeoutMs);
    let header: Float64Array;
    try {
      header = this.opts.onBatch(s.index, buf);
    } catch (err) {
      this.records.batchRejected(s.index);
      this.opts.logger.warn({ err, worker: s.index }, 'rejected a malformed batch');
      return;
    }
    const r = this.records.batch(s.index, header);
    if (r.consecutiveFailures > 0 && now - r.launchedAt >= (this.opts.healthyAfterMs ?? DEFAULT_HEALTHY_AFTER_MS)) {
      this.opts.logger.info({ worker: s.index, restarts: r.restarts, failuresInARow: r.consecutiveFailures }, 'worker healthy again; restart backoff reset');
      this.records.healthy(s.index);
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
      const r = s.record;
      const silentFor = now - (Number.isNaN(r.lastBatchAt) || r.lastBatchAt < r.launchedAt ? r.launchedAt : r.lastBatchAt);
      s.stalledFor = silentFor;
      this.opts.logger.error(
        { worker: s.index, threadId: r.threadId, silentForMs: Math.round(silentFor), stallTimeoutMs: this.stallTimeoutMs, targets: s.targets.size },
        `worker ${s.index} stalled: no result batch for ${seconds(silentFor)}; terminating its thread and restarting its shard`,
      );
      s.abort.abort(new Error(`worker ${s.index} stalled`));
    }
  }

  private onExit(s: ShardState, abort: AbortController, err: unknown): void {
    if (s.abort !== abort) return; // an older task of this shard
    const stalled = !Number.isNaN(s.stalledFor);
    s.abort = null;
    this.opts.onShardGone?.(s.index);
    if (this.stopping) {
      // A shard that returned posted {stopped} before it did (it is on its way on the
      // port); one that failed never will, so stop() need not wait for it.
      if (err !== null) {
        s.onStopped?.();
        s.onStopped = null;
      }
      return;
    }
    s.port?.close();
    s.port = null;
    // A shard that returns, throws or stalls while we are not stopping has failed: replace it.
    const reason = classifyExit(err, stalled);
    const consecutive = s.record.consecutiveFailures + 1;
    const delay = restartDelayMs(consecutive, this.opts.restartMinMs ?? DEFAULT_RESTART_MIN_MS, this.opts.restartMaxMs ?? DEFAULT_RESTART_MAX_MS);
    const r = this.records.failed(s.index, reason, delay);
    s.restartAt = performance.now() + delay;
    this.opts.logger.error(
      { worker: s.index, reason, err: reason === 'stalled' ? undefined : err, restarts: r.restarts, failuresInARow: r.consecutiveFailures, delayMs: delay },
      `worker ${s.index} ${describeFailure(reason)} (${r.consecutiveFailures} in a row, ${r.restarts} restarts in all); restarting its shard in ${seconds(delay)}`,
    );
    this.opts.onFailure?.(s.index, { reason, restarts: r.restarts, consecutiveFailures: r.consecutiveFailures, delayMs: delay, error: err });
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

/** What a worker's IcmpSocketBits say about the socket of one family. */
function socketKind(bits: number): 'raw' | 'dgram' | null {
  if ((bits & IcmpSocketBits.Open) === 0) return null;
  return (bits & IcmpSocketBits.PingSocket) !== 0 ? 'dgram' : 'raw';
}

/**
 * One record per worker: everything the main thread knows about each worker thread,
 * kept in one place. The shard supervisor is its only writer (launches, batches,
 * failures); the self metrics and the status API read it at scrape/request time.
 *
 * The table outlives a supervisor: a reload that restarts the pool hands the same
 * table to the new supervisor, so every counter here is monotonic for the life of
 * the process, across worker restarts and pool restarts (a replacement thread starts
 * its header deltas from zero, which simply add to the totals).
 *
 * Batch header counters are deltas since the worker's previous batch and are summed
 * here; header gauges (targets, lags, socket state) are the newest batch's values.
 * Pure: no timers, no threads; the clock is passed in.
 */
import { Header } from '../protocol/batch.js';
import { DROP_REASON_NAMES } from '../protocol/events.js';
import { WORKER_FAILURE_REASONS, type WorkerFailureReason, type WorkerState } from './failures.js';

export class WorkerRecord {
  state: WorkerState = 'starting';
  /** Monotonic ms at which the current state began (configured, failed or (re)launched): the batch age before a first batch. */
  stateSince: number;
  /** Monotonic ms of the current thread's launch (NaN before the first). */
  launchedAt = Number.NaN;
  /** Monotonic ms of the newest batch of the current thread, NaN before its first. */
  lastBatchAt = Number.NaN;
  batchesSinceLaunch = 0;
  threadId = -1;
  /**
   * Generation the worker's current thread has acknowledged (src/protocol/generations.ts):
   * its launch generation, then its newest batch's. (A worker with no thread counts as
   * acknowledging the current generation: the supervisor applies that.)
   */
  acknowledged = 0;

  restarts = 0;
  /** Failures in a row without a healthy run in between. */
  consecutiveFailures = 0;
  lastFailure: WorkerFailureReason | null = null;
  /** Delay chosen for the newest restart while it keeps failing, else 0 (ms). */
  backoffMs = 0;
  /** Per WORKER_FAILURE_REASONS index. */
  readonly failures = new Array<number>(WORKER_FAILURE_REASONS.length).fill(0);

  batches = 0;
  rejectedBatches = 0;
  /** Targets the worker owned as of its newest batch. */
  targets = 0;
  probesStarted = 0;
  schedLagSum = 0;
  schedLagCount = 0;
  schedLagMax = 0;
  loopLagMax = 0;
  loopLagMean = 0;
  /** Per DROP_REASON_NAMES index. */
  readonly drops = new Array<number>(DROP_REASON_NAMES.length).fill(0);
  /** ICMP replies timed by the kernel's receive stamp / by the monotonic clock; stamps rejected as inconsistent. */
  icmpRttKernel = 0;
  icmpRttMonotonic = 0;
  icmpStampsRejected = 0;
  /** IcmpSocketBits of the IPv4 and IPv6 raw sockets, as of the newest batch. */
  readonly icmpSocket: [number, number] = [0, 0];

  constructor(
    readonly index: number,
    now: number,
  ) {
    this.stateSince = now;
  }

  /** Merge a batch header (already validated by the batch reader). */
  absorb(h: Float64Array, now: number): void {
    this.batches++;
    this.batchesSinceLaunch++;
    this.state = 'running';
    this.lastBatchAt = now;
    const g = h[Header.Generation];
    if (g > this.acknowledged) this.acknowledged = g;
    this.targets = h[Header.Targets];
    this.probesStarted += nonNegative(h[Header.ProbesStarted]);
    this.schedLagSum += nonNegative(h[Header.SchedLagSum]);
    this.schedLagCount += nonNegative(h[Header.SchedLagCount]);
    this.schedLagMax = h[Header.SchedLagMax];
    this.loopLagMax = h[Header.LoopLagMax];
    this.loopLagMean = h[Header.LoopLagMean];
    for (let r = 0; r < DROP_REASON_NAMES.length; r++) this.drops[r] += nonNegative(h[Header.DropsStart + r]);
    this.icmpRttKernel += nonNegative(h[Header.IcmpRttKernel]);
    this.icmpRttMonotonic += nonNegative(h[Header.IcmpRttMonotonic]);
    this.icmpStampsRejected += nonNegative(h[Header.IcmpStampsRejected]);
    this.icmpSocket[0] = h[Header.IcmpSocket4];
    this.icmpSocket[1] = h[Header.IcmpSocket6];
  }
}

/** The records of every worker index seen so far (a pool may shrink: the others keep their counters). */
export class WorkerRecords {
  private readonly list: WorkerRecord[] = [];
  private configuredWorkers = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Workers of the current pool. */
  get configured(): number {
    return this.configuredWorkers;
  }

  /** Every record: the current pool's, and any higher index a larger earlier pool had. */
  all(): readonly WorkerRecord[] {
    return this.list;
  }

  get(index: number): WorkerRecord {
    const now = this.now();
    while (this.list.length <= index) this.list.push(new WorkerRecord(this.list.length, now));
    return this.list[index];
  }

  /**
   * A new pool of n threads (at start, and when a reload restarts the pool): workers
   * below n start over as starting with no batch yet, counters kept; none counts as
   * running until it delivers a batch (a pool shrunk from 2 to 1 must not go on
   * reporting 2 running).
   */
  configure(n: number): void {
    this.configuredWorkers = n;
    if (n > 0) this.get(n - 1);
    const now = this.now();
    for (const r of this.list) {
      r.state = 'starting';
      r.stateSince = now;
      r.lastBatchAt = Number.NaN;
      r.batchesSinceLaunch = 0;
    }
  }

  /** A shard task was (re)launched at `generation` (it acknowledges that before its first batch). */
  launched(index: number, generation: number): WorkerRecord {
    const r = this.get(index);
    const now = this.now();
    r.state = 'starting';
    r.stateSince = now;
    r.launchedAt = now;
    r.lastBatchAt = Number.NaN;
    r.batchesSinceLaunch = 0;
    r.acknowledged = generation;
    return r;
  }

  /** A batch was merged; `header` is its header. */
  batch(index: number, header: Float64Array): WorkerRecord {
    const r = this.get(index);
    r.absorb(header, this.now());
    return r;
  }

  /** A batch could not be decoded (and was not merged). */
  batchRejected(index: number): void {
    this.get(index).rejectedBatches++;
  }

  /** The worker's thread ended (crash, out of memory, stall, exit) and is replaced after `backoffMs`. */
  failed(index: number, reason: WorkerFailureReason, backoffMs: number): WorkerRecord {
    const r = this.get(index);
    r.restarts++;
    r.consecutiveFailures++;
    r.lastFailure = reason;
    r.failures[WORKER_FAILURE_REASONS.indexOf(reason)]++;
    r.backoffMs = backoffMs;
    r.state = reason === 'stalled' ? 'stalled' : 'crashed';
    r.stateSince = this.now();
    r.lastBatchAt = Number.NaN;
    return r;
  }

  /** A worker that had failed ran long enough to count as healthy: its backoff resets. */
  healthy(index: number): void {
    const r = this.get(index);
    r.consecutiveFailures = 0;
    r.backoffMs = 0;
  }
}

function nonNegative(v: number): number {
  return v > 0 ? v : 0;
}

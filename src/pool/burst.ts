/**
 * The main thread's side of one-shot bursts (protocol: src/protocol/burst.ts): send a
 * burst to a worker over its shard port and wait for its one answer.
 *
 *   const r = await supervisor.bursts.run(spec, { signal });   // BurstResult
 *   summarizeBurst(r)                                           // burst-summary.ts
 *
 * Every promise settles: with the worker's answer, with BurstError when the worker
 * refuses the burst (`refused`), has no running shard (`unavailable`), ended or was
 * replaced before answering (`worker_lost`), or the pool stops (`stopped`). An abort
 * of `signal` asks the worker to end the burst, which then answers with what it has
 * (`cut` set), so a caller that gives up still gets its partial result.
 */
import { checkBurstSpec, type BurstSpec, type FromWorkerBurst, type ToWorkerBurst } from '../protocol/burst.js';

export type BurstErrorCode = 'invalid' | 'refused' | 'unavailable' | 'worker_lost' | 'stopped';

export class BurstError extends Error {
  constructor(
    readonly code: BurstErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BurstError';
  }
}

export interface BurstResult {
  /** Worker that ran it. */
  worker: number;
  /** Batch-codec buffer of the burst's records (read with BatchReader). */
  records: ArrayBuffer;
  /** Float64Array: ms after the first probe start at which each record was written. */
  times: Float64Array;
  started: number;
  durationMs: number;
  cut: boolean;
}

export interface RunBurstOptions {
  /** Worker to run it on (the one owning a configured target, say); default: the next running worker in turn. */
  worker?: number;
  /** Abort: the worker ends the burst and answers with what it has. */
  signal?: AbortSignal;
}

/** How the dispatcher reaches the workers (implemented by ShardSupervisor). */
export interface BurstTransport {
  readonly workers: number;
  /** Post to a worker's running shard; false when it has none now. */
  post(worker: number, msg: ToWorkerBurst): boolean;
}

interface Pending {
  worker: number;
  resolve(r: BurstResult): void;
  reject(e: BurstError): void;
  cleanup(): void;
}

export class BurstDispatcher {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private turn = 0;
  private closed = false;

  constructor(private readonly transport: BurstTransport) {}

  /** Bursts sent and not answered yet. */
  get inFlight(): number {
    return this.pending.size;
  }

  run(spec: BurstSpec, opts: RunBurstOptions = {}): Promise<BurstResult> {
    if (this.closed) return Promise.reject(new BurstError('stopped', 'the worker pool is stopping'));
    const why = checkBurstSpec(spec);
    if (why) return Promise.reject(new BurstError('invalid', why));
    const id = this.nextId++;
    const n = this.transport.workers;
    const order = opts.worker !== undefined ? [opts.worker] : Array.from({ length: n }, (_, i) => (this.turn + i) % n);
    if (opts.worker === undefined) this.turn = (this.turn + 1) % n;
    return new Promise<BurstResult>((resolve, reject) => {
      const onAbort = (): void => {
        const p = this.pending.get(id);
        if (p) this.transport.post(p.worker, { type: 'burst_cancel', id });
      };
      const cleanup = (): void => opts.signal?.removeEventListener('abort', onAbort);
      for (const w of order) {
        if (w < 0 || w >= n || !Number.isInteger(w)) continue;
        // Registered first: a worker on this thread could in principle answer synchronously.
        this.pending.set(id, { worker: w, resolve, reject, cleanup });
        if (this.transport.post(w, { type: 'burst', id, spec })) {
          opts.signal?.addEventListener('abort', onAbort, { once: true });
          if (opts.signal?.aborted) onAbort();
          return;
        }
        this.pending.delete(id);
      }
      reject(new BurstError('unavailable', opts.worker !== undefined ? `worker ${opts.worker} has no running shard` : 'no worker has a running shard'));
    });
  }

  /** A burst answer from `worker` (the supervisor routes burst_* messages here). */
  onMessage(worker: number, m: FromWorkerBurst): void {
    const p = this.pending.get(m.id);
    if (p === undefined || p.worker !== worker) return; // answered already, or from a replaced thread
    this.pending.delete(m.id);
    p.cleanup();
    if (m.type === 'burst_failed') {
      p.reject(new BurstError('refused', m.reason));
      return;
    }
    p.resolve({ worker, records: m.records, times: new Float64Array(m.times), started: m.started, durationMs: m.durationMs, cut: m.cut });
  }

  /** The worker's shard ended (crash, stall, exit): its bursts will never be answered. */
  workerLost(worker: number): void {
    for (const [id, p] of this.pending) {
      if (p.worker !== worker) continue;
      this.pending.delete(id);
      p.cleanup();
      p.reject(new BurstError('worker_lost', `worker ${worker} ended before the burst finished`));
    }
  }

  /** The pool stops: refuse new bursts, fail the unanswered ones. */
  close(): void {
    this.closed = true;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.cleanup();
      p.reject(new BurstError('stopped', 'the worker pool stopped before the burst finished'));
    }
  }
}

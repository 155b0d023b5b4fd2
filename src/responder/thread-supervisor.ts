/**
 * Main-thread side of the responder thread: starts it, learns its bound addresses,
 * restarts it when it dies, reads its counters for /metrics, stops it.
 *
 * Counters. They live in a SharedArrayBuffer created here, which the thread adds to
 * (ResponderStats over it). A replacement thread gets the same buffer, so after a
 * crash the counters carry on from the last datagram the dead thread counted —
 * nothing is lost, nothing is summed twice. For a scrape, the main thread asks the
 * live thread for a copy (one message each way; concurrent scrapes share one
 * request), so /metrics shows the counters as of that moment: staleness is the
 * thread's reply time, well under a millisecond on an idle thread. Reading the
 * shared memory directly while the thread writes it would be a race, and
 * ECMAScript allows a racing Float64 read to tear. The memory is read directly only
 * when no thread is running, or when the thread has not answered within
 * snapshotTimeoutMs (then a torn value is the lesser evil than no scrape).
 *
 * Restarts. A thread that exits while we are not closing it has crashed: the crash
 * is logged and counted (fleetprobe_responder_restarts_total) and a new thread is
 * started after a capped exponential backoff (reset once a thread has lived
 * RESET_AFTER_MS). It binds the ports the first thread bound (so a configured port
 * 0 stays the same port: peers keep probing it). A replacement that cannot listen
 * counts as another restart and is retried the same way.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ListenAddress, ResponderOptions } from './limits.js';
import { LISTENERS, ResponderListenError, type ResponderAddresses } from './listeners.js';
import type { ResponderLogger } from './logger.js';
import { RESPONDER_STATS_LENGTH, ResponderStats, type ResponderStatsSource } from './metrics.js';
import { restoreLogFields, type FromResponderThread, type ResponderThreadData, type ToResponderThread } from './thread-protocol.js';

const DEFAULT_THREAD_FILE = fileURLToPath(new URL('./thread.js', import.meta.url));

export interface ResponderThreadOptions {
  logger: ResponderLogger;
  /** Override the thread script (tests inject faults with it). Default: the compiled thread.js. */
  filename?: string;
  /** Backoff bounds between restarts (ms). */
  restartMinMs?: number;
  restartMaxMs?: number;
  /** How long a scrape waits for the thread's counters before reading shared memory. */
  snapshotTimeoutMs?: number;
  /** close(): after graceMs, how much longer the thread may take to end before it is terminated. */
  closeMarginMs?: number;
}

export interface ResponderThreadStatus {
  running: boolean;
  restarts: number;
  threadId: number;
}

/** A thread that lived this long before crashing restarts at the minimum backoff again. */
const RESET_AFTER_MS = 60_000;

interface Pending<T> {
  resolve(v: T): void;
  reject(err: unknown): void;
}

export class ResponderThread implements ResponderStatsSource {
  private readonly stats: ResponderStats;
  private worker: Worker | null = null;
  private listening = false;
  private listeningAt = 0;
  private bound: ResponderAddresses = {};
  private nRestarts = 0;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private lastError: unknown = null;
  private startWaiter: Pending<ResponderAddresses> | null = null;
  private closing: Promise<void> | null = null;
  private snapshotSeq = 0;
  private snapshotWaiter: { id: number; promise: Promise<ResponderStats>; resolve(s: ResponderStats): void; timer: NodeJS.Timeout } | null = null;
  private warnedSlowSnapshot = false;

  constructor(
    private readonly options: ResponderOptions,
    private readonly shared: SharedArrayBuffer,
    private readonly opts: ResponderThreadOptions,
  ) {
    this.stats = new ResponderStats(new Float64Array(shared));
    if (this.stats.values.length !== RESPONDER_STATS_LENGTH) throw new RangeError('responder stats buffer has the wrong size');
  }

  /** Start the thread; resolves with the bound addresses, rejects if it cannot listen (ResponderListenError). */
  start(): Promise<ResponderAddresses> {
    return new Promise((resolve, reject) => {
      this.startWaiter = { resolve, reject };
      this.launch(this.options);
    });
  }

  addresses(): ResponderAddresses {
    return this.bound;
  }

  restarts(): number {
    return this.nRestarts;
  }

  status(): ResponderThreadStatus {
    return { running: this.listening, restarts: this.nRestarts, threadId: this.worker?.threadId ?? -1 };
  }

  /** The counters now (see the file header). */
  snapshot(): ResponderStats | Promise<ResponderStats> {
    const worker = this.worker;
    // No thread: nothing writes the memory. A thread that exits before answering is
    // settled by onExit, from the memory it can no longer write.
    if (!worker) return this.readShared();
    if (this.snapshotWaiter) return this.snapshotWaiter.promise;
    const id = ++this.snapshotSeq;
    let resolve!: (s: ResponderStats) => void;
    const promise = new Promise<ResponderStats>((r) => (resolve = r));
    const timer = setTimeout(() => {
      if (!this.warnedSlowSnapshot) {
        this.warnedSlowSnapshot = true;
        this.opts.logger.warn({ timeoutMs: this.snapshotTimeout }, 'responder thread did not send its counters in time; reading them directly');
      }
      this.settleSnapshot(id, this.readShared());
    }, this.snapshotTimeout);
    timer.unref();
    this.snapshotWaiter = { id, promise, resolve, timer };
    worker.postMessage({ type: 'snapshot', id } satisfies ToResponderThread);
    return promise;
  }

  /** Ask the thread to close its listeners (connections flush for graceMs), then wait for it to end. Idempotent. */
  close(graceMs: number): Promise<void> {
    this.closing ??= this.doClose(graceMs);
    return this.closing;
  }

  private get snapshotTimeout(): number {
    return this.opts.snapshotTimeoutMs ?? 1000;
  }

  private readShared(): ResponderStats {
    return new ResponderStats(this.stats.values.slice());
  }

  private settleSnapshot(id: number, s: ResponderStats): void {
    const w = this.snapshotWaiter;
    if (!w || w.id !== id) return;
    clearTimeout(w.timer);
    this.snapshotWaiter = null;
    w.resolve(s);
  }

  private async doClose(graceMs: number): Promise<void> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const worker = this.worker;
    if (!worker) return;
    // 'exit' has not been dispatched yet (onExit clears this.worker), so this catches it.
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'close', graceMs } satisfies ToResponderThread);
    // Not unref()ed: close() is awaited and the thread may be the only other thing alive.
    const kill = setTimeout(
      () => {
        this.opts.logger.warn({ graceMs }, 'responder thread did not end after closing; terminating it');
        void worker.terminate();
      },
      graceMs + (this.opts.closeMarginMs ?? 2000),
    );
    await exited;
    clearTimeout(kill);
  }

  private launch(options: ResponderOptions): void {
    const data: ResponderThreadData = { options, stats: this.shared, debug: this.opts.logger.isLevelEnabled?.('debug') ?? false };
    const worker = new Worker(this.opts.filename ?? DEFAULT_THREAD_FILE, { workerData: data });
    this.worker = worker;
    this.listening = false;
    this.lastError = null;
    worker.on('message', (m: FromResponderThread) => this.onMessage(worker, m));
    // An uncaught exception in the thread: 'exit' follows, where we act.
    worker.on('error', (err) => {
      if (worker === this.worker) this.lastError = err;
    });
    worker.on('exit', (code) => this.onExit(worker, code));
  }

  private onMessage(worker: Worker, m: FromResponderThread): void {
    if (worker !== this.worker) return;
    switch (m.type) {
      case 'listening': {
        this.listening = true;
        this.listeningAt = performance.now();
        const first = this.startWaiter;
        if (first) {
          this.bound = m.addresses;
          this.startWaiter = null;
          first.resolve(m.addresses);
        } else {
          this.opts.logger.info({ restarts: this.nRestarts, threadId: worker.threadId }, 'responder thread restarted and listening again');
        }
        break;
      }
      case 'listen_failed': {
        const err = new ResponderListenError(m.listener, m.at, m.code, m.cause);
        const first = this.startWaiter;
        if (first) {
          this.startWaiter = null;
          this.lastError = err;
          void worker.terminate().then(() => first.reject(err));
        } else {
          // A replacement could not bind (the port was taken meanwhile): exit → another restart.
          this.lastError = err;
          void worker.terminate();
        }
        break;
      }
      case 'snapshot':
        this.settleSnapshot(m.id, new ResponderStats(m.values));
        break;
      case 'log':
        this.opts.logger[m.level](restoreLogFields(m.fields), m.msg);
        break;
      case 'closed':
        break;
    }
  }

  private onExit(worker: Worker, code: number): void {
    if (worker !== this.worker) return;
    this.worker = null;
    const livedMs = this.listening ? performance.now() - this.listeningAt : 0;
    this.listening = false;
    // No writer any more: the shared memory is safe to read.
    if (this.snapshotWaiter) this.settleSnapshot(this.snapshotWaiter.id, this.readShared());
    if (this.closing) {
      if (this.lastError) this.opts.logger.warn({ err: this.lastError, exitCode: code }, 'responder thread failed while closing');
      return;
    }
    const err = this.lastError ?? new Error(`responder thread exited with code ${code}`);
    if (this.startWaiter) {
      const first = this.startWaiter;
      this.startWaiter = null;
      first.reject(err);
      return;
    }
    if (this.startWaiter === null && Object.keys(this.bound).length === 0) return; // start() failed: nothing to restart
    // Its connections died with it.
    this.stats.tcpConnectionsOpen = 0;
    if (livedMs >= RESET_AFTER_MS) this.failures = 0;
    this.failures++;
    this.nRestarts++;
    const min = this.opts.restartMinMs ?? 100;
    const max = this.opts.restartMaxMs ?? 10_000;
    const delayMs = Math.min(max, min * 2 ** Math.min(16, this.failures - 1));
    this.opts.logger.error({ err, exitCode: code, restarts: this.nRestarts, delayMs }, 'responder thread exited; restarting it');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.closing) this.launch(this.relaunchOptions());
    }, delayMs);
  }

  /** The configured options with every port 0 replaced by the port the first thread bound. */
  private relaunchOptions(): ResponderOptions {
    const out: ResponderOptions = { ...this.options };
    for (const name of LISTENERS) {
      const at: ListenAddress | undefined = this.options[name];
      const bound = this.bound[name];
      if (at && bound) out[name] = { host: at.host, port: bound.port };
    }
    return out;
  }
}

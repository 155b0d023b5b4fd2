/**
 * The on-demand tests of this process: their records, the concurrency limit, the
 * bounded list of ended tests, waiting for an end, cancelling, and the counts the
 * metrics read. It knows nothing of HTTP or of workers: starting and cancelling on a
 * worker are functions it is given (the controller's), and ends are reported to it.
 *
 * A test's record is in `running` state from start until its worker reports the end
 * (test_end), its worker is gone (failed), or a guard timer fires (failed): the guard
 * is the test's longest possible run plus a grace, so a lost message cannot hold a
 * concurrency slot forever.
 *
 * Unlisted runs (runUnlisted, GET /probe's) share the slots, the worker path and the
 * guard, but are reads, not tests anyone manages: they count against neither
 * tests.max_concurrent nor tests.results_kept nor the on-demand metrics, never show in
 * list()/get(), and are forgotten when they end (the caller has the result).
 */
import { randomUUID } from 'node:crypto';
import type { OnDemandTask, TestEndState } from '../protocol/messages.js';
import type { ProbeKind } from '../targets/model.js';
import type { TestResult } from '../protocol/ondemand/result.js';

export type TestState = 'running' | TestEndState;
export const TEST_END_STATES: readonly TestEndState[] = ['done', 'failed', 'cancelled'];

/** Grace after a test's longest possible run before the main thread gives up on its worker. */
export const END_GUARD_GRACE_MS = 10_000;

export interface ManagerLimits {
  maxConcurrent: number;
  resultsKept: number;
}

export interface TestDescription {
  kind: ProbeKind;
  /** Configured target's name, or null for a new address. */
  target: string | null;
  address: string;
  count: number;
  intervalMs: number;
  timeoutMs: number;
  /** http ?size=, or null. */
  size: number | null;
  tags: Record<string, string>;
}

interface Entry {
  id: string;
  desc: TestDescription;
  worker: number;
  state: TestState;
  startedAt: number;
  endedAt: number | null;
  result: TestResult | null;
  error: string | null;
  guard: NodeJS.Timeout | null;
  waiters: Array<() => void>;
  unlisted: boolean;
}

/** A test as GET /api/v1/tests/ID shows it. */
export interface TestView {
  id: string;
  state: TestState;
  kind: ProbeKind;
  target: string | null;
  address: string;
  count: number;
  interval_seconds: number;
  timeout_seconds: number;
  size?: number;
  tags: Record<string, string>;
  started_at: string;
  ended_at: string | null;
  result: TestResult | null;
  error?: string;
}

export interface Launcher {
  /** Post the task to `worker`; false if that worker cannot take it now. */
  start(worker: number, task: OnDemandTask): boolean;
  cancel(worker: number, id: string): void;
}

/** How an unlisted run ended, or why it could not start. */
export type UnlistedOutcome =
  { ok: true; state: TestEndState; result: TestResult | null; error: string | null } | { ok: false; error: 'worker_unavailable'; message: string };

export type StartOutcome = { ok: true; id: string } | { ok: false; status: 429 | 503; error: 'too_many_tests' | 'worker_unavailable'; message: string };

export class TestManager {
  private readonly entries = new Map<string, Entry>();
  /** Ended tests, oldest first (forgotten beyond resultsKept). */
  private readonly ended: string[] = [];
  private running = 0;
  private slotSeq = 0;
  /** Ended tests by `${kind} ${state}`, and probes sent by kind (the metrics read them). */
  readonly testsByKindState = new Map<string, number>();
  readonly probesByKind = new Map<string, number>();

  constructor(
    private readonly limits: () => ManagerLimits,
    private readonly launcher: Launcher,
    private readonly now: () => number = Date.now,
  ) {}

  get runningCount(): number {
    return this.running;
  }

  /**
   * Start a test on `worker`. `task(id, slotIndex)` builds the worker's task; slotIndex
   * is unique among tests running at once (they are bounded far below the slot span).
   */
  start(desc: TestDescription, worker: number, task: (id: string, slotIndex: number) => OnDemandTask): StartOutcome {
    const { maxConcurrent } = this.limits();
    if (this.running >= maxConcurrent) {
      return {
        ok: false,
        status: 429,
        error: 'too_many_tests',
        message: `${this.running} on-demand tests are running; tests.max_concurrent is ${maxConcurrent}: wait for one to end or cancel one`,
      };
    }
    const e = this.launch(desc, worker, task, false);
    if (e === null) {
      return { ok: false, status: 503, error: 'worker_unavailable', message: `worker ${worker}, which runs this target, is restarting; try again shortly` };
    }
    this.running++;
    return { ok: true, id: e.id };
  }

  /**
   * Run an unlisted test on `worker` and resolve with how it ended (see the header).
   * `signal` cancels it: the worker then answers with what it has.
   */
  runUnlisted(desc: TestDescription, worker: number, task: (id: string, slotIndex: number) => OnDemandTask, signal?: AbortSignal): Promise<UnlistedOutcome> {
    const e = this.launch(desc, worker, task, true);
    if (e === null) return Promise.resolve({ ok: false, error: 'worker_unavailable', message: `worker ${worker} is restarting; try again shortly` });
    const onAbort = (): void => {
      if (e.state === 'running') this.launcher.cancel(e.worker, e.id);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    return new Promise((resolve) => {
      e.waiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve({ ok: true, state: e.state as TestEndState, result: e.result, error: e.error });
      });
    });
  }

  private launch(desc: TestDescription, worker: number, task: (id: string, slotIndex: number) => OnDemandTask, unlisted: boolean): Entry | null {
    const id = randomUUID();
    const t = task(id, this.slotSeq++ & 0x0fff_ffff);
    if (!this.launcher.start(worker, t)) return null;
    const e: Entry = {
      id,
      desc,
      worker,
      state: 'running',
      startedAt: this.now(),
      endedAt: null,
      result: null,
      error: null,
      guard: null,
      waiters: [],
      unlisted,
    };
    const longest = desc.count * desc.intervalMs + desc.timeoutMs + END_GUARD_GRACE_MS;
    e.guard = setTimeout(() => this.end(id, 'failed', null, 'no result from the worker in time'), longest);
    e.guard.unref();
    this.entries.set(id, e);
    return e;
  }

  /** The worker reported the end of a test. */
  end(id: string, state: TestEndState, result: TestResult | null, error?: string | null): void {
    const e = this.entries.get(id);
    if (!e || e.state !== 'running') return;
    if (e.guard) clearTimeout(e.guard);
    e.guard = null;
    e.state = state;
    e.endedAt = this.now();
    e.result = result;
    e.error = error ?? null;
    if (e.unlisted) {
      this.entries.delete(id);
      for (const w of e.waiters.splice(0)) w();
      return;
    }
    this.running--;
    const key = `${e.desc.kind} ${state}`;
    this.testsByKindState.set(key, (this.testsByKindState.get(key) ?? 0) + 1);
    if (result) this.probesByKind.set(e.desc.kind, (this.probesByKind.get(e.desc.kind) ?? 0) + result.sent);
    this.ended.push(id);
    const kept = this.limits().resultsKept;
    while (this.ended.length > kept) this.entries.delete(this.ended.shift()!);
    for (const w of e.waiters.splice(0)) w();
  }

  /** A worker's thread is gone: its running tests will never report. */
  workerGone(worker: number): void {
    for (const e of [...this.entries.values()])
      if (e.state === 'running' && e.worker === worker) this.end(e.id, 'failed', null, 'the worker running the test stopped');
  }

  /** DELETE: ask the worker to stop it (the end arrives as a report). Null: no such test. */
  cancel(id: string): TestView | null {
    const e = this.listed(id);
    if (!e) return null;
    if (e.state === 'running') this.launcher.cancel(e.worker, id);
    return this.view(e);
  }

  get(id: string): TestView | null {
    const e = this.listed(id);
    return e ? this.view(e) : null;
  }

  private listed(id: string): Entry | undefined {
    const e = this.entries.get(id);
    return e && !e.unlisted ? e : undefined;
  }

  /** Running and kept tests, newest first. */
  list(): TestView[] {
    return [...this.entries.values()]
      .filter((e) => !e.unlisted)
      .reverse()
      .map((e) => this.view(e));
  }

  /** Resolves when the test has ended (at once if it has, or is unknown). */
  waitFor(id: string): Promise<void> {
    const e = this.listed(id);
    if (!e || e.state !== 'running') return Promise.resolve();
    return new Promise((resolve) => e.waiters.push(resolve));
  }

  /** Cancel every running test (shutdown). */
  close(): void {
    for (const e of [...this.entries.values()]) if (e.state === 'running') this.end(e.id, 'cancelled', e.result, 'the exporter is stopping');
  }

  private view(e: Entry): TestView {
    const d = e.desc;
    const v: TestView = {
      id: e.id,
      state: e.state,
      kind: d.kind,
      target: d.target,
      address: d.address,
      count: d.count,
      interval_seconds: d.intervalMs / 1000,
      timeout_seconds: d.timeoutMs / 1000,
      tags: d.tags,
      started_at: new Date(e.startedAt).toISOString(),
      ended_at: e.endedAt === null ? null : new Date(e.endedAt).toISOString(),
      result: e.result,
    };
    if (d.size !== null) v.size = d.size;
    if (e.error !== null) v.error = e.error;
    return v;
  }
}

/**
 * On-demand tests inside a shard: each test is a target on an on-demand slot, added to
 * the shard's prober of its kind (the same prober, sockets and matching as the
 * scheduled probes), probed `count` times every `intervalMs` by a timer of its own,
 * and tallied from the outcomes the ProbeSinkRouter sends here.
 *
 * Pacing: each tick sends every probe due by now (start + i x interval), so a late
 * timer catches up instead of stretching the test, and a udp test at 1,000/s with a
 * 1 ms timer resolution still sends 1,000 probes a second.
 *
 * A test ends when every probe sent has its outcome (reply, timeout or error; the
 * probers report exactly one per probe), or on cancel, or when the shard stops. A
 * guard timer ends it as failed if outcomes are missing long after the last timeout
 * (a prober bug must not hold a test slot forever).
 */
import { ERROR_REASON_NAMES, HTTP_PHASE_NAMES, ProbeEvent } from '../src/protocol/events.js';
import type { FromWorker, OnDemandTask, TestEndState } from '../src/protocol/messages.js';
import type { ProbeKind } from '../src/targets/model.js';
import { newTally, summarize, type Tally } from '../src/protocol/ondemand/result.js';
import type { Prober, ProbeSink } from './probes/prober.js';

/** A probe the prober skipped is tried again after this long (ms), or the interval if shorter. */
const SKIPPED_RETRY_MS = 5;

/** Grace after the last probe's timeout before a test whose outcomes are missing is failed. */
const GUARD_GRACE_MS = 2000;

class RunningTest {
  readonly tally: Tally = newTally();
  issued = 0;
  readonly startedAt = performance.now();
  timer: NodeJS.Timeout | null = null;
  guard: NodeJS.Timeout | null = null;
  /** When the prober began skipping this test's probes (null: it is not). */
  skippingSince: number | null = null;
  constructor(
    readonly task: OnDemandTask,
    readonly prober: Prober,
  ) {}
  get settled(): number {
    const t = this.tally;
    let errors = 0;
    for (const k in t.errors) errors += t.errors[k];
    return t.received + t.timeouts + errors;
  }
}

export class OnDemandRunner implements ProbeSink {
  private readonly bySlot = new Map<number, RunningTest>();
  private readonly byId = new Map<string, RunningTest>();

  constructor(
    private readonly proberFor: (kind: ProbeKind) => Prober,
    private readonly post: (msg: FromWorker) => void,
  ) {}

  get running(): number {
    return this.byId.size;
  }

  start(task: OnDemandTask): void {
    let prober: Prober;
    try {
      prober = this.proberFor(task.target.kind);
      prober.add(task.target);
    } catch (err) {
      this.post({
        type: 'test_end',
        id: task.id,
        state: 'failed',
        result: summarize(task.target.kind, newTally()),
        error: err instanceof Error ? err.message : String(err),
      });
      return;
    }
    const t = new RunningTest(task, prober);
    this.bySlot.set(task.target.slot, t);
    this.byId.set(task.id, t);
    this.tick(t);
  }

  cancel(id: string): void {
    const t = this.byId.get(id);
    if (t) this.end(t, 'cancelled');
  }

  /** The shard is stopping: every running test fails with what it has. */
  stopAll(): void {
    for (const t of [...this.byId.values()]) this.end(t, 'failed', 'the worker stopped');
  }

  private tick(t: RunningTest): void {
    t.timer = null;
    const { count, intervalMs } = t.task;
    const due = Math.min(count, Math.floor((performance.now() - t.startedAt) / intervalMs) + 1);
    let skipped = false;
    while (t.issued < due && this.byId.get(t.task.id) === t) {
      t.issued++;
      const before = t.tally.sent;
      t.prober.probe(t.task.target.slot);
      if (t.tally.sent === before && this.byId.get(t.task.id) === t) {
        // The prober skipped it (tcp_echo before its first connection settles: see
        // tcp-echo.ts). Probers report Sent synchronously, so no Sent = not sent: try
        // again shortly, for at most the probe timeout, rather than end a probe short.
        const now = performance.now();
        t.skippingSince ??= now;
        if (now - t.skippingSince <= t.task.target.timeoutMs) {
          t.issued--;
          skipped = true;
        }
        break;
      }
      t.skippingSince = null;
    }
    if (this.byId.get(t.task.id) !== t) return; // ended meanwhile (an instant error on the last probe)
    if (skipped) {
      t.timer = setTimeout(() => this.tick(t), Math.min(intervalMs, SKIPPED_RETRY_MS));
    } else if (t.issued < count) {
      const next = t.startedAt + t.issued * intervalMs - performance.now();
      t.timer = setTimeout(() => this.tick(t), Math.max(0, next));
    } else {
      t.guard = setTimeout(() => this.end(t, 'failed', `${t.tally.sent - t.settled} probe outcome(s) never arrived`), t.task.target.timeoutMs + GUARD_GRACE_MS);
      this.maybeDone(t);
    }
  }

  private maybeDone(t: RunningTest): void {
    if (t.issued >= t.task.count && t.settled >= t.tally.sent) this.end(t, 'done');
  }

  private end(t: RunningTest, state: TestEndState, error?: string): void {
    if (this.byId.get(t.task.id) !== t) return;
    this.byId.delete(t.task.id);
    this.bySlot.delete(t.task.target.slot);
    if (t.timer) clearTimeout(t.timer);
    if (t.guard) clearTimeout(t.guard);
    try {
      t.prober.remove(t.task.target.slot);
    } catch {
      /* it never had it */
    }
    const msg: FromWorker = { type: 'test_end', id: t.task.id, state, result: summarize(t.task.target.kind, t.tally) };
    if (error !== undefined) msg.error = error;
    this.post(msg);
  }

  // ProbeSink, for on-demand slots (see ProbeSinkRouter).
  sent(slot: number): void {
    const t = this.bySlot.get(slot);
    if (t) t.tally.sent++;
  }
  reply(slot: number, rttSeconds: number, seq?: number): void {
    const t = this.bySlot.get(slot);
    if (!t) return;
    t.tally.received++;
    t.tally.rtts.push(rttSeconds);
    if (seq !== undefined) t.tally.seqs.push(seq);
    this.maybeDone(t);
  }
  timeout(slot: number): void {
    const t = this.bySlot.get(slot);
    if (!t) return;
    t.tally.timeouts++;
    this.maybeDone(t);
  }
  error(slot: number, reason: number): void {
    const t = this.bySlot.get(slot);
    if (!t) return;
    const name = ERROR_REASON_NAMES[reason] ?? 'unknown';
    t.tally.errors[name] = (t.tally.errors[name] ?? 0) + 1;
    this.maybeDone(t);
  }
  duplicate(slot: number): void {
    const t = this.bySlot.get(slot);
    if (t) t.tally.duplicates++;
  }
  late(slot: number): void {
    const t = this.bySlot.get(slot);
    if (t) t.tally.late++;
  }
  dropped(): void {
    /* drops are the batch's (the router never sends them here) */
  }
  /** http phases (mean per phase) and the last status; other kinds' records (tcp_echo connects) are not part of a result. */
  record(slot: number, event: number, _reason: number, aux: number, value: number): void {
    const t = this.bySlot.get(slot);
    if (!t) return;
    const e = event as ProbeEvent;
    if (e === ProbeEvent.Phase && aux < HTTP_PHASE_NAMES.length) {
      t.tally.phaseSums[aux] += value;
      t.tally.phaseCounts[aux]++;
    } else if (e === ProbeEvent.Status) t.tally.httpStatus = aux;
  }
  transferred(slot: number, bytes: number, seconds: number): void {
    const t = this.bySlot.get(slot);
    if (!t) return;
    t.tally.bodyBytes += bytes;
    t.tally.transferSeconds += seconds;
  }
}

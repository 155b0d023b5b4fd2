/**
 * One-shot bursts on a shard (protocol: src/protocol/burst.ts).
 *
 * A burst borrows the shard's prober of its kind: the same sockets, the same ICMP
 * identifier and cookie, so no second raw socket per worker and no identifier that
 * could collide. Its target gets a slot from the reserved range (BURST_SLOT_BASE and
 * up); BurstRoutingSink sends every record of such a slot here instead of into the
 * shard's batch, so a burst never touches the scheduled targets' counters nor the
 * store. The burst keeps its records in its own BatchWriter (the batch codec, one
 * record per sink call) with the time of each, and posts them when every probe has an
 * outcome (reply, timeout or error), when cancelled, at its deadline, or when the shard
 * stops. A burst is answered exactly once.
 *
 * The end is deferred by one macrotask: the record that completes a burst arrives
 * from inside the prober (a reply being handled), which must not have its target
 * removed under it.
 */
import { BatchWriter } from '../src/protocol/batch.js';
import { BURST_SLOT_BASE, BURST_SLOTS, burstDeadlineMs, checkBurstSpec, type BurstSpec } from '../src/protocol/burst.js';
import { ErrorReason, ProbeEvent } from '../src/protocol/events.js';
import type { FromWorker } from '../src/protocol/messages.js';
import type { ProbeKind } from '../src/targets/model.js';
import type { Prober, ProbeSink } from './probes/prober.js';

export interface BurstHost {
  /** The shard's prober of a kind (created on first use); throws when the kind is unsupported. */
  proberFor(kind: ProbeKind): Prober;
  post(msg: FromWorker, transfer?: ArrayBuffer[]): void;
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

interface RunningBurst {
  id: number;
  slot: number;
  spec: BurstSpec;
  prober: Prober;
  writer: BatchWriter;
  times: number[];
  t0: number;
  started: number;
  /** Outcomes seen (Reply, Timeout, Error): the burst is complete at spec.count. */
  outcomes: number;
  lastAt: number;
  sendTimer: NodeJS.Timeout | null;
  deadline: NodeJS.Timeout | null;
  ending: NodeJS.Immediate | null;
  cut: boolean;
  done: boolean;
}

/** A probe the prober skipped is tried again after this long (ms), or the interval if shorter. */
const SKIPPED_RETRY_MS = 5;

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class BurstRunner {
  private readonly bySlot = new Map<number, RunningBurst>();
  private readonly byId = new Map<number, RunningBurst>();
  private nextSlot = 0;
  private stopped = false;

  constructor(private readonly host: BurstHost) {}

  /** Bursts running now. */
  get running(): number {
    return this.byId.size;
  }

  /** Start a burst; its answer is posted later (or at once when it cannot start). */
  start(id: number, spec: BurstSpec): void {
    const fail = (reason: string): void => this.host.post({ type: 'burst_failed', id, reason });
    if (this.stopped) return fail('the worker is stopping');
    const why = checkBurstSpec(spec);
    if (why) return fail(why);
    if (this.byId.has(id)) return fail(`burst ${id} is already running`);
    const slot = this.allocateSlot();
    if (slot < 0) return fail('busy: every burst slot of this worker is in use');
    let prober: Prober;
    try {
      prober = this.host.proberFor(spec.target.kind);
      prober.add({ ...spec.target, slot, intervalMs: spec.intervalMs, phaseMs: 0 });
    } catch (err) {
      return fail(errorMessage(err));
    }
    const b: RunningBurst = {
      id,
      slot,
      spec,
      prober,
      writer: new BatchWriter(Math.min(4096, spec.count * 4)),
      times: [],
      t0: performance.now(),
      started: 0,
      outcomes: 0,
      lastAt: 0,
      sendTimer: null,
      deadline: null,
      ending: null,
      cut: false,
      done: false,
    };
    this.bySlot.set(slot, b);
    this.byId.set(id, b);
    b.deadline = setTimeout(() => {
      b.deadline = null;
      this.end(b, true);
    }, burstDeadlineMs(spec));
    this.sendNext(b);
  }

  /** End a burst now; it is answered with what it has (cut = true). Unknown ids are ignored (it already ended). */
  cancel(id: number): void {
    const b = this.byId.get(id);
    if (b) this.end(b, true);
  }

  /** The shard stops: every running burst is answered with what it has. */
  stopAll(): void {
    this.stopped = true;
    for (const b of [...this.byId.values()]) this.finish(b, true);
  }

  /** A record the prober wrote for a burst slot. */
  record(slot: number, event: number, reason: number, aux: number, value: number): void {
    const b = this.bySlot.get(slot);
    if (b === undefined || b.done) return;
    const at = performance.now() - b.t0;
    b.writer.push(slot, event, reason, aux, value);
    b.times.push(at);
    b.lastAt = at;
    if (event === ProbeEvent.Reply || event === ProbeEvent.Timeout || event === ProbeEvent.Error) {
      b.outcomes++;
      if (b.outcomes >= b.spec.count) this.end(b, false);
    }
  }

  private sendNext(b: RunningBurst): void {
    b.sendTimer = null;
    if (b.done || b.ending !== null) return;
    const before = b.writer.length;
    if (b.started === 0) b.t0 = performance.now();
    try {
      b.prober.probe(b.slot);
    } catch (err) {
      // Counted as a failed probe, so the burst still completes.
      this.host.log('warn', 'burst probe start failed', { burst: b.id, error: errorMessage(err) });
      this.record(b.slot, ProbeEvent.Error, ErrorReason.unknown, 0, 0);
    }
    if (b.done || b.ending !== null) return;
    if (b.writer.length === before) {
      // The prober skipped it (tcp_echo before its first connection settles: see
      // tcp-echo.ts). Probers write Sent synchronously, so nothing written = not sent:
      // try again shortly; the burst's deadline bounds the retries.
      b.sendTimer = setTimeout(() => this.sendNext(b), Math.min(b.spec.intervalMs, SKIPPED_RETRY_MS));
      return;
    }
    b.started++;
    if (b.started < b.spec.count) {
      const dueIn = b.t0 + b.started * b.spec.intervalMs - performance.now();
      b.sendTimer = setTimeout(() => this.sendNext(b), Math.max(0, dueIn));
    }
  }

  /** End after the current call stack (see the file header). */
  private end(b: RunningBurst, cut: boolean): void {
    if (b.done || b.ending !== null) return;
    b.cut = cut;
    if (b.sendTimer !== null) clearTimeout(b.sendTimer);
    b.sendTimer = null;
    b.ending = setImmediate(() => this.finish(b, b.cut));
  }

  private finish(b: RunningBurst, cut: boolean): void {
    if (b.done) return;
    b.done = true;
    if (b.sendTimer !== null) clearTimeout(b.sendTimer);
    if (b.deadline !== null) clearTimeout(b.deadline);
    if (b.ending !== null) clearImmediate(b.ending);
    b.sendTimer = b.deadline = b.ending = null;
    try {
      b.prober.remove(b.slot);
    } catch (err) {
      this.host.log('warn', 'burst: prober remove failed', { burst: b.id, error: errorMessage(err) });
    }
    this.bySlot.delete(b.slot);
    this.byId.delete(b.id);
    const records = b.writer.take(0, 0, 0);
    const times = Float64Array.from(b.times).buffer;
    this.host.post(
      { type: 'burst_done', id: b.id, records, times, started: b.started, durationMs: b.lastAt, cut: cut || b.outcomes < b.spec.count },
      [records, times],
    );
  }

  /** A free slot of the reserved range, or -1. */
  private allocateSlot(): number {
    for (let i = 0; i < BURST_SLOTS; i++) {
      const slot = BURST_SLOT_BASE + ((this.nextSlot + i) % BURST_SLOTS);
      if (!this.bySlot.has(slot)) {
        this.nextSlot = (this.nextSlot + i + 1) % BURST_SLOTS;
        return slot;
      }
    }
    return -1;
  }
}

/** True for a slot of the burst range. */
export function isBurstSlot(slot: number): boolean {
  return slot >= BURST_SLOT_BASE;
}

/**
 * The sink the shard's probers write to: records of burst slots go to the burst
 * runner, everything else to the shard's batch (the scheduled targets).
 */
export class BurstRoutingSink implements ProbeSink {
  constructor(
    private readonly batch: ProbeSink,
    private readonly bursts: BurstRunner,
  ) {}

  sent(slot: number): void {
    if (slot >= BURST_SLOT_BASE) this.bursts.record(slot, ProbeEvent.Sent, 0, 0, 0);
    else this.batch.sent(slot);
  }
  reply(slot: number, rttSeconds: number): void {
    if (slot >= BURST_SLOT_BASE) this.bursts.record(slot, ProbeEvent.Reply, 0, 0, rttSeconds);
    else this.batch.reply(slot, rttSeconds);
  }
  timeout(slot: number): void {
    if (slot >= BURST_SLOT_BASE) this.bursts.record(slot, ProbeEvent.Timeout, 0, 0, 0);
    else this.batch.timeout(slot);
  }
  error(slot: number, reason: number): void {
    if (slot >= BURST_SLOT_BASE) this.bursts.record(slot, ProbeEvent.Error, reason, 0, 0);
    else this.batch.error(slot, reason);
  }
  duplicate(slot: number): void {
    if (slot >= BURST_SLOT_BASE) this.bursts.record(slot, ProbeEvent.Duplicate, 0, 0, 0);
    else this.batch.duplicate(slot);
  }
  late(slot: number, rttSeconds: number): void {
    if (slot >= BURST_SLOT_BASE) this.bursts.record(slot, ProbeEvent.Late, 0, 0, rttSeconds);
    else this.batch.late(slot, rttSeconds);
  }
  dropped(reason: number): void {
    this.batch.dropped(reason);
  }
  record(slot: number, event: number, reason: number, aux: number, value: number): void {
    if (slot >= BURST_SLOT_BASE) this.bursts.record(slot, event, reason, aux, value);
    else this.batch.record(slot, event, reason, aux, value);
  }
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    this.batch.log?.(level, msg, fields);
  }
}

/**
 * Splayed probe scheduling for one shard: each target starts at phase + k·interval.
 *
 * - Deadlines live in one DeadlineTimer (an indexed min-heap keyed by the target's
 *   local index in a SlotIndex, with ONE timer armed for the earliest deadline). Add, remove and interval
 *   changes are O(log n); starting a probe allocates nothing.
 * - Phases are taken against the Unix epoch (clock.originMs + clock.now()), so
 *   targets with the same phase start together across workers and restarts, and
 *   the phases computed by the main thread splay the whole process, not one worker.
 * - Bursts are bounded: at most `maxStartsPerTurn` probes start per event-loop turn,
 *   then we yield with setImmediate so the socket's replies are read between
 *   bursts. Long bursts inflate measured RTT (replies wait behind sends).
 * - Scheduling lag (start time − deadline) is accumulated for the batch header.
 * - A target that fell more than an interval behind skips the missed starts rather
 *   than firing a catch-up storm.
 */
import { systemClock, type Clock } from './time/clock.js';
import { DeadlineTimer } from './time/deadline-timer.js';
import { SlotIndex } from './slot-index.js';

export interface SchedulerOptions {
  clock?: Clock;
  /** Probe starts per event-loop turn before yielding (default 256). */
  maxStartsPerTurn?: number;
  /**
   * Probes due within this many ms after now start in the same turn (default 2).
   * Why: with targets splayed evenly, every probe would otherwise cost its own timer
   * wake-up and event-loop turn; at 1k targets/s that fixed cost per turn dominated
   * the CPU per probe. Starting up to 2 ms early shifts no cadence (the next
   * deadline is still computed from the planned one) and keeps bursts short.
   */
  coalesceMs?: number;
}

/** Counters since the last drainStats(); lag in seconds. */
export interface SchedulerStats {
  started: number;
  lagMax: number;
  lagSum: number;
  lagCount: number;
}

/** First deadline ≥ nowEpoch of the series phase + k·interval (epoch milliseconds). */
export function nextDeadline(nowEpochMs: number, phaseMs: number, intervalMs: number): number {
  const k = Math.ceil((nowEpochMs - phaseMs) / intervalMs);
  return phaseMs + k * intervalMs;
}

export class Scheduler {
  private readonly clock: Clock;
  private readonly maxPerTurn: number;
  private readonly coalesceMs: number;
  private readonly deadlines: DeadlineTimer;
  private readonly index = new SlotIndex(1024);
  private readonly intervalOf = this.index.column(Float64Array);
  /** The caller's small number per target (set()'s `tag`), handed back to onDue. */
  private readonly tagOf = this.index.column(Uint8Array);

  private stopped = false;

  private started = 0;
  private lagMax = 0;
  private lagSum = 0;
  private lagCount = 0;

  /**
   * @param onDue called with the target's slot (and the tag it was set() with) when it
   *   is due. Exceptions are caught and reported through onError so one bad target never
   *   stops the others.
   */
  constructor(
    private readonly onDue: (slot: number, tag: number) => void,
    private readonly onError: (slot: number, err: unknown) => void = () => {},
    opts: SchedulerOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.deadlines = new DeadlineTimer(this.clock, () => this.run(), 1024);
    this.maxPerTurn = Math.max(1, opts.maxStartsPerTurn ?? 256);
    this.coalesceMs = Math.max(0, opts.coalesceMs ?? 2);
  }

  get size(): number {
    return this.index.size;
  }

  has(slot: number): boolean {
    return this.index.has(slot);
  }

  /** Deadline (clock ms) of a target's next start, or NaN. For tests and diagnostics. */
  dueOf(slot: number): number {
    const i = this.index.localOf(slot);
    return i < 0 ? NaN : this.deadlines.heap.dueOf(i);
  }

  /** Room for `targets` targets now (the shard is about to add that many). */
  reserve(targets: number): void {
    this.index.reserve(targets);
    this.deadlines.heap.reserveKeys(targets);
  }

  /**
   * Add a target, or change its interval/phase (its next start is recomputed). O(log n).
   * `tag` (0..255) is handed back to onDue with the slot: the shard's prober of the
   * target, so a start needs no slot → prober lookup (a Map at 100k slots was a cache
   * miss per probe).
   */
  set(slot: number, intervalMs: number, phaseMs: number, tag = 0): void {
    if (this.stopped) return;
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) throw new RangeError(`interval must be > 0 ms, got ${intervalMs}`);
    if (!(tag >= 0 && tag <= 255 && Number.isInteger(tag))) throw new RangeError(`tag must be an integer in [0, 255], got ${tag}`);
    let i = this.index.localOf(slot);
    const existed = i >= 0;
    if (!existed) i = this.index.add(slot);
    this.intervalOf.data[i] = intervalMs;
    this.tagOf.data[i] = tag;
    const phase = ((phaseMs % intervalMs) + intervalMs) % intervalMs;
    const origin = this.clock.originMs;
    const now = this.clock.now();
    let due = nextDeadline(origin + now, phase, intervalMs) - origin;
    // A changed target that just started must not start again at the same instant.
    if (existed && due <= now) due += intervalMs;
    this.deadlines.set(i, due);
  }

  /** Stop scheduling a target. O(log n). */
  remove(slot: number): boolean {
    const i = this.index.remove(slot);
    if (i < 0) return false;
    this.deadlines.delete(i);
    return true;
  }

  /** Copy the counters accumulated since the previous call into `out` and reset them. */
  drainStats(out: SchedulerStats): SchedulerStats {
    out.started = this.started;
    out.lagMax = this.lagMax;
    out.lagSum = this.lagSum;
    out.lagCount = this.lagCount;
    this.started = this.lagMax = this.lagSum = this.lagCount = 0;
    return out;
  }

  /** Cancel all timers; nothing in the scheduler keeps the thread alive afterwards. */
  stop(): void {
    this.stopped = true;
    this.deadlines.stop();
    this.index.clear();
  }

  /** Start every due probe, at most maxPerTurn (then yield); the timer re-arms itself after. */
  private run(): void {
    if (this.stopped) return;
    const heap = this.deadlines.heap;
    const clock = this.clock;
    let n = 0;
    while (heap.size > 0) {
      const now = clock.now();
      const due = heap.peekDue();
      if (due > now + this.coalesceMs) break;
      if (n === this.maxPerTurn) {
        // More is due: yield one turn so replies are read, then continue.
        this.deadlines.yieldTurn();
        return;
      }
      n++;
      const i = heap.peekKey();
      const interval = this.intervalOf.data[i];
      let next = due + interval;
      // Fell behind by more than an interval (paused thread, overload): skip the
      // missed starts instead of bursting them out.
      if (next <= now) next = due + Math.ceil((now - due) / interval) * interval;
      heap.set(i, next);
      // A probe started early by coalescing is not late.
      const lag = now > due ? (now - due) / 1000 : 0;
      this.started++;
      this.lagSum += lag;
      this.lagCount++;
      if (lag > this.lagMax) this.lagMax = lag;
      const slot = this.index.slotOf(i);
      try {
        this.onDue(slot, this.tagOf.data[i]);
      } catch (err) {
        this.onError(slot, err);
      }
      if (this.stopped) return;
    }
  }
}

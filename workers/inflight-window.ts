/**
 * The in-flight window of the sequence-numbered probers (icmp, udp, tcp_echo), and the
 * books it keeps. Every target has a ring of the last `ring` probes it sent (sequence,
 * send time, state) in columns of the prober's SlotIndex, and one DeadlineTimer holds
 * the deadlines of every probe in flight of every target, keyed by ring entry.
 *
 * Books, reported to the ProbeSink, one outcome per probe sent:
 *   open()      Sent (the probe is pending until its deadline, send time + timeout).
 *   answer()    in time (RTT <= timeout): Reply. After its deadline: Late, with Timeout
 *               booked first if the timer had not run yet (a slow answer is a timeout
 *               whether or not our timer ran before we read it; the RTT judged is the
 *               one the prober measured, which for icmp can be the kernel's). A further
 *               answer to an answered (or failed) probe: Duplicate.
 *   fail()      Error(reason), if still pending. What a later answer to it means is the
 *               caller's choice: a Duplicate (an ICMP error, or an icmp send error: the
 *               outcome is booked, the answer is one more copy) or Unknown (udp/tcp_echo:
 *               the probe never left, or its connection is gone).
 *   the timer   Timeout.
 *   open() on a ring entry whose probe is still pending (the timer ran late): Timeout
 *               for that probe first, so no probe is ever lost from the books.
 * Anything else (a sequence never sent, too old for the ring, of a forgotten target)
 * is Unknown: nothing is booked and the prober drops the packet with its own reason.
 *
 * Sequences are per target, uint32, wrapping: the ICMP payload and the udp header carry
 * 32 bits, and a tcp_echo frame's 64-bit sequence stays below 2^32. A sequence is in the
 * window if it is one of the last `ring` sent, (last - seq) mod 2^32 < ring, and its ring
 * entry still holds it.
 *
 * Ring size: every probe in flight must have its entry: ceil(timeout / interval) + 1 <=
 * ring (fits()). A larger ring also remembers answered and timed-out probes longer, so a
 * very late answer is still Late and not Unknown. One size for every target of a window,
 * so an entry is (local << log2(ring)) | (seq & (ring - 1)) with no per-target lookup.
 * admit() grows it (up to maxRing, by re-laying out every ring: rare, at add()) for a
 * target that needs more; icmp's window does not grow (maxRing = ring), it rejects.
 * The config caps a timeout at TIMEOUT_MAX_INTERVALS intervals, so in practice udp and
 * tcp_echo stay at ECHO_RING.
 *
 * Nothing is allocated per probe: columns and the heap grow by doubling with the index.
 */
import type { ProbeSink } from './probes/prober.js';
import type { Clock } from './time/clock.js';
import { DeadlineTimer } from './time/deadline-timer.js';
import type { SlotIndex, TypedColumn } from './slot-index.js';

/**
 * Ring size of udp and tcp_echo. 32: twice what the config lets be in flight
 * (TIMEOUT_MAX_INTERVALS + 1 = 16), so an answer up to 16 intervals past its timeout is
 * still Late rather than Unknown; what their former per-target window gave every target
 * the config accepts.
 */
export const ECHO_RING = 32;
/** The largest ring (entries per target): what udp/tcp_echo's former window grew to at most. */
export const MAX_RING = 1 << 16;

/** What an answer meant, as the window booked it (Unknown: nothing booked). */
export const enum Outcome {
  Unknown = 0,
  Reply = 1,
  /** After the deadline: Late (and Timeout, if the timer had not booked it yet). */
  Late = 2,
  Duplicate = 3,
}

/** What a later answer to a failed probe means. */
export const enum AfterFailure {
  /** Count it as a duplicate (the probe's outcome is booked; this is another copy). */
  Duplicate = 0,
  /** Drop it as unknown (the probe never left, or its connection is gone). */
  Unknown = 1,
}

const enum State {
  Free = 0,
  Pending = 1,
  /** Reply or Late booked: another answer is a Duplicate. */
  Answered = 2,
  /** Timeout booked: an answer is Late. */
  TimedOut = 3,
  /** Error booked; an answer is a Duplicate. */
  Failed = 4,
  /** Error booked; an answer is Unknown. */
  Gone = 5,
}

/** The State of a ring entry: the column is a Uint8Array, whose elements are plain numbers. */
function stateAt(states: Uint8Array, entry: number): State {
  return states[entry];
}

/** Outcomes booked so far (diagnostics; the exported counters come from the batches). */
export interface InflightBooks {
  sent: number;
  replies: number;
  timeouts: number;
  errors: number;
  duplicates: number;
  late: number;
}

export class InflightWindow {
  private ringSize: number;
  private shift: number;
  private mask: number;
  private readonly lastSeq: TypedColumn<Uint32Array>;
  private readonly timeoutOf: TypedColumn<Float64Array>;
  private readonly entSeq: TypedColumn<Uint32Array>;
  private readonly entSent: TypedColumn<Float64Array>;
  private readonly entState: TypedColumn<Uint8Array>;
  private readonly deadlines: DeadlineTimer;
  readonly books: InflightBooks = { sent: 0, replies: 0, timeouts: 0, errors: 0, duplicates: 0, late: 0 };
  /** First sequence of the next target started (uint32, serial order): past every forgotten target's. */
  private nextFirstSeq = 1;

  /** Whether a target's probes fit a ring of `ring`: all in flight within the timeout, plus the one being sent. */
  static fits(ring: number, intervalMs: number, timeoutMs: number): boolean {
    return intervalMs > 0 && timeoutMs > 0 && Math.ceil(timeoutMs / intervalMs) + 1 <= ring;
  }

  /**
   * @param ring entries per target (a power of two)
   * @param maxRing how far admit() may grow it (a power of two; default: ring, no growth)
   */
  constructor(
    private readonly index: SlotIndex,
    private readonly sink: ProbeSink,
    private readonly clock: Clock,
    ring: number,
    private readonly maxRing = ring,
  ) {
    for (const r of [ring, maxRing])
      if (!(r >= 2) || (r & (r - 1)) !== 0 || r > MAX_RING) throw new RangeError(`ring must be a power of two in [2, ${MAX_RING}], got ${r}`);
    if (maxRing < ring) throw new RangeError(`maxRing ${maxRing} < ring ${ring}`);
    this.ringSize = ring;
    this.shift = Math.log2(ring);
    this.mask = ring - 1;
    this.lastSeq = index.column(Uint32Array);
    this.timeoutOf = index.column(Float64Array);
    this.entSeq = index.column(Uint32Array, ring);
    this.entSent = index.column(Float64Array, ring);
    this.entState = index.column(Uint8Array, ring);
    this.deadlines = new DeadlineTimer(clock, () => this.expire(), index.capacity * ring);
    // The deadlines' key space follows the index (a key is a ring entry), exactly.
    index.track({ grow: (capacity) => this.deadlines.heap.reserveKeys(capacity * this.ringSize) });
  }

  /** Ring entries the deadlines have room for (index capacity × ring: tests). */
  get deadlineKeyCapacity(): number {
    return this.deadlines.heap.keyCapacity;
  }

  /** Entries per target. */
  get ring(): number {
    return this.ringSize;
  }

  /**
   * Make the ring large enough for a target probed every `intervalMs` with `timeoutMs`
   * (twice what it can have in flight, like ECHO_RING), growing it up to maxRing.
   * Returns whether the target fits now; icmp rejects one that does not.
   */
  admit(intervalMs: number, timeoutMs: number): boolean {
    if (InflightWindow.fits(this.ringSize, intervalMs, timeoutMs)) return true;
    if (this.ringSize === this.maxRing || !(intervalMs > 0) || !(timeoutMs > 0)) return false;
    const want = Math.min(this.maxRing, 2 * (Math.ceil(timeoutMs / intervalMs) + 1));
    let ring = this.ringSize;
    while (ring < want) ring *= 2;
    this.relayout(ring);
    return InflightWindow.fits(this.ringSize, intervalMs, timeoutMs);
  }

  /**
   * Start (or restart) the books of local index `local`: nothing in flight, the next
   * sequence `firstSeq` (default: past every sequence a forgotten target used; tests
   * start near 2^32 to cross the wrap).
   */
  start(local: number, timeoutMs: number, firstSeq?: number): void {
    this.forget(local);
    this.lastSeq.data[local] = ((firstSeq ?? this.nextFirstSeq) - 1) >>> 0;
    this.timeoutOf.data[local] = timeoutMs;
  }

  /**
   * Forget the probes in flight of `local` without booking anything (Prober.remove's
   * contract). Its sequences are not handed out again soon: the next target started
   * begins past them, because an answer names its probe by slot (or local index) and
   * sequence only, so a target that takes the slot (or replaces its own) must not match
   * the answers of the one before still on the way (udp: a 60 ms reply counted as a 2 ms
   * one, found by test/integration/target-updates-in-flight).
   */
  forget(local: number): void {
    const next = (this.lastSeq.data[local] + 1) >>> 0;
    // Serial-number order (RFC 1982): moves forward only, and stays correct across the
    // wrap at 2^32; a new target's sequences reach a forgotten one's only after 2^31 probes.
    const ahead = (next - this.nextFirstSeq) >>> 0;
    if (ahead !== 0 && ahead < 0x80000000) this.nextFirstSeq = next;
    const state = this.entState.data;
    const seqs = this.entSeq.data;
    for (let e = local << this.shift, end = e + this.ringSize; e < end; e++) {
      if (stateAt(state, e) === State.Pending) this.deadlines.delete(e);
      state[e] = State.Free;
      seqs[e] = 0;
    }
  }

  /**
   * Book a probe of `local` sent at `now` (clock ms) and return its ring entry. Its
   * sequence is seqAt(entry); it is pending until now + the target's timeout.
   */
  open(local: number, now: number): number {
    const seq = (this.lastSeq.data[local] + 1) >>> 0;
    this.lastSeq.data[local] = seq;
    const e = (local << this.shift) | (seq & this.mask);
    const state = this.entState.data;
    const slot = this.index.slotOf(local);
    if (stateAt(state, e) === State.Pending) {
      // The ring came round before this probe's timeout was booked (the timer ran late).
      this.deadlines.delete(e);
      this.timedOut(e, slot);
    }
    this.entSeq.data[e] = seq;
    this.entSent.data[e] = now;
    state[e] = State.Pending;
    this.books.sent++;
    this.sink.sent(slot);
    this.deadlines.set(e, now + this.timeoutOf.data[local]);
    return e;
  }

  /** The ring entry of `local`'s probe with sequence `seq`, or -1 (never sent, too old, forgotten, not a uint32). */
  find(local: number, seq: number): number {
    if (seq >>> 0 !== seq) return -1;
    if ((this.lastSeq.data[local] - seq) >>> 0 >= this.ringSize) return -1;
    const e = (local << this.shift) | (seq & this.mask);
    return this.entSeq.data[e] === seq ? e : -1;
  }

  seqAt(entry: number): number {
    return this.entSeq.data[entry];
  }

  /** Send time (clock ms) of the probe in a ring entry. */
  sentAt(entry: number): number {
    return this.entSent.data[entry];
  }

  /** Local index a ring entry belongs to. */
  localOf(entry: number): number {
    return entry >>> this.shift;
  }

  /** Book an answer to the probe in `entry`, whose round trip took `rttMs`. */
  answer(entry: number, rttMs: number): Outcome {
    const state = this.entState.data;
    const local = entry >>> this.shift;
    switch (stateAt(state, entry)) {
      case State.Pending: {
        this.deadlines.delete(entry);
        state[entry] = State.Answered;
        const slot = this.index.slotOf(local);
        if (rttMs > this.timeoutOf.data[local]) {
          // Past its deadline, read before our timer ran: a timeout all the same.
          this.books.timeouts++;
          this.sink.timeout(slot);
          this.books.late++;
          this.sink.late(slot, rttMs / 1000);
          return Outcome.Late;
        }
        this.books.replies++;
        // With its sequence: on-demand tests count reordered replies (RFC 4737) from it.
        this.sink.reply(slot, rttMs / 1000, this.entSeq.data[entry]);
        return Outcome.Reply;
      }
      case State.TimedOut:
        state[entry] = State.Answered; // a further copy is a duplicate, not a second late reply
        this.books.late++;
        this.sink.late(this.index.slotOf(local), rttMs / 1000);
        return Outcome.Late;
      case State.Answered:
      case State.Failed:
        this.books.duplicates++;
        this.sink.duplicate(this.index.slotOf(local));
        return Outcome.Duplicate;
      default:
        return Outcome.Unknown;
    }
  }

  /** Book Error(reason) for the probe in `entry` if it is still pending; returns whether it was. */
  fail(entry: number, reason: number, after: AfterFailure = AfterFailure.Duplicate): boolean {
    const state = this.entState.data;
    if (stateAt(state, entry) !== State.Pending) return false;
    this.deadlines.delete(entry);
    state[entry] = after === AfterFailure.Unknown ? State.Gone : State.Failed;
    this.books.errors++;
    this.sink.error(this.index.slotOf(entry >>> this.shift), reason);
    return true;
  }

  /** Book Error(reason) for every pending probe of `local` (its connection is lost); returns how many. */
  failAll(local: number, reason: number, after: AfterFailure = AfterFailure.Duplicate): number {
    let n = 0;
    for (let e = local << this.shift, end = e + this.ringSize; e < end; e++) if (this.fail(e, reason, after)) n++;
    return n;
  }

  /** Probes of `local` in flight (tests, diagnostics: a scan of its ring). */
  pending(local: number): number {
    let n = 0;
    const state = this.entState.data;
    for (let e = local << this.shift, end = e + this.ringSize; e < end; e++) if (stateAt(state, e) === State.Pending) n++;
    return n;
  }

  /** Stop the timer; nothing is booked afterwards. */
  close(): void {
    this.deadlines.stop();
  }

  /**
   * Move every ring to `ring` entries. The entries a ring holds are its last sequences
   * sent, distinct modulo the old size and so modulo the larger one: each moves to
   * seq & (ring - 1), its deadline (if pending) with it.
   */
  private relayout(ring: number): void {
    const oldShift = this.shift;
    const seqs = this.entSeq.rewidth(ring);
    const sent = this.entSent.rewidth(ring);
    const states = this.entState.rewidth(ring);
    this.ringSize = ring;
    this.shift = Math.log2(ring);
    this.mask = ring - 1;
    const heap = this.deadlines.heap;
    const pending: number[] = [];
    for (let oe = 0; oe < states.length; oe++) {
      const st = stateAt(states, oe);
      if (st === State.Free) continue;
      const seq = seqs[oe];
      const ne = ((oe >>> oldShift) << this.shift) | (seq & this.mask);
      this.entSeq.data[ne] = seq;
      this.entSent.data[ne] = sent[oe];
      this.entState.data[ne] = st;
      if (st === State.Pending) pending.push(ne, heap.dueOf(oe));
    }
    heap.clear();
    for (let k = 0; k < pending.length; k += 2) this.deadlines.set(pending[k], pending[k + 1]);
  }

  private timedOut(e: number, slot: number): void {
    this.entState.data[e] = State.TimedOut;
    this.books.timeouts++;
    this.sink.timeout(slot);
  }

  /** The timer: book Timeout for every probe whose deadline has passed. */
  private expire(): void {
    const now = this.clock.now();
    for (let e = this.deadlines.popDue(now); e >= 0; e = this.deadlines.popDue(now)) this.timedOut(e, this.index.slotOf(e >>> this.shift));
  }
}

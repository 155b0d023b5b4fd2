/**
 * In-flight bookkeeping for the sequence-numbered echo probers (tcp_echo, udp): one
 * window per target, a ring of the last `capacity` sequence numbers with their send
 * time and state, in typed arrays (no per-probe objects).
 *
 * It answers what a reply means: the first answer to an in-flight probe is a Reply, a
 * second one a Duplicate, an answer to a probe already counted as timed out is Late, and
 * anything else (never sent, too old to remember, or a probe that failed to send) is
 * Unknown. Because sequence numbers increase with send time, timeouts expire from the
 * oldest entry forward and stop at the first one still within its deadline.
 *
 * Times are caller-supplied milliseconds (performance.now()), so this is pure logic.
 */

export const enum SeqMatch {
  Unknown = 0,
  Reply = 1,
  Duplicate = 2,
  Late = 3,
}

// State 0 = never used.
const INFLIGHT = 1;
const ANSWERED = 2;
const TIMED_OUT = 3;
const FAILED = 4;

/** Ring size for a target: room for every probe that can be in flight, twice, and late replies. */
export function windowCapacity(intervalMs: number, timeoutMs: number): number {
  const perTimeout = Math.ceil(Math.max(1, timeoutMs) / Math.max(1, intervalMs));
  const want = Math.max(32, 2 * perTimeout + 2);
  let cap = 32;
  while (cap < want && cap < 1 << 16) cap <<= 1;
  return cap;
}

export class SeqWindow {
  readonly capacity: number;
  private readonly mask: number;
  private readonly seqs: Float64Array;
  private readonly sentAt: Float64Array;
  private readonly state: Uint8Array;
  /** Next sequence number to hand out. Sequences start at `firstSeq` and only grow. */
  nextSeq: number;
  private readonly firstSeq: number;
  /** Lowest sequence that may still be in flight. */
  private oldest: number;
  /** Probes currently in flight. */
  inflight = 0;
  /** RTT (ms) of the last Reply/Duplicate/Late returned by match(). */
  rttMs = 0;
  /** Set by open(): 1 when opening overwrote a probe still in flight (count it as a timeout). */
  evicted = 0;

  constructor(capacity: number, firstSeq = 1) {
    if (capacity < 2 || (capacity & (capacity - 1)) !== 0) throw new Error('SeqWindow capacity must be a power of two >= 2');
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.seqs = new Float64Array(capacity).fill(-1);
    this.sentAt = new Float64Array(capacity);
    this.state = new Uint8Array(capacity);
    this.nextSeq = firstSeq;
    this.firstSeq = firstSeq;
    this.oldest = firstSeq;
  }

  /** Record a probe sent at `now`; returns its sequence number. */
  open(now: number): number {
    const seq = this.nextSeq++;
    const i = seq & this.mask;
    this.evicted = 0;
    if (this.state[i] === INFLIGHT) {
      // The window is too small for how late timeouts fire; count it lost rather than lose it.
      this.evicted = 1;
      this.inflight--;
    }
    this.seqs[i] = seq;
    this.sentAt[i] = now;
    this.state[i] = INFLIGHT;
    this.inflight++;
    if (this.oldest < seq - this.mask) this.oldest = seq - this.mask;
    return seq;
  }

  /** What a reply carrying `seq`, received at `now`, means. Sets rttMs when known. */
  match(seq: number, now: number): SeqMatch {
    if (!(seq >= this.firstSeq && seq < this.nextSeq && seq >= this.nextSeq - this.capacity)) return SeqMatch.Unknown;
    const i = seq & this.mask;
    if (this.seqs[i] !== seq) return SeqMatch.Unknown;
    switch (this.state[i]) {
      case INFLIGHT:
        this.state[i] = ANSWERED;
        this.inflight--;
        this.rttMs = now - this.sentAt[i];
        return SeqMatch.Reply;
      case ANSWERED:
        this.rttMs = now - this.sentAt[i];
        return SeqMatch.Duplicate;
      case TIMED_OUT:
        // Remember it was answered: a further copy is a duplicate, not a second late reply.
        this.state[i] = ANSWERED;
        this.rttMs = now - this.sentAt[i];
        return SeqMatch.Late;
      default:
        return SeqMatch.Unknown;
    }
  }

  /** Mark a probe that could not be sent (or whose connection died) as failed. True if it was in flight. */
  fail(seq: number): boolean {
    if (seq < this.firstSeq || seq >= this.nextSeq || seq < this.nextSeq - this.capacity) return false;
    const i = seq & this.mask;
    if (this.seqs[i] !== seq || this.state[i] !== INFLIGHT) return false;
    this.state[i] = FAILED;
    this.inflight--;
    return true;
  }

  /** Time out every in-flight probe sent at or before `sentCutoff`; returns how many. */
  expire(sentCutoff: number): number {
    let n = 0;
    while (this.oldest < this.nextSeq && this.inflight > 0) {
      const i = this.oldest & this.mask;
      if (this.seqs[i] === this.oldest && this.state[i] === INFLIGHT) {
        if (this.sentAt[i] > sentCutoff) break;
        this.state[i] = TIMED_OUT;
        this.inflight--;
        n++;
      }
      this.oldest++;
    }
    return n;
  }

  /** Fail every probe in flight (connection lost); returns how many. */
  failAll(): number {
    let n = 0;
    for (let s = this.oldest; s < this.nextSeq && this.inflight > 0; s++) {
      const i = s & this.mask;
      if (this.seqs[i] === s && this.state[i] === INFLIGHT) {
        this.state[i] = FAILED;
        this.inflight--;
        n++;
      }
    }
    this.oldest = this.nextSeq;
    return n;
  }

  /** Send time of the oldest probe in flight, or NaN when none is. */
  oldestSentAt(): number {
    for (let s = this.oldest; s < this.nextSeq && this.inflight > 0; s++) {
      const i = s & this.mask;
      if (this.seqs[i] === s && this.state[i] === INFLIGHT) return this.sentAt[i];
      this.oldest = s + 1;
    }
    return NaN;
  }
}

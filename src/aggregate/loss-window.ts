/**
 * Sliding loss windows: for every target slot, the outcome (lost or not) of its
 * last N completed probes, and how many of them were lost. Pure, no I/O.
 *
 * All slots share one Uint32Array of bits. Each slot owns a contiguous run of
 * ceil(N/32) words used as a ring: `head` is the next bit to overwrite. Recording
 * an outcome is O(1): when the ring is full, the bit about to be overwritten is
 * the oldest outcome, so it leaves the lost count before the new one enters.
 *
 * Windows of different sizes live side by side: a slot's run is carved from the
 * shared array (bump allocation, runs freed by a slot are reused by the next slot
 * that needs the same number of words). Memory is proportional to the windows
 * actually configured, not to the largest one times the number of slots.
 *
 * A probe is "completed" when it was answered, timed out or failed; failures
 * count as lost. Loss ratio = lost / completed-in-window, 0 before any completed.
 */

/** Largest window accepted: 100k probes = 12.5 KB of bits per slot. */
export const MAX_LOSS_WINDOW = 100_000;
export const DEFAULT_LOSS_WINDOW = 100;

export class LossWindows {
  private slotCapacity: number;
  /** Window size per slot; 0 = slot not configured (records are ignored). */
  private size: Uint32Array;
  /** First word of the slot's run in `bits`. */
  private offset: Uint32Array;
  /** Next bit position (0..size-1) to write. */
  private head: Uint32Array;
  /** Completed probes in the window (<= size). */
  private filled: Uint32Array;
  /** Lost probes in the window (<= filled). */
  private lost: Uint32Array;
  private bits: Uint32Array;
  /** Words of `bits` handed out so far (bump pointer). */
  private wordsUsed = 0;
  /** Freed runs by word count, reused before bumping. */
  private readonly freeRuns = new Map<number, number[]>();

  constructor(initialSlots = 1024) {
    this.slotCapacity = Math.max(1, initialSlots | 0);
    this.size = new Uint32Array(this.slotCapacity);
    this.offset = new Uint32Array(this.slotCapacity);
    this.head = new Uint32Array(this.slotCapacity);
    this.filled = new Uint32Array(this.slotCapacity);
    this.lost = new Uint32Array(this.slotCapacity);
    this.bits = new Uint32Array(Math.max(32, Math.ceil((this.slotCapacity * DEFAULT_LOSS_WINDOW) / 32)));
  }

  /**
   * Give `slot` an empty window of `windowSize` probes (1..MAX_LOSS_WINDOW).
   * Any previous history of the slot is discarded.
   */
  configure(slot: number, windowSize: number): void {
    if (!Number.isInteger(windowSize) || windowSize < 1 || windowSize > MAX_LOSS_WINDOW) {
      throw new RangeError(`loss window must be an integer in 1..${MAX_LOSS_WINDOW}, got ${windowSize}`);
    }
    checkSlot(slot);
    this.ensureSlots(slot + 1);
    const words = wordsFor(windowSize);
    if (this.size[slot] !== 0 && wordsFor(this.size[slot]) !== words) this.freeRun(slot);
    if (this.size[slot] === 0 || wordsFor(this.size[slot]) !== words) this.offset[slot] = this.allocRun(words);
    this.size[slot] = windowSize;
    this.reset(slot);
  }

  /** Forget the slot's history, keeping its window size. */
  reset(slot: number): void {
    if (slot >= this.slotCapacity || this.size[slot] === 0) return;
    const start = this.offset[slot];
    this.bits.fill(0, start, start + wordsFor(this.size[slot]));
    this.head[slot] = 0;
    this.filled[slot] = 0;
    this.lost[slot] = 0;
  }

  /** Drop the slot's window and give its memory back. */
  release(slot: number): void {
    if (slot >= this.slotCapacity || this.size[slot] === 0) return;
    this.freeRun(slot);
    this.size[slot] = 0;
    this.head[slot] = 0;
    this.filled[slot] = 0;
    this.lost[slot] = 0;
  }

  /** Record one completed probe. O(1), no allocation. Ignored for unconfigured slots. */
  record(slot: number, wasLost: boolean): void {
    const size = slot < this.slotCapacity ? this.size[slot] : 0;
    if (size === 0) return;
    const pos = this.head[slot];
    const word = this.offset[slot] + (pos >>> 5);
    const mask = 1 << (pos & 31);
    const bits = this.bits;
    if (this.filled[slot] === size) {
      // Ring is full: the bit at `pos` is the oldest outcome, about to leave the window.
      if ((bits[word] & mask) !== 0) this.lost[slot]--;
    } else {
      this.filled[slot]++;
    }
    if (wasLost) {
      bits[word] |= mask;
      this.lost[slot]++;
    } else {
      bits[word] &= ~mask;
    }
    this.head[slot] = pos + 1 === size ? 0 : pos + 1;
  }

  /** lost / completed over the window; 0 when nothing completed yet or slot unknown. */
  ratio(slot: number): number {
    if (slot >= this.slotCapacity) return 0;
    const n = this.filled[slot];
    return n === 0 ? 0 : this.lost[slot] / n;
  }

  lostCount(slot: number): number {
    return slot < this.slotCapacity ? this.lost[slot] : 0;
  }

  completedCount(slot: number): number {
    return slot < this.slotCapacity ? this.filled[slot] : 0;
  }

  windowSize(slot: number): number {
    return slot < this.slotCapacity ? this.size[slot] : 0;
  }

  /** Write ratio(slot) for slots [0, n) into `out` (for scrape-time snapshots). */
  ratiosInto(out: Float64Array, n: number): void {
    const lim = Math.min(n, this.slotCapacity, out.length);
    const filled = this.filled;
    const lost = this.lost;
    for (let s = 0; s < lim; s++) {
      const f = filled[s];
      out[s] = f === 0 ? 0 : lost[s] / f;
    }
    for (let s = lim; s < n && s < out.length; s++) out[s] = 0;
  }

  /** Bytes of its typed arrays. */
  get byteLength(): number {
    return this.bits.byteLength + 5 * 4 * this.slotCapacity;
  }

  /** Words of bit storage in use (for tests and self metrics). */
  get bitWordsUsed(): number {
    return this.wordsUsed;
  }

  /** Room for slots [0, n) now, exactly (the store reserves its whole target set at once). */
  reserveSlots(n: number): void {
    if (n > this.slotCapacity) this.resizeSlots(n);
  }

  private ensureSlots(n: number): void {
    if (n > this.slotCapacity) this.resizeSlots(Math.max(n, Math.ceil(this.slotCapacity * 1.5)));
  }

  private resizeSlots(cap: number): void {
    this.size = growU32(this.size, cap);
    this.offset = growU32(this.offset, cap);
    this.head = growU32(this.head, cap);
    this.filled = growU32(this.filled, cap);
    this.lost = growU32(this.lost, cap);
    this.slotCapacity = cap;
  }

  private allocRun(words: number): number {
    const free = this.freeRuns.get(words);
    if (free !== undefined && free.length > 0) return free.pop()!;
    const start = this.wordsUsed;
    if (start + words > this.bits.length) {
      // Half again (not double): the bits grow with the targets, a run at a time.
      const cap = Math.max(start + words, Math.ceil(this.bits.length * 1.5));
      this.bits = growU32(this.bits, cap);
    }
    this.wordsUsed = start + words;
    return start;
  }

  private freeRun(slot: number): void {
    const words = wordsFor(this.size[slot]);
    let list = this.freeRuns.get(words);
    if (list === undefined) this.freeRuns.set(words, (list = []));
    list.push(this.offset[slot]);
  }
}

function wordsFor(windowSize: number): number {
  return (windowSize + 31) >>> 5;
}

function checkSlot(slot: number): void {
  if (!Number.isInteger(slot) || slot < 0 || slot > 0xffffffff) throw new RangeError(`bad slot ${slot}`);
}

function growU32(a: Uint32Array, n: number): Uint32Array {
  const b = new Uint32Array(n);
  b.set(a);
  return b;
}

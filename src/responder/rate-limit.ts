/**
 * Per-source token buckets with a bounded table (pure: the caller passes the clock).
 *
 * Each source address has a bucket of at most `burst` tokens that refills at `rate`
 * tokens per second; a datagram (or a connection) takes one token, and is refused
 * when none is left. A source seen for the first time starts with a full bucket.
 *
 * Why per source and not global: a fleet of probers legitimately sends the sum of
 * all their rates; what must be bounded is what one address can make us send (a
 * spoofed victim, or a reflector we are looping with). An echo loop with another
 * reflector keeps ONE datagram in flight per forged packet, so the first refusal
 * ends it: a loop lasts at most `burst` round trips.
 *
 * The table holds at most `maxSources` addresses. When it is full, the source seen
 * first (insertion order) is forgotten to make room: it gets a full bucket if it
 * comes back. Forgetting never refuses anyone; it can only be generous. To reset one
 * victim's bucket an attacker must send from `maxSources` other addresses first, so
 * the victim gets at most one extra burst per `maxSources` forged packets.
 *
 * Cost: one Map lookup and a few float operations per packet; no allocation once a
 * source is in the table (buckets live in two Float64Arrays indexed by slot).
 */
export class SourceRateLimiter {
  private readonly slots = new Map<string, number>();
  private readonly tokens: Float64Array;
  private readonly stamp: Float64Array;
  private readonly perMs: number;

  /**
   * @param rate tokens per second per source; 0 = unlimited (allow() is always true)
   * @param burst bucket size (>= 1)
   * @param maxSources table size (>= 1)
   */
  constructor(
    readonly rate: number,
    readonly burst: number,
    readonly maxSources: number,
  ) {
    if (!(rate >= 0) || !(burst >= 1) || !Number.isInteger(maxSources) || maxSources < 1) {
      throw new RangeError(`bad rate limiter: rate ${rate}, burst ${burst}, maxSources ${maxSources}`);
    }
    const n = rate === 0 ? 0 : maxSources;
    this.tokens = new Float64Array(n);
    this.stamp = new Float64Array(n);
    this.perMs = rate / 1000;
  }

  /** Sources currently tracked. */
  get size(): number {
    return this.slots.size;
  }

  /** Take one token for `source` at monotonic time `nowMs`; false when it has none. */
  allow(source: string, nowMs: number): boolean {
    if (this.rate === 0) return true;
    let slot = this.slots.get(source);
    if (slot === undefined) {
      slot = this.slots.size;
      if (slot >= this.maxSources) {
        // Forget the oldest source; Map iterates in insertion order.
        const [oldest, oldestSlot] = this.slots.entries().next().value as [string, number];
        slot = oldestSlot;
        this.slots.delete(oldest);
      }
      this.slots.set(source, slot);
      this.tokens[slot] = this.burst - 1;
      this.stamp[slot] = nowMs;
      return true;
    }
    let t = this.tokens[slot] + (nowMs - this.stamp[slot]) * this.perMs;
    if (t > this.burst) t = this.burst;
    this.stamp[slot] = nowMs;
    if (t < 1) {
      this.tokens[slot] = t;
      return false;
    }
    this.tokens[slot] = t - 1;
    return true;
  }
}

/**
 * The cap on concurrent scrapes (`web.max_requests`, node_exporter's
 * --web.max-requests), with one twist: a slot held by a client that has stopped
 * reading can be taken over.
 *
 * Why: each scrape in progress holds a snapshot of the store plus a few MiB of
 * buffers until its client has read the body. A plain cap bounds that memory, but
 * then `max` clients that send GET and never read would keep every slot until the
 * write timeout, and Prometheus' own scrapes would get 503 all that time. So when
 * every slot is taken, a new scrape takes the slot of the scrape whose client has
 * been waited on longest, provided that wait is at least `stallMs`; only when every
 * slot is being read is the new scrape answered 503. A client that reads keeps its
 * slot; one that does not loses it to the next scrape.
 *
 * Takeovers are spaced by at least `evictionIntervalMs`. Why: every admitted scrape
 * costs a snapshot and the first MiBs of body (a non-reading client's kernel buffers
 * absorb 2-4 MiB before it looks stalled). Measured with 300 non-readers arriving at
 * once on a loaded 2-core machine: unspaced takeovers fed on themselves (the burst
 * took seconds to process, so later arrivals found stalled slots and were admitted
 * too: 261 takeovers, seconds of main-thread CPU, /healthz timing out). Spaced,
 * a burst mostly gets cheap 503s and a scrape after it still gets a slot.
 *
 * Pure: no sockets, an injectable clock; the route does the I/O.
 */

/** One scrape in progress, as the gate sees it. */
export interface ScrapeSlot {
  /** Monotonic ms since which this scrape has been waiting for its client to read, or null if it is not. */
  waitingSince(): number | null;
  /** Close this scrape (its connection and its body). */
  evict(): void;
}

export type Admission = { admitted: true; evicted: ScrapeSlot | null } | { admitted: false };

export class ScrapeGate {
  private readonly slots = new Set<ScrapeSlot>();
  private lastEvictionAt = -Infinity;

  /**
   * @param max concurrent scrapes; 0 = no limit
   * @param stallMs a slot whose client has not read for this long may be taken over
   * @param evictionIntervalMs least time between two takeovers
   */
  constructor(
    readonly max: number,
    readonly stallMs: number,
    readonly evictionIntervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(Number.isInteger(max) && max >= 0)) throw new RangeError(`max must be an integer >= 0, got ${max}`);
  }

  get inFlight(): number {
    return this.slots.size;
  }

  /**
   * Admit `slot` if there is room, or if it can take over the most stalled slot
   * (which is evicted and released here). Otherwise refuse.
   */
  admit(slot: ScrapeSlot): Admission {
    if (this.max === 0 || this.slots.size < this.max) {
      this.slots.add(slot);
      return { admitted: true, evicted: null };
    }
    const now = this.now();
    if (now - this.lastEvictionAt < this.evictionIntervalMs) return { admitted: false };
    const victim = this.mostStalled(now);
    if (victim === null) return { admitted: false };
    this.lastEvictionAt = now;
    this.slots.delete(victim);
    victim.evict();
    this.slots.add(slot);
    return { admitted: true, evicted: victim };
  }

  /** The scrape is over (finished, failed or closed). Idempotent. */
  release(slot: ScrapeSlot): void {
    this.slots.delete(slot);
  }

  /** The slot waiting on its client longest, if that wait reaches stallMs. */
  private mostStalled(now: number): ScrapeSlot | null {
    let best: ScrapeSlot | null = null;
    let bestSince = Infinity;
    for (const s of this.slots) {
      const since = s.waitingSince();
      if (since !== null && since < bestSince && now - since >= this.stallMs) {
        best = s;
        bestSince = since;
      }
    }
    return best;
  }
}

/**
 * The cap on open web connections (`web.max_connections`), as pure bookkeeping.
 *
 * A connection is either busy (a request of it is being answered) or idle (just
 * accepted and nothing answered yet, or kept alive after its last response).
 * At the cap, a new connection closes the connection that has been idle longest
 * and takes its place; only when every connection is busy is the new one refused.
 *
 * Why not simply refuse at the cap (Node's server.maxConnections): then a few
 * thousand connections that connect and send nothing fill the cap until their
 * read timeout, and /healthz and Prometheus are refused all that time (F11). An
 * idle connection costs the server nothing to lose: its client reconnects when it
 * has something to ask. nginx does the same when it runs out of connections (it
 * closes idle keep-alive connections first). Busy connections are bounded by
 * other limits: scrapes by web.max_requests, slow readers by web.write_timeout.
 */

export type Opened<T> = { admitted: true; evicted: T | null } | { admitted: false };

export class ConnectionTable<T> {
  /** Every tracked connection -> requests of it in progress. */
  private readonly active = new Map<T, number>();
  /** Idle connections, longest idle first (a Set iterates in insertion order). */
  private readonly idle = new Set<T>();

  /** @param max open connections; 0 = no limit */
  constructor(readonly max: number) {
    if (!(Number.isInteger(max) && max >= 0)) throw new RangeError(`max must be an integer >= 0, got ${max}`);
  }

  get size(): number {
    return this.active.size;
  }

  get idleCount(): number {
    return this.idle.size;
  }

  /**
   * A connection was accepted. Admitted when there is room, or after evicting the
   * longest-idle connection (returned: the caller closes it; it is no longer
   * tracked); refused (not tracked) when every connection is busy.
   */
  open(conn: T): Opened<T> {
    if (this.active.has(conn)) return { admitted: true, evicted: null };
    let evicted: T | null = null;
    if (this.max > 0 && this.active.size >= this.max) {
      const oldest = this.idle.values().next();
      if (oldest.done === true) return { admitted: false };
      evicted = oldest.value;
      this.close(evicted);
    }
    this.active.set(conn, 0);
    this.idle.add(conn);
    return { admitted: true, evicted };
  }

  /** A request of `conn` is being answered. */
  requestStarted(conn: T): void {
    const n = this.active.get(conn);
    if (n === undefined) return;
    this.active.set(conn, n + 1);
    this.idle.delete(conn);
  }

  /** A response of `conn` is over; with none left the connection is idle again (newest idle). */
  requestEnded(conn: T): void {
    const n = this.active.get(conn);
    if (n === undefined || n === 0) return;
    this.active.set(conn, n - 1);
    if (n === 1) this.idle.add(conn);
  }

  /** The connection is gone. Idempotent. */
  close(conn: T): void {
    this.active.delete(conn);
    this.idle.delete(conn);
  }
}

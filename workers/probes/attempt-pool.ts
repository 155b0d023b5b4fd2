/**
 * The connection attempts of the tcp and http probers: pooled objects, each with a
 * stable id that keys its deadline in one DeadlineTimer (one timer for every attempt of
 * the prober), instead of a Node timer or a closure per probe.
 *
 * An attempt is acquire()d for a probe, given a deadline, and release()d when it is done
 * (which deletes its deadline); one whose deadline passes first is handed to onExpired,
 * which must release it. Attempts are never freed: a prober holds as many as it ever had
 * in flight at once.
 */
import type { Clock } from '../time/clock.js';
import { DeadlineTimer } from '../time/deadline-timer.js';

export class AttemptPool<A extends { readonly id: number }> {
  private readonly free: A[] = [];
  private readonly byId: A[] = [];
  private readonly deadlines: DeadlineTimer;

  constructor(
    private readonly clock: Clock,
    /** Builds a new attempt with the given id. */
    private readonly make: (id: number) => A,
    /** An attempt whose deadline passed; it must be released. */
    private readonly onExpired: (attempt: A) => void,
  ) {
    this.deadlines = new DeadlineTimer(clock, () => this.expire());
  }

  /** An attempt from the pool (or a new one). */
  acquire(): A {
    const a = this.free.pop();
    if (a !== undefined) return a;
    const made = this.make(this.byId.length);
    this.byId.push(made);
    return made;
  }

  /** Give an acquired attempt its deadline (clock ms). */
  setDeadline(a: A, at: number): void {
    this.deadlines.set(a.id, at);
  }

  /** Back to the pool, its deadline forgotten. Release each acquired attempt once. */
  release(a: A): void {
    this.deadlines.delete(a.id);
    this.free.push(a);
  }

  /** Stop the timer and drop every attempt (the prober is closing). */
  close(): void {
    this.deadlines.stop();
    this.free.length = 0;
    this.byId.length = 0;
  }

  private expire(): void {
    const now = this.clock.now();
    for (let id = this.deadlines.popDue(now); id >= 0; id = this.deadlines.popDue(now)) this.onExpired(this.byId[id]);
  }
}

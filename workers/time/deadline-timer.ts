/**
 * One timer over a deadline heap: keys (small dense integers) with deadlines, and ONE
 * timer armed for the earliest. The scheduler (a target's next start) and the probers'
 * timeouts (a probe's deadline) are all this.
 *
 * Arming policy, chosen for the probe hot path:
 *  - set() re-arms only when the new deadline is earlier than the one the timer is armed
 *    for; a key moved later leaves the timer armed early.
 *  - delete() never re-arms. A reply removes its probe's deadline in O(log n) and
 *    touches no timer; if that was the earliest, the timer fires early, finds nothing
 *    due and arms itself for the new earliest. One early wake-up is far cheaper than a
 *    clearTimeout + setTimeout for every reply.
 *  - While onDue runs, nothing re-arms (it may move many keys); the timer is armed once,
 *    after it returns.
 *  - yieldTurn(): onDue stopped early (a burst limit) and wants to continue in the next
 *    turn of the event loop, after pending I/O (replies) has been read: setImmediate, and
 *    no timer until then.
 *
 * A timer may fire before the deadline it was armed for by up to the age of the event
 * loop's cached time (Node measures timers from the loop's start-of-turn time), so
 * onDue must compare deadlines with clock.now(), never assume they are due.
 */
import type { Clock } from './clock.js';
import { DeadlineHeap } from './deadline-heap.js';

export class DeadlineTimer {
  readonly heap: DeadlineHeap;
  private handle: unknown = null;
  /** Deadline the timer is armed for; Infinity when unarmed. */
  private armedFor = Infinity;
  private immediate: unknown = null;
  private firing = false;
  private stopped = false;

  private readonly onTimeout = (): void => {
    this.handle = null;
    this.armedFor = Infinity;
    this.fire();
  };
  private readonly onImmediate = (): void => {
    this.immediate = null;
    this.fire();
  };

  /**
   * @param onDue called when the timer fires (or after yieldTurn()); it reads the heap,
   *   handles what is due against clock.now(), and moves or deletes those keys.
   */
  constructor(
    private readonly clock: Clock,
    private readonly onDue: () => void,
    initialKeys = 64,
  ) {
    this.heap = new DeadlineHeap(initialKeys);
  }

  get size(): number {
    return this.heap.size;
  }

  /** Add a key with its deadline, or move it. O(log n). */
  set(key: number, dueAt: number): void {
    this.heap.set(key, dueAt);
    if (dueAt < this.armedFor) this.arm();
  }

  /** Remove a key if present, without touching the timer. O(log n). */
  delete(key: number): boolean {
    return this.heap.delete(key);
  }

  /**
   * Remove and return a key whose deadline is at or before `now`, earliest first, or -1
   * when none is due: onDue's loop, `for (let k = t.popDue(now); k >= 0; k = t.popDue(now))`.
   */
  popDue(now: number): number {
    return this.heap.peekDue() <= now ? this.heap.pop() : -1;
  }

  /** Call onDue again in the next turn of the event loop instead of at the earliest deadline. */
  yieldTurn(): void {
    if (this.stopped || this.immediate !== null) return;
    this.cancelTimer();
    this.immediate = this.clock.setImmediate(this.onImmediate);
  }

  /** Cancel the timer and forget every key; nothing fires afterwards. */
  stop(): void {
    this.stopped = true;
    this.cancelTimer();
    if (this.immediate !== null) this.clock.clearImmediate(this.immediate);
    this.immediate = null;
    this.heap.clear();
  }

  /** Whether a timer or an immediate is pending (tests, diagnostics). */
  get armed(): boolean {
    return this.handle !== null || this.immediate !== null;
  }

  private fire(): void {
    if (this.stopped) return;
    this.firing = true;
    try {
      this.onDue();
    } finally {
      // Re-armed even if onDue threw: one bad callback must not stop every later deadline.
      this.firing = false;
      this.arm();
    }
  }

  /** Make sure the one timer is armed for the earliest deadline. */
  private arm(): void {
    if (this.stopped || this.firing || this.immediate !== null) return;
    const due = this.heap.peekDue();
    if (due === this.armedFor) return;
    this.cancelTimer();
    if (due === Infinity) return;
    this.armedFor = due;
    this.handle = this.clock.setTimeout(this.onTimeout, Math.max(0, due - this.clock.now()));
  }

  private cancelTimer(): void {
    if (this.handle !== null) this.clock.clearTimeout(this.handle);
    this.handle = null;
    this.armedFor = Infinity;
  }
}

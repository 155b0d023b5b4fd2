/**
 * One timer per target for the earliest in-flight deadline of a SeqWindow (tcp_echo, udp).
 *
 * In the common case (timeout < interval, at most one probe in flight) every probe arms
 * the timer for exactly `timeoutMs` from now; Timeout.refresh() re-arms the same timer
 * object for the same duration, so steady-state probing allocates no timer objects.
 * A timer that has already fired is re-activated by refresh() (documented Node behaviour).
 * The timer is never cleared merely because the reply came: it fires, finds nothing to
 * expire and stays idle, which is cheaper than clear + re-create per probe.
 */
export class DeadlineTimer {
  private timer: NodeJS.Timeout | null = null;
  private delayMs = -1;
  private pending = false;
  /** performance.now() at which the pending timer fires. */
  private firesAt = Infinity;
  private readonly fire = (): void => {
    this.pending = false;
    this.firesAt = Infinity;
    this.onFire();
  };

  constructor(private readonly onFire: () => void) {}

  /** Make sure the timer fires no later than `deadline` (ms, performance.now() clock). */
  arm(deadline: number, now: number): void {
    if (this.pending && this.firesAt <= deadline + 1) return;
    const delay = Math.max(1, Math.ceil(deadline - now));
    if (this.timer !== null && this.delayMs === delay) {
      this.timer.refresh();
    } else {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = setTimeout(this.fire, delay);
      this.delayMs = delay;
    }
    this.pending = true;
    this.firesAt = now + delay;
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pending = false;
    this.firesAt = Infinity;
  }
}

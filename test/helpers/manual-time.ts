import type { Clock } from '../../workers/time/clock.js';

/**
 * A manual clock and timer host: time advances only through advance(), which runs
 * due timers and then immediates in order, as the event loop would.
 */
export class ManualTime implements Clock {
  t = 0;
  readonly originMs: number;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private immediates = new Map<number, () => void>();
  armed = 0;
  constructor(originMs = 0) {
    this.originMs = originMs;
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.armed++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  setImmediate(fn: () => void): unknown {
    const id = ++this.seq;
    this.immediates.set(id, fn);
    return id;
  }
  clearImmediate(h: unknown): void {
    this.immediates.delete(h as number);
  }
  get pending(): number {
    return this.timers.size + this.immediates.size;
  }
  /** Advance to `to`, firing timers at their due time (plus `lateBy`). */
  advanceTo(to: number, lateBy = 0): void {
    for (;;) {
      if (this.immediates.size > 0) {
        const [id, fn] = this.immediates.entries().next().value as [number, () => void];
        this.immediates.delete(id);
        fn();
        continue;
      }
      let next: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.timers) if (!next || e[1].at < next[1].at) next = e;
      if (!next || next[1].at + lateBy > to) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at + lateBy);
      next[1].fn();
    }
    this.t = to;
  }
}

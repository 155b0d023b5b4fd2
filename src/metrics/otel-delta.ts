/**
 * Delta temporality for the per-target store, as a view in front of it.
 *
 * The store is cumulative and the OTLP producer (otel-producer.ts) converts
 * whatever snapshot it is handed. With OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE
 * = delta (or lowmemory), the producer reads this view instead of the store: its
 * snapshot() is the store's snapshot with every cumulative column (counters,
 * histogram buckets and sums) turned into the increase since the previous
 * export, and slotStartTimeMs() is where that increase begins. Gauges (last RTT,
 * loss ratio, connected, HTTP status) pass through unchanged.
 *
 * The previous export's values are kept as one Float64Array per cumulative column,
 * indexed by slot like the store's own (≈ 30 × 8 bytes per target with the default
 * 20 buckets and no HTTP phases), not as objects per series. Each snapshot is a
 * fresh copy of the store, so the differences are written into it in place.
 *
 * A slot starts over (its point is the whole cumulative value since the slot's
 * own start time) when it was not exported last time (a new target), when its
 * start time changed (the slot was redefined to another target, or reset), or,
 * as a guard, when its sent counter went down.
 *
 * As in the OTel SDK's delta mode, the previous values advance at every
 * collection, whether the export then reaches the collector or not: increases
 * of an export that failed are lost, and the next point's start time shows the gap.
 */
import type { StoreSnapshot } from '../aggregate/store.js';
import type { OtelStoreSource } from './otel-producer.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The cumulative columns of a snapshot with one value per slot. */
const PER_SLOT = ['sent', 'received', 'timeouts', 'duplicates', 'late', 'rttSum', 'connects'] as const;
type PerSlotColumn = (typeof PER_SLOT)[number];

export class DeltaStoreSource implements OtelStoreSource {
  /** Start time (epoch ms) each slot had at the previous snapshot; NaN = not exported then. */
  private prevStart = new Float64Array(0);
  private readonly prev = new Map<PerSlotColumn, Float64Array>();
  private prevRttBuckets = new Float64Array(0);
  private prevErrors: (Float64Array | undefined)[] = [];
  private prevPhaseBuckets: (Float64Array | undefined)[] = [];
  private prevPhaseSum: (Float64Array | undefined)[] = [];
  /** Where each slot's delta of the newest snapshot starts (epoch ms). */
  private deltaStart = new Float64Array(0);
  /** 1 = the slot carries on from the previous snapshot (its values are differences). */
  private continuing = new Uint8Array(0);
  private lastMs = NaN;
  private atMs = NaN;

  constructor(
    private readonly store: OtelStoreSource,
    private readonly now: () => number = Date.now,
  ) {
    for (const c of PER_SLOT) this.prev.set(c, new Float64Array(0));
  }

  /** Epoch ms at which the newest snapshot was taken: the end time of its points. */
  get snapshotTimeMs(): number {
    return this.atMs;
  }

  slotAttributes(slot: number): Readonly<Record<string, string>> | undefined {
    return this.store.slotAttributes(slot);
  }

  /** Start of the slot's delta in the newest snapshot. */
  slotStartTimeMs(slot: number): number {
    return slot < this.deltaStart.length ? this.deltaStart[slot] : NaN;
  }

  snapshot(): StoreSnapshot {
    const snap = this.store.snapshot() as Mutable<StoreSnapshot>;
    const at = this.now();
    const n = snap.highWater;
    const stride = snap.buckets.length + 1;
    this.grow(n, stride);

    const prevSent = this.prev.get('sent')!;
    for (let s = 0; s < n; s++) {
      if (snap.defined[s] !== 1) {
        this.prevStart[s] = NaN;
        this.continuing[s] = 0;
        continue;
      }
      const start = this.store.slotStartTimeMs(s);
      const carriesOn = this.prevStart[s] === start && snap.sent[s] >= prevSent[s];
      this.continuing[s] = carriesOn ? 1 : 0;
      this.deltaStart[s] = carriesOn ? this.lastMs : start;
      this.prevStart[s] = start;
    }
    for (const c of PER_SLOT) diffInPlace(snap[c], this.prev.get(c)!, this.continuing, n, 1);
    diffInPlace(snap.rttBuckets, this.prevRttBuckets, this.continuing, n, stride);
    // Columns the store allocates lazily start from zeros here too (sized to the capacity, like the rest).
    const cap = this.prevStart.length;
    snap.errors.forEach((col, r) => {
      if (col !== undefined) diffInPlace(col, (this.prevErrors[r] ??= new Float64Array(cap)), this.continuing, n, 1);
    });
    snap.phaseBuckets.forEach((col, p) => {
      if (col !== undefined) diffInPlace(col, (this.prevPhaseBuckets[p] ??= new Float64Array(cap * stride)), this.continuing, n, stride);
    });
    snap.phaseSum.forEach((col, p) => {
      if (col !== undefined) diffInPlace(col, (this.prevPhaseSum[p] ??= new Float64Array(cap)), this.continuing, n, 1);
    });
    this.lastMs = at;
    this.atMs = at;
    return snap;
  }

  /** Make every kept array cover n slots (the store's high-water mark only grows). */
  private grow(n: number, stride: number): void {
    if (this.prevStart.length >= n) return;
    const cap = Math.max(n, this.prevStart.length * 2);
    const start = new Float64Array(cap).fill(NaN);
    start.set(this.prevStart);
    this.prevStart = start;
    this.deltaStart = extend(this.deltaStart, cap);
    this.continuing = extend(this.continuing, cap);
    for (const c of PER_SLOT) this.prev.set(c, extend(this.prev.get(c) ?? new Float64Array(0), cap));
    this.prevRttBuckets = extend(this.prevRttBuckets, cap * stride);
    this.prevErrors = this.prevErrors.map((a) => a && extend(a, cap));
    this.prevPhaseBuckets = this.prevPhaseBuckets.map((a) => a && extend(a, cap * stride));
    this.prevPhaseSum = this.prevPhaseSum.map((a) => a && extend(a, cap));
  }
}

/**
 * cur[i] becomes cur[i] - prev[i] for the rows of continuing slots (else stays the
 * cumulative value), and prev[i] becomes the old cur[i]. `prev` covers n rows.
 */
function diffInPlace(cur: Float64Array, prev: Float64Array, continuing: Uint8Array, n: number, stride: number): void {
  for (let s = 0; s < n; s++) {
    const base = s * stride;
    const keep = continuing[s] === 1;
    for (let i = base; i < base + stride; i++) {
      const v = cur[i];
      if (keep) cur[i] = v - prev[i];
      prev[i] = v;
    }
  }
}

function extend<T extends Float64Array | Uint8Array>(a: T, n: number): T {
  if (a.length >= n) return a;
  const b = new (a.constructor as { new (n: number): T })(n);
  b.set(a);
  return b;
}

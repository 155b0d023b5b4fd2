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
 * The exponential histograms (when the producer asks for them: the OTLP exponential
 * histogram option) are kept as the previous snapshot's copy of them, and subtracted
 * bucket by absolute index (otel-exp-histogram.ts subtractPrevious), since a slot's
 * bucket window may have moved or coarsened in between: one more 40 × 8 bytes per target.
 *
 * A slot starts over (its point is the whole cumulative value since the slot's
 * own start time) when it was not exported last time (a new target), when its
 * start time changed (the slot was redefined to another target, or reset), or,
 * as a guard, when its sent counter went down or its exponential histogram cannot
 * have grown from the previous one.
 *
 * As in the OTel SDK's delta mode, the previous values advance at every
 * collection, whether the export then reaches the collector or not: increases
 * of an export that failed are lost, and the next point's start time shows the gap.
 */
import type { ExpHistogramColumnsView } from '../aggregate/exp-histogram.js';
import type { SnapshotParts, StoreSnapshot } from '../aggregate/store.js';
import { METRIC_FAMILIES } from './catalog.js';
import { subtractPrevious } from './otel-exp-histogram.js';
import type { OtelStoreSource } from './otel-producer.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The cumulative columns of a snapshot with one value per slot. */
const PER_SLOT = ['sent', 'received', 'timeouts', 'duplicates', 'late', 'rttSum', 'connects'] as const;
type PerSlotColumn = (typeof PER_SLOT)[number];
/** Snapshot fields of the exponential histograms (`<column>Native`), from the catalog. */
const NATIVE_FIELDS = METRIC_FAMILIES.filter((f) => f.native !== undefined).map((f) => `${f.column}Native`);
const nativeOf = (snap: StoreSnapshot, field: string): ExpHistogramColumnsView | undefined =>
  (snap as unknown as Readonly<Record<string, ExpHistogramColumnsView | undefined>>)[field];

export class DeltaStoreSource implements OtelStoreSource {
  /** Start time (epoch ms) each slot had at the previous snapshot; NaN = not exported then. */
  private prevStart = new Float64Array(0);
  private readonly prev = new Map<PerSlotColumn, Float64Array>();
  private prevRttBuckets = new Float64Array(0);
  private prevErrors: (Float64Array | undefined)[] = [];
  private prevPhaseBuckets: (Float64Array | undefined)[] = [];
  private prevPhaseSum: (Float64Array | undefined)[] = [];
  /** The previous snapshot's exponential histograms (cumulative), per NATIVE_FIELDS entry; undefined = not taken. */
  private prevNative: (ExpHistogramColumnsView | undefined)[] = [];
  private scratch = new Float64Array(0);
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

  snapshot(parts: SnapshotParts = {}): StoreSnapshot {
    const snap = this.store.snapshot(parts) as Mutable<StoreSnapshot>;
    const at = this.now();
    const n = snap.highWater;
    const stride = snap.buckets.length + 1;
    this.grow(n, stride);

    // The exponential histograms: their cumulative state is kept (a copy) before differences are written.
    const natives = NATIVE_FIELDS.map((f) => nativeOf(snap, f));
    const kept = natives.map((v) => (v === undefined ? undefined : copyView(v)));
    const prevNative = this.prevNative;
    if (natives.some((v) => v !== undefined && this.scratch.length < v.window))
      this.scratch = new Float64Array(Math.max(...natives.map((v) => v?.window ?? 0)));

    const prevSent = this.prev.get('sent')!;
    for (let s = 0; s < n; s++) {
      if (snap.defined[s] !== 1) {
        this.prevStart[s] = NaN;
        this.continuing[s] = 0;
        continue;
      }
      const start = this.store.slotStartTimeMs(s);
      let carriesOn = this.prevStart[s] === start && snap.sent[s] >= prevSent[s];
      for (let j = 0; carriesOn && j < natives.length; j++) {
        const cur = natives[j];
        if (cur === undefined) continue;
        const prev = prevNative[j];
        if (prev === undefined || s >= prev.first.length || !subtractPrevious(cur, prev, s, this.scratch)) {
          carriesOn = false;
          // The ones already turned into differences go back to cumulative, like the rest of the slot.
          for (let r = 0; r < j; r++) if (natives[r] !== undefined) restoreSlot(natives[r]!, kept[r]!, s);
        }
      }
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
    this.prevNative = kept;
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

function copyView(v: ExpHistogramColumnsView): ExpHistogramColumnsView {
  return { window: v.window, zeroThreshold: v.zeroThreshold, schema: v.schema.slice(), first: v.first.slice(), counts: v.counts.slice(), zero: v.zero.slice() };
}

/** Put slot `s` of `v` back to its cumulative state `from`. */
function restoreSlot(v: ExpHistogramColumnsView, from: ExpHistogramColumnsView, s: number): void {
  const w = v.window;
  v.counts.set(from.counts.subarray(s * w, (s + 1) * w), s * w);
  v.zero[s] = from.zero[s];
}

function extend<T extends Float64Array | Uint8Array>(a: T, n: number): T {
  if (a.length >= n) return a;
  const b = new (a.constructor as { new (n: number): T })(n);
  b.set(a);
  return b;
}

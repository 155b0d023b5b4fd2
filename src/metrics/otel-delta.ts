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
 * The previous values are kept per "unit": one per cumulative family and label value
 * (sent, received, ..., each error reason, the RTT histogram with its sum and exponential
 * histogram, each HTTP phase's histogram), each as one Float64Array per column indexed
 * by slot like the store's own, plus the epoch ms of that value per slot (the next
 * delta's start): ≈ (30 + 1 per unit) × 8 bytes per target with the default 20 buckets,
 * no HTTP phases and a few error reasons; units of label values no slot has yet are not
 * allocated. The exponential histograms' previous state is a copy of their rows, and is
 * subtracted bucket by absolute index (otel-exp-histogram.ts subtractPrevious), since a
 * slot's bucket window may have moved or coarsened in between: 40 × 8 bytes per target.
 *
 * Each snapshot is the store's fresh copy (kept: cumulative) and a copy of its
 * cumulative columns turned into differences (handed to the producer). A unit's
 * previous state advances only for the points the producer has actually built
 * (pointsBuilt): an export builds one request at a time, and one that ends before
 * building all of them (a request timed out, or shutdown's deadline passed) leaves the
 * rest as they were, so their increase goes out with the next export, starting where
 * their previous point ended. Nothing is sent twice and nothing unbuilt is lost.
 *
 * A slot starts over (its points are the whole cumulative value since the slot's own
 * start time) when it was not exported last time (a new target), when its start time
 * changed (the slot was redefined to another target, or reset), or, as a guard, when
 * its sent counter went down or its exponential histogram cannot have grown from the
 * previous one: every unit of the slot then forgets its previous value at once.
 *
 * As in the OTel SDK's delta mode, a point that was built and sent counts as exported
 * whether the collector then accepts it or not: increases of a request that failed
 * are lost, and the next point's start time shows the gap.
 */
import type { ExpHistogramColumnsView } from '../aggregate/exp-histogram.js';
import type { SnapshotParts, StoreSnapshot } from '../aggregate/store.js';
import { METRIC_FAMILIES, type MetricFamily } from './catalog.js';
import { subtractPrevious } from './otel-exp-histogram.js';
import type { OtelStoreSource } from './otel-producer.js';

type Fields = Record<string, Float64Array | readonly (Float64Array | undefined)[] | ExpHistogramColumnsView | undefined>;
const fields = (snap: StoreSnapshot): Fields => snap as unknown as Fields;

/** A cumulative column of a unit: a snapshot field (one value or one bucket row per slot). */
interface ColumnRef {
  readonly field: string;
  /** Label value index in a labelled field; undefined = the field is one column. */
  readonly label: number | undefined;
  /** true: `stride` values per slot (bucket rows); false: one. */
  readonly rows: boolean;
}

/** The cumulative columns of one family's label value `v` (undefined: unlabelled). */
function unitColumns(f: MetricFamily, v: number | undefined): ColumnRef[] {
  if (f.type === 'histogram')
    return [
      { field: `${f.column}Buckets`, label: v, rows: true },
      { field: `${f.column}Sum`, label: v, rows: false },
    ];
  return [{ field: f.column, label: v, rows: false }];
}

function column(snap: StoreSnapshot, c: ColumnRef): Float64Array | undefined {
  const f = fields(snap)[c.field] as Float64Array | readonly (Float64Array | undefined)[] | undefined;
  if (f === undefined) return undefined;
  return c.label === undefined ? (f as Float64Array) : (f as readonly (Float64Array | undefined)[])[c.label];
}

/** One family and label value whose previous state advances on its own. */
class Unit {
  /** Epoch ms of the previous (built) value per slot, where the next delta starts; NaN = none since the slot's start. */
  base = new Float64Array(0);
  /** Previous cumulative values, per column of `columns`. */
  readonly prev: Float64Array[];
  /** The exponential histogram's previous rows (when the family has one and it is sent). */
  prevNative: { schema: Int8Array; first: Int32Array; counts: Float64Array; zero: Float64Array; window: number; zeroThreshold: number } | undefined;
  /** Slots of the newest snapshot whose values are already the previous state. */
  builtTo = 0;

  constructor(
    readonly columns: readonly ColumnRef[],
    /** Snapshot field of the exponential histogram, if the family has one. */
    readonly nativeField: string | undefined,
  ) {
    this.prev = columns.map(() => new Float64Array(0));
  }
}

const isCumulative = (f: MetricFamily): boolean => f.type === 'counter' || f.type === 'histogram';

export class DeltaStoreSource implements OtelStoreSource {
  /** Start time (epoch ms) each slot had at the previous snapshot; NaN = not defined then. */
  private prevStart = new Float64Array(0);
  /** Per family (METRIC_FAMILIES index), per label value (0 when unlabelled): the units created so far. */
  private readonly units: (Unit | undefined)[][] = METRIC_FAMILIES.map(() => []);
  /**
   * Per labelled family: the state of its label values that have no column (all zero so
   * far): only the time of the slot's previous point, advanced for the slots whose
   * points of the family were all built.
   */
  private readonly zeroUnits: (Unit | undefined)[] = METRIC_FAMILIES.map(() => undefined);
  /** Every unit, for the per-slot passes. */
  private readonly all: Unit[] = [];
  private readonly sentUnit: Unit;
  private scratch = new Float64Array(0);
  /** Per slot of the newest snapshot: its start time, and where a gauge's delta starts (as the slot's). */
  private slotStart = new Float64Array(0);
  private slotDeltaStart = new Float64Array(0);
  private cum: StoreSnapshot | undefined;
  private stride = 0;
  private lastMs = NaN;
  private atMs = NaN;

  constructor(
    private readonly store: OtelStoreSource,
    private readonly now: () => number = Date.now,
  ) {
    METRIC_FAMILIES.forEach((f, fi) => {
      if (!isCumulative(f)) return;
      if (f.label === undefined) this.addUnit(fi, 0, new Unit(unitColumns(f, undefined), f.native === undefined ? undefined : `${f.column}Native`));
      else this.all.push((this.zeroUnits[fi] = new Unit([], undefined)));
    });
    const sent = METRIC_FAMILIES.findIndex((f) => f.id === 'sent');
    this.sentUnit = this.units[sent][0]!;
  }

  /** Epoch ms at which the newest snapshot was taken: the end time of its points. */
  get snapshotTimeMs(): number {
    return this.atMs;
  }

  slotAttributes(slot: number): Readonly<Record<string, string>> | undefined {
    return this.store.slotAttributes(slot);
  }

  /** Start of the slot's delta in the newest snapshot (a gauge's start time). */
  slotStartTimeMs(slot: number): number {
    return slot < this.slotDeltaStart.length ? this.slotDeltaStart[slot] : NaN;
  }

  pointStartTimeMs(family: number, label: number, slot: number): number {
    const u = this.units[family][label] ?? this.zeroUnits[family];
    if (u === undefined) return this.slotStartTimeMs(slot);
    const b = u.base[slot];
    return b === b ? b : this.slotStart[slot];
  }

  pointsBuilt(family: number, slot: number, label: number): void {
    const cum = this.cum;
    if (cum === undefined) return;
    const n = cum.highWater;
    this.units[family].forEach((u, v) => {
      if (u === undefined) return;
      const to = Math.min(n, v < label ? slot + 1 : slot);
      if (to > u.builtTo) this.advance(u, cum, u.builtTo, to);
    });
    const z = this.zeroUnits[family];
    if (z !== undefined && Math.min(n, slot) > z.builtTo) this.advance(z, cum, z.builtTo, Math.min(n, slot));
  }

  /** The previous state of unit `u` becomes the newest snapshot's values for slots [from, to). */
  private advance(u: Unit, cum: StoreSnapshot, from: number, to: number): void {
    const stride = this.stride;
    u.columns.forEach((c, i) => {
      const col = column(cum, c);
      if (col === undefined) return;
      const w = c.rows ? stride : 1;
      u.prev[i].set(col.subarray(from * w, to * w), from * w);
    });
    const nat = u.nativeField === undefined ? undefined : (fields(cum)[u.nativeField] as ExpHistogramColumnsView | undefined);
    if (nat !== undefined) {
      const p = (u.prevNative = ensureNative(u.prevNative, nat, this.prevStart.length));
      p.schema.set(nat.schema.subarray(from, to), from);
      p.first.set(nat.first.subarray(from, to), from);
      p.zero.set(nat.zero.subarray(from, to), from);
      p.counts.set(nat.counts.subarray(from * nat.window, to * nat.window), from * nat.window);
    }
    u.base.fill(this.atMs, from, to);
    u.builtTo = to;
  }

  snapshot(parts: SnapshotParts = {}): StoreSnapshot {
    const cum = this.store.snapshot(parts);
    const at = this.now();
    const n = cum.highWater;
    const stride = (this.stride = cum.buckets.length + 1);
    this.grow(n, stride);
    this.addLabelUnits(cum);

    // The differences go into copies: the cumulative snapshot stays, for advance().
    const delta = { ...cum } as unknown as Fields;
    const copied = new Set<string>();
    for (const u of this.all) {
      for (const c of u.columns) {
        const col = column(cum, c);
        if (col === undefined) continue;
        if (c.label === undefined) {
          delta[c.field] = col.slice();
          continue;
        }
        if (!copied.has(c.field)) {
          copied.add(c.field);
          delta[c.field] = [...(fields(cum)[c.field] as readonly (Float64Array | undefined)[])];
        }
        (delta[c.field] as (Float64Array | undefined)[])[c.label] = col.slice();
      }
      if (u.nativeField !== undefined) {
        const nat = fields(cum)[u.nativeField] as ExpHistogramColumnsView | undefined;
        if (nat !== undefined) delta[u.nativeField] = copyView(nat);
      }
    }
    const deltaSnap = delta as unknown as StoreSnapshot;

    // Which slots carry on from their previous values, unit by unit.
    const natives = this.all.filter((u) => u.nativeField !== undefined && fields(deltaSnap)[u.nativeField] !== undefined);
    const maxWindow = Math.max(0, ...natives.map((u) => (fields(deltaSnap)[u.nativeField!] as ExpHistogramColumnsView).window));
    if (this.scratch.length < maxWindow) this.scratch = new Float64Array(maxWindow);
    const sentPrev = this.sentUnit.prev[0];
    for (let s = 0; s < n; s++) {
      if (cum.defined[s] !== 1) {
        this.prevStart[s] = NaN;
        this.slotStart[s] = NaN;
        this.slotDeltaStart[s] = NaN;
        for (const u of this.all) u.base[s] = NaN;
        continue;
      }
      const start = this.store.slotStartTimeMs(s);
      const sentBase = this.sentUnit.base[s];
      let carriesOn = this.prevStart[s] === start && (sentBase !== sentBase || cum.sent[s] >= sentPrev[s]);
      let subtracted = 0;
      for (; carriesOn && subtracted < natives.length; subtracted++) {
        const u = natives[subtracted];
        const b = u.base[s];
        if (b !== b) continue; // no previous value: the whole cumulative histogram
        const cur = fields(deltaSnap)[u.nativeField!] as ExpHistogramColumnsView;
        if (u.prevNative === undefined || !subtractPrevious(cur, u.prevNative, s, this.scratch)) carriesOn = false;
      }
      if (!carriesOn) {
        // The ones already turned into differences go back to cumulative, like the rest of the slot.
        for (let r = 0; r < subtracted; r++) {
          const f = natives[r].nativeField!;
          restoreSlot(fields(deltaSnap)[f] as ExpHistogramColumnsView, fields(cum)[f] as ExpHistogramColumnsView, s);
        }
        for (const u of this.all) u.base[s] = NaN;
      }
      this.slotStart[s] = start;
      this.slotDeltaStart[s] = carriesOn ? this.lastMs : start;
      this.prevStart[s] = start;
    }
    for (const u of this.all) {
      u.builtTo = 0;
      u.columns.forEach((c, i) => {
        const cur = column(deltaSnap, c);
        if (cur !== undefined) subtractRows(cur, u.prev[i], u.base, n, c.rows ? stride : 1);
      });
    }
    this.cum = cum;
    this.lastMs = at;
    this.atMs = at;
    return deltaSnap;
  }

  private addUnit(fi: number, v: number, u: Unit): void {
    this.units[fi][v] = u;
    this.all.push(u);
  }

  /**
   * Units for the label values whose columns the store has allocated since (it does so
   * on first use). Such a column was zero at every earlier snapshot, so its previous
   * value is 0 as of the family's zero-valued series' previous point.
   */
  private addLabelUnits(snap: StoreSnapshot): void {
    METRIC_FAMILIES.forEach((f, fi) => {
      if (!isCumulative(f) || f.label === undefined) return;
      for (let v = 0; v < f.label.values.length; v++) {
        if (this.units[fi][v] !== undefined) continue;
        const columns = unitColumns(f, v);
        if (columns.every((c) => column(snap, c) === undefined)) continue;
        const u = new Unit(columns, undefined);
        const cap = this.prevStart.length;
        u.base = this.zeroUnits[fi]!.base.slice();
        u.columns.forEach((c, i) => (u.prev[i] = new Float64Array(c.rows ? cap * this.stride : cap)));
        this.addUnit(fi, v, u);
      }
    });
  }

  /** Make every kept array cover n slots (the store's high-water mark only grows). */
  private grow(n: number, stride: number): void {
    if (this.prevStart.length >= n) return;
    const cap = Math.max(n, this.prevStart.length * 2);
    const old = this.prevStart.length;
    this.prevStart = extend(this.prevStart, cap);
    this.prevStart.fill(NaN, old);
    this.slotStart = extend(this.slotStart, cap);
    this.slotDeltaStart = extend(this.slotDeltaStart, cap);
    for (const u of this.all) {
      u.base = extend(u.base, cap);
      u.base.fill(NaN, old);
      u.columns.forEach((c, i) => (u.prev[i] = extend(u.prev[i], c.rows ? cap * stride : cap)));
      if (u.prevNative !== undefined) u.prevNative = ensureNative(u.prevNative, u.prevNative, cap);
    }
  }
}

/** cur[i] becomes cur[i] - prev[i] on the rows of slots that have a previous value (base not NaN). */
function subtractRows(cur: Float64Array, prev: Float64Array, base: Float64Array, n: number, stride: number): void {
  for (let s = 0; s < n; s++) {
    const b = base[s];
    if (b !== b) continue;
    for (let i = s * stride; i < (s + 1) * stride; i++) cur[i] -= prev[i];
  }
}

type NativeRows = NonNullable<Unit['prevNative']>;

/** Previous exponential-histogram rows covering `cap` slots, with `like`'s window. */
function ensureNative(p: NativeRows | undefined, like: ExpHistogramColumnsView, cap: number): NativeRows {
  if (p !== undefined && p.first.length >= cap && p.window === like.window) return p;
  const w = like.window;
  const q: NativeRows = {
    window: w,
    zeroThreshold: like.zeroThreshold,
    schema: new Int8Array(cap),
    first: new Int32Array(cap),
    counts: new Float64Array(cap * w),
    zero: new Float64Array(cap),
  };
  if (p !== undefined && p.window === w) {
    q.schema.set(p.schema);
    q.first.set(p.first);
    q.counts.set(p.counts);
    q.zero.set(p.zero);
  }
  return q;
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

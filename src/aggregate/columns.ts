/**
 * The store's per-slot columns, derived from the metric catalog (metrics/catalog.ts):
 * one Float64Array per counter or gauge, a buckets row plus a sum per histogram, and
 * for labelled families one such column per label value, allocated the first time a
 * record needs it (most fleets only ever see a few error reasons). Allocation, growth,
 * reset and snapshot are written once here for every family; which event fills which
 * column is the store's applyBatch.
 *
 * Histogram rows are NON-cumulative, stride = bounds + 1 (the last column of each slot
 * counts values above the last bound).
 */
import {
  METRIC_FAMILIES,
  type DerivedColumn,
  type HistogramColumn,
  type LabelledColumn,
  type LabelledHistogramColumn,
  type NativeHistogramColumn,
  type ScalarColumn,
} from '../metrics/catalog.js';
import { DEFAULT_NATIVE_WINDOW, ExpHistogramColumns, type ExpHistogramColumnsView } from './exp-histogram.js';

/** The snapshot fields of the catalog's families (StoreSnapshot has these plus the slot metadata). */
export type SnapshotColumns = { readonly [C in ScalarColumn | DerivedColumn]: Float64Array } & {
  /** Per label value; undefined when no slot ever had that value. */
  readonly [C in LabelledColumn]: readonly (Float64Array | undefined)[];
} & { readonly [C in HistogramColumn as `${C}Buckets` | `${C}Sum`]: Float64Array } & {
  /** Per label value; undefined when that value was never recorded. */
  readonly [C in LabelledHistogramColumn as `${C}Buckets` | `${C}Sum`]: readonly (Float64Array | undefined)[];
} & {
  /** The exponential histograms (undefined when the snapshot was taken without them: `{ native: false }`). */
  readonly [C in NativeHistogramColumn as `${C}Native`]: ExpHistogramColumnsView | undefined;
};

/** What a snapshot copies besides the scalars and classic histograms every reader needs. */
export interface SnapshotParts {
  /** The exponential histograms (protobuf exposition, OTLP); default true. */
  native?: boolean;
}

export interface HistogramCells {
  buckets: Float64Array;
  sum: Float64Array;
}

const SCALARS = METRIC_FAMILIES.filter((f) => f.type !== 'histogram' && f.label === undefined && !f.fromLossWindow).map((f) => ({
  column: f.column as ScalarColumn,
  initial: f.initial,
  kindMask: f.kindMask,
  everyKind: f.everyKind,
}));
const LABELLED = METRIC_FAMILIES.filter((f) => f.type !== 'histogram' && f.label !== undefined).map((f) => ({
  column: f.column as LabelledColumn,
  values: f.label!.values.length,
}));
const HISTOGRAMS = METRIC_FAMILIES.filter((f) => f.type === 'histogram' && f.label === undefined).map((f) => f.column as HistogramColumn);
const NATIVE = METRIC_FAMILIES.filter((f) => f.native !== undefined).map((f) => ({ column: f.column as NativeHistogramColumn, schema: f.native!.schema }));
const LABELLED_HISTOGRAMS = METRIC_FAMILIES.filter((f) => f.type === 'histogram' && f.label !== undefined).map((f) => ({
  column: f.column as LabelledHistogramColumn,
  values: f.label!.values.length,
}));

/**
 * What an unallocated column holds: a family of some kinds only (tcp_echo's connects,
 * http's status code) costs nothing until a slot of one of its kinds is defined.
 * Writes to it are no-ops and nothing reads it (every reader skips slots of kinds
 * without the family); a snapshot gives zeros in its place.
 */
const UNALLOCATED = new Float64Array(0);

function grow(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}

export class CatalogColumns {
  /**
   * Column handles by name. The arrays are replaced when the store grows: read them
   * when a batch starts, never keep them across a defineSlot().
   */
  readonly scalar = {} as Record<ScalarColumn, Float64Array>;
  readonly labelled = {} as Record<LabelledColumn, (Float64Array | undefined)[]>;
  readonly histogram = {} as Record<HistogramColumn, HistogramCells>;
  readonly labelledHistogram = {} as Record<LabelledHistogramColumn, (HistogramCells | undefined)[]>;
  readonly native = {} as Record<NativeHistogramColumn, ExpHistogramColumns>;
  private capacity: number;

  constructor(
    capacity: number,
    /** Histogram row width: one column per bound plus the overflow column. */
    private readonly stride: number,
    /** Exponential histograms: the catalog's schema unless overridden (tests), and the window per slot. */
    nativeOptions: { schema?: number; window?: number } = {},
  ) {
    this.capacity = capacity;
    // New slots start at 0 (lastRtt's NaN is set when a slot is defined: reset()).
    // A family of some kinds only is allocated with the first slot of one of them (allocateKind()).
    for (const { column, everyKind } of SCALARS) this.scalar[column] = everyKind ? new Float64Array(capacity) : UNALLOCATED;
    for (const { column, values } of LABELLED) this.labelled[column] = new Array<Float64Array | undefined>(values).fill(undefined);
    for (const column of HISTOGRAMS) this.histogram[column] = { buckets: new Float64Array(capacity * stride), sum: new Float64Array(capacity) };
    for (const { column, values } of LABELLED_HISTOGRAMS) {
      this.labelledHistogram[column] = new Array<HistogramCells | undefined>(values).fill(undefined);
    }
    for (const { column, schema } of NATIVE) {
      this.native[column] = new ExpHistogramColumns(capacity, nativeOptions.schema ?? schema, nativeOptions.window ?? DEFAULT_NATIVE_WINDOW);
    }
  }

  /** Allocate the columns of the families slots of this kind have (before the first such slot is defined). */
  allocateKind(kindCode: number): void {
    for (const { column, kindMask } of SCALARS) {
      if (kindMask[kindCode] === 1 && this.scalar[column] === UNALLOCATED) this.scalar[column] = new Float64Array(this.capacity);
    }
  }

  /** Whether a counter or gauge column has storage (false for a family none of whose kinds was ever defined). */
  allocated(column: ScalarColumn): boolean {
    return this.scalar[column] !== UNALLOCATED;
  }

  /** Bytes held by every column (typed arrays), for tests and the memory breakdown. */
  get bytes(): number {
    let b = 0;
    for (const { column } of SCALARS) b += this.scalar[column].byteLength;
    for (const { column } of LABELLED) for (const c of this.labelled[column]) b += c?.byteLength ?? 0;
    for (const column of HISTOGRAMS) b += this.histogram[column].buckets.byteLength + this.histogram[column].sum.byteLength;
    for (const { column } of LABELLED_HISTOGRAMS)
      for (const h of this.labelledHistogram[column]) b += h === undefined ? 0 : h.buckets.byteLength + h.sum.byteLength;
    for (const { column } of NATIVE) b += this.native[column].bytes;
    return b;
  }

  /** The column of one label value, allocated on first use. */
  labelledCell(column: LabelledColumn, value: number): Float64Array {
    const cols = this.labelled[column];
    let col = cols[value];
    if (col === undefined) cols[value] = col = new Float64Array(this.capacity);
    return col;
  }

  /** The histogram of one label value, allocated on first use. */
  labelledHistogramCells(column: LabelledHistogramColumn, value: number): HistogramCells {
    const cells = this.labelledHistogram[column];
    let h = cells[value];
    if (h === undefined) cells[value] = h = { buckets: new Float64Array(this.capacity * this.stride), sum: new Float64Array(this.capacity) };
    return h;
  }

  /** Every column of a slot back to its initial value. */
  reset(slot: number): void {
    const st = this.stride;
    for (const { column, initial } of SCALARS) this.scalar[column][slot] = initial;
    for (const { column } of LABELLED) for (const c of this.labelled[column]) if (c !== undefined) c[slot] = 0;
    for (const column of HISTOGRAMS) {
      const h = this.histogram[column];
      h.buckets.fill(0, slot * st, (slot + 1) * st);
      h.sum[slot] = 0;
    }
    for (const { column } of LABELLED_HISTOGRAMS) {
      for (const h of this.labelledHistogram[column]) {
        if (h === undefined) continue;
        h.buckets.fill(0, slot * st, (slot + 1) * st);
        h.sum[slot] = 0;
      }
    }
    for (const { column } of NATIVE) this.native[column].reset(slot);
  }

  /** Room for `capacity` slots (the caller decides how much). */
  grow(capacity: number): void {
    const st = this.stride;
    for (const { column } of SCALARS) if (this.scalar[column] !== UNALLOCATED) this.scalar[column] = grow(this.scalar[column], capacity);
    for (const { column } of LABELLED) {
      const cols = this.labelled[column];
      for (let v = 0; v < cols.length; v++) {
        const c = cols[v];
        if (c !== undefined) cols[v] = grow(c, capacity);
      }
    }
    for (const column of HISTOGRAMS) {
      const h = this.histogram[column];
      h.buckets = grow(h.buckets, capacity * st);
      h.sum = grow(h.sum, capacity);
    }
    for (const { column } of LABELLED_HISTOGRAMS) {
      for (const h of this.labelledHistogram[column]) {
        if (h === undefined) continue;
        h.buckets = grow(h.buckets, capacity * st);
        h.sum = grow(h.sum, capacity);
      }
    }
    for (const { column } of NATIVE) this.native[column].grow(capacity);
    this.capacity = capacity;
  }

  /** Copies of slots [0, n) of every stored column the reader needs (the derived ones are the store's to add). */
  snapshot(n: number, parts: SnapshotParts = {}): Omit<SnapshotColumns, DerivedColumn> {
    const w = n * this.stride;
    const out: Record<string, Float64Array | readonly (Float64Array | undefined)[]> = {};
    // Unallocated columns all read as this one array of zeros (readers do not write to a snapshot).
    let zeros: Float64Array | undefined;
    for (const { column } of SCALARS) {
      const c = this.scalar[column];
      out[column] = c !== UNALLOCATED ? c.slice(0, n) : (zeros ??= new Float64Array(n));
    }
    for (const { column } of LABELLED) out[column] = this.labelled[column].map((c) => c?.slice(0, n));
    for (const column of HISTOGRAMS) {
      const h = this.histogram[column];
      out[`${column}Buckets`] = h.buckets.slice(0, w);
      out[`${column}Sum`] = h.sum.slice(0, n);
    }
    for (const { column } of LABELLED_HISTOGRAMS) {
      const cells = this.labelledHistogram[column];
      out[`${column}Buckets`] = cells.map((h) => h?.buckets.slice(0, w));
      out[`${column}Sum`] = cells.map((h) => h?.sum.slice(0, n));
    }
    const native: Record<string, ExpHistogramColumnsView | undefined> = {};
    for (const { column } of NATIVE) native[`${column}Native`] = parts.native === false ? undefined : this.native[column].snapshot(n);
    Object.assign(out, native);
    return out as unknown as Omit<SnapshotColumns, DerivedColumn>;
  }
}

/**
 * A family's columns in a StoreSnapshot, by the names the catalog gives them
 * (metrics/catalog.ts `column`): the one place where the exporters turn a family into
 * its typed arrays, so that writers iterate the catalog instead of naming fields.
 */
import type { ExpHistogramColumnsView } from '../aggregate/exp-histogram.js';
import type { StoreSnapshot } from '../aggregate/store.js';
import type { MetricFamily } from './catalog.js';

type Columns = Readonly<Record<string, Float64Array | readonly (Float64Array | undefined)[]>>;
const columns = (snap: StoreSnapshot): Columns => snap as unknown as Columns;

function field<T>(snap: StoreSnapshot, name: string, fam: MetricFamily): T {
  const col = columns(snap)[name];
  if (col === undefined) throw new Error(`store snapshot has no column ${name} for ${fam.prometheus}`);
  return col as T;
}

/** Whether the snapshot has a target of a kind the family is for (a family without one is left out of every exposition). */
export function familyHasSeries(snap: StoreSnapshot, fam: MetricFamily): boolean {
  for (let k = 0; k < snap.kindCounts.length; k++) if (snap.kindCounts[k] > 0 && fam.kindMask[k] === 1) return true;
  return false;
}

/** Counters and gauges: one value per slot. */
export function snapshotValues(snap: StoreSnapshot, fam: MetricFamily): Float64Array {
  return field<Float64Array>(snap, fam.column, fam);
}

/** Labelled counters and gauges: one column per label value (undefined: all zero). */
export function snapshotLabelledValues(snap: StoreSnapshot, fam: MetricFamily): readonly (Float64Array | undefined)[] {
  return field<readonly (Float64Array | undefined)[]>(snap, fam.column, fam);
}

/** Histograms: non-cumulative bucket rows (stride = bounds + 1) and sums. */
export function snapshotHistogram(snap: StoreSnapshot, fam: MetricFamily): { buckets: Float64Array; sum: Float64Array } {
  return { buckets: field<Float64Array>(snap, `${fam.column}Buckets`, fam), sum: field<Float64Array>(snap, `${fam.column}Sum`, fam) };
}

/**
 * A histogram's exponential counterpart (catalog `native`; snapshot field `<column>Native`),
 * or undefined when the family has none. Throws when it has one but the snapshot was
 * taken without the exponential histograms (`{ native: false }`).
 */
export function snapshotNativeHistogram(snap: StoreSnapshot, fam: MetricFamily): ExpHistogramColumnsView | undefined {
  if (fam.native === undefined) return undefined;
  const view = (snap as unknown as Readonly<Record<string, ExpHistogramColumnsView | undefined>>)[`${fam.column}Native`];
  if (view === undefined) throw new Error(`snapshot taken without the exponential histograms of ${fam.prometheus}`);
  return view;
}

/** Labelled histograms: rows and sums per label value (undefined: never recorded). */
export function snapshotLabelledHistogram(
  snap: StoreSnapshot,
  fam: MetricFamily,
): { buckets: readonly (Float64Array | undefined)[]; sum: readonly (Float64Array | undefined)[] } {
  return {
    buckets: field<readonly (Float64Array | undefined)[]>(snap, `${fam.column}Buckets`, fam),
    sum: field<readonly (Float64Array | undefined)[]>(snap, `${fam.column}Sum`, fam),
  };
}

/** A histogram row with any count (a labelled series that is not always present exists once it has one). */
export function rowHasCounts(counts: Float64Array | undefined, base: number, stride: number): boolean {
  if (counts === undefined) return false;
  for (let b = 0; b < stride; b++) if (counts[base + b] !== 0) return true;
  return false;
}

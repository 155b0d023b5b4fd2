/**
 * The per-target store as OpenTelemetry metric data: a sdk-metrics
 * MetricProducer that converts one StoreSnapshot into ScopeMetrics at
 * collection time. The export (otel.ts) uses begin() instead: the snapshot is
 * taken at once and the points are built one request's worth at a time
 * (MetricStream), in the same order as collect(). Nothing is recorded into OTel
 * instruments as probes happen; like /metrics, the store is read when asked.
 *
 * Why a MetricProducer and not observable instruments: the OTel JS API has no
 * observable histogram, the store already holds cumulative aggregates
 * (re-aggregating them through instruments would double the work and apply the
 * SDK's 2000-series cardinality limit), and a producer builds every data point
 * in one pass over the typed arrays.
 *
 * Semantics are those of the Prometheus exposition (src/metrics/exposition.ts):
 * sums and histograms are CUMULATIVE from the slot's start time (when the target
 * was defined or its counters were last reset; for DELTA, otel-delta.ts hands
 * this producer increases and their start times instead), histogram bounds are the
 * store's buckets with inclusive upper bounds (Prometheus `le`), and the same
 * error reasons appear (nonzero ones plus the kind's ZERO_ERROR_REASONS).
 * Two differences the format forces: OTLP bucket counts are per bucket (not
 * cumulative like `le` buckets), and the last-RTT gauge is left out until the
 * first reply instead of carrying NaN (OTLP/JSON cannot encode NaN).
 *
 * Names, units, types and descriptions come from the metric catalog
 * (metrics/catalog.ts), which also says which kinds have which family and which
 * labelled series exist; a counter becomes a monotonic cumulative Sum, a gauge a
 * Gauge, a histogram an explicit-bucket Histogram. The catalog's table of names lands
 * on exactly the /metrics names under the OTLP→Prometheus translation.
 *
 * Attributes: target, address, kind, then the user labels: the Prometheus
 * label names and (unescaped) values, from TargetStore.slotAttributes().
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type DataPoint,
  type ExponentialHistogram,
  type Histogram,
  type MetricData,
  type MetricDescriptor,
  type MetricProducer,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { emptyResource } from '@opentelemetry/resources';
import type { SnapshotParts, StoreSnapshot } from '../aggregate/store.js';
import { METRIC_FAMILIES, type ExtraLabelName, type FamilyId, type MetricFamily } from './catalog.js';
import type { ExpHistogramColumnsView } from '../aggregate/exp-histogram.js';
import type { HistogramAggregation } from './otel-config.js';
import { exponentialHistogramValue } from './otel-exp-histogram.js';
import {
  rowHasCounts,
  snapshotHistogram,
  snapshotLabelledHistogram,
  snapshotLabelledValues,
  snapshotNativeHistogram,
  snapshotValues,
} from './snapshot-columns.js';

/** What the producer reads; a TargetStore fits. */
export interface OtelStoreSource {
  snapshot(parts?: SnapshotParts): StoreSnapshot;
  slotAttributes(slot: number): Readonly<Record<string, string>> | undefined;
  slotStartTimeMs(slot: number): number;
  /**
   * Delta sources only (DeltaStoreSource): where the point of family `family` (index in
   * METRIC_FAMILIES), label value `label` (0 when unlabelled) of `slot` starts in the
   * newest snapshot, when that differs per family; default slotStartTimeMs(slot).
   */
  pointStartTimeMs?(family: number, label: number, slot: number): number;
  /**
   * Delta sources only: the points of `family` before the cursor (`slot`, `label`) of the
   * newest snapshot have been built (every label value of the slots before `slot`, and
   * the label values before `label` of `slot`), so their previous state may advance.
   * Called with a cursor that only moves forward within one snapshot.
   */
  pointsBuilt?(family: number, slot: number, label: number): void;
}

/** A MetricData without its points (each variant's fields kept). */
export type MetricHeader = MetricData extends infer M ? (M extends MetricData ? Omit<M, 'dataPoints'> : never) : never;

/** A point of the store's metrics. */
export type StorePoint = DataPoint<number | Histogram | ExponentialHistogram>;

/**
 * One metric whose points are built on demand, in export order: the unit the request
 * builder (otel-requests.ts) cuts export requests from.
 */
export interface MetricStream {
  /** The metric without its points. */
  readonly header: MetricHeader;
  /** Build and return the next min(max, remaining) points; [] once none remain. */
  take(max: number): StorePoint[];
}

interface Family {
  readonly descriptor: MetricDescriptor;
  readonly prometheus: string;
}

function descriptor(f: MetricFamily): MetricDescriptor {
  return { name: f.otel, unit: f.unit, valueType: f.valueType === 'int' ? ValueType.INT : ValueType.DOUBLE, description: f.otelHelp };
}

/** Every per-target OTel metric, with the Prometheus family it mirrors, by catalog id. */
export const OTEL_FAMILIES = Object.fromEntries(METRIC_FAMILIES.map((f) => [f.id, { descriptor: descriptor(f), prometheus: f.prometheus }])) as Readonly<
  Record<FamilyId, Family>
>;
const DESCRIPTORS: readonly MetricDescriptor[] = METRIC_FAMILIES.map((f) => OTEL_FAMILIES[f.id].descriptor);

export const DEFAULT_SCOPE_NAME = 'fleetprobe';

/** Epoch milliseconds → OTel HrTime [seconds, nanoseconds]. */
export function msToHrTime(ms: number): HrTime {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

/** Attribute objects derived from one slot's base attributes (+reason, +phase), kept until the base changes. */
interface SlotDerived {
  base: Readonly<Record<string, string>>;
  byLabel: Partial<Record<ExtraLabelName, (Attributes | undefined)[]>>;
}

/**
 * Per-slot objects that survive between exports so an export allocates only
 * what the SDK types demand (one DataPoint per series, one counts array per
 * histogram point): start-time HrTimes and the +reason / +phase attribute sets.
 */
class SlotCache {
  private startMs: number[] = [];
  private startHr: HrTime[] = [];
  private derived: (SlotDerived | undefined)[] = [];

  startTime(slot: number, ms: number): HrTime {
    if (this.startMs[slot] !== ms || this.startHr[slot] === undefined) {
      this.startMs[slot] = ms;
      this.startHr[slot] = msToHrTime(ms);
    }
    return this.startHr[slot];
  }

  private slotDerived(slot: number, base: Readonly<Record<string, string>>): SlotDerived {
    let d = this.derived[slot];
    if (d === undefined || d.base !== base) this.derived[slot] = d = { base, byLabel: {} };
    return d;
  }

  /** The slot's attributes plus one extra label (`reason`, `phase`) with its value number `v`. */
  withLabel(slot: number, base: Readonly<Record<string, string>>, fam: MetricFamily, v: number): Attributes {
    const label = fam.label!;
    const byValue = (this.slotDerived(slot, base).byLabel[label.name] ??= []);
    return (byValue[v] ??= { ...base, [label.name]: label.values[v] });
  }
}

export interface StoreMetricProducerOptions {
  scopeName?: string;
  scopeVersion?: string;
  /** Wall clock in epoch ms (the end time of every point); default Date.now. */
  now?: () => number;
  /**
   * Slots converted between two yields to the event loop in collect() (a
   * 50k-target export builds ≈ 550k points, ≈ 0.5 s of CPU: in slices, batches
   * keep merging and /metrics keeps answering meanwhile). Default 2048.
   */
  sliceSlots?: number;
  /**
   * Temporality of the sums and histograms (default CUMULATIVE). DELTA only labels the
   * points: the source must then hold increases, not totals (DeltaStoreSource).
   */
  temporality?: AggregationTemporality;
  /**
   * How histograms are sent (OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION;
   * default explicit buckets): with the exponential one, a histogram that has an
   * exponential counterpart in the store is sent as an ExponentialHistogram instead.
   */
  histogramAggregation?: HistogramAggregation;
  /**
   * More metrics computed from the same snapshot (the group rollups: group-otel.ts),
   * called in the tick the snapshot is taken; they follow the per-target metrics.
   */
  snapshotMetrics?: (snap: StoreSnapshot, endTime: HrTime) => MetricData[];
}

export const DEFAULT_SLICE_SLOTS = 2048;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * MetricProducer over a TargetStore. Give it to the reader's `metricProducers`;
 * the SDK's resource replaces the (empty) one returned here.
 */
export class StoreMetricProducer implements MetricProducer {
  private readonly cache = new SlotCache();
  private readonly scope: { name: string; version?: string };
  private readonly now: () => number;
  private readonly sliceSlots: number;
  private readonly temporality: AggregationTemporality;
  private readonly exponential: boolean;
  private readonly snapshotMetrics: StoreMetricProducerOptions['snapshotMetrics'];
  private boundariesFor: Float64Array | undefined;
  private boundaries: number[] = [];

  constructor(
    private readonly store: OtelStoreSource,
    opts: StoreMetricProducerOptions = {},
  ) {
    this.scope =
      opts.scopeVersion === undefined
        ? { name: opts.scopeName ?? DEFAULT_SCOPE_NAME }
        : { name: opts.scopeName ?? DEFAULT_SCOPE_NAME, version: opts.scopeVersion };
    this.now = opts.now ?? Date.now;
    this.sliceSlots = Math.max(1, opts.sliceSlots ?? DEFAULT_SLICE_SLOTS);
    this.temporality = opts.temporality ?? AggregationTemporality.CUMULATIVE;
    this.exponential = opts.histogramAggregation === 'base2_exponential_bucket_histogram';
    this.snapshotMetrics = opts.snapshotMetrics;
  }

  /** Snapshot now, convert in slices with event-loop yields in between. */
  async collect(): Promise<CollectionResult> {
    try {
      const streams = this.begin();
      const metrics: MetricData[] = [];
      const slice = this.sliceSlots * POINTS_PER_SLOT_ESTIMATE;
      let built = 0;
      for (const m of streams) {
        const dataPoints: StorePoint[] = [];
        for (let chunk = m.take(slice); chunk.length > 0; chunk = m.take(slice)) {
          for (const p of chunk) dataPoints.push(p);
          if ((built += chunk.length) >= slice) {
            built = 0;
            await yieldToLoop();
          }
        }
        if (dataPoints.length > 0) metrics.push({ ...m.header, dataPoints } as MetricData);
      }
      return { resourceMetrics: { resource: emptyResource(), scopeMetrics: this.wrap(metrics) }, errors: [] };
    } catch (err) {
      return { resourceMetrics: { resource: emptyResource(), scopeMetrics: [] }, errors: [err] };
    }
  }

  /**
   * The same conversion in one synchronous pass: one ScopeMetrics holding
   * every metric that has at least one point, or [] when no target is defined.
   */
  collectScopeMetrics(): ScopeMetrics[] {
    const metrics: MetricData[] = [];
    for (const m of this.begin()) {
      const dataPoints = m.take(Infinity);
      if (dataPoints.length > 0) metrics.push({ ...m.header, dataPoints } as MetricData);
    }
    return this.wrap(metrics);
  }

  /** The instrumentation scope of every metric this producer builds. */
  get instrumentationScope(): { name: string; version?: string } {
    return this.scope;
  }

  private wrap(metrics: MetricData[]): ScopeMetrics[] {
    return metrics.length === 0 ? [] : [{ scope: this.scope, metrics }];
  }

  /**
   * Take the snapshot and, in the same tick, every slot's attributes and
   * start time, so a conversion spread over several ticks still describes one
   * instant even if targets are redefined meanwhile. Returns one stream per
   * metric, in export order (catalog order, then the snapshot metrics); a stream
   * whose first take() returns [] has no points and is not exported.
   */
  begin(): MetricStream[] {
    // The exponential histograms are copied only when sent (40 × 8 bytes per target).
    const snap = this.store.snapshot({ native: this.exponential });
    const n = snap.highWater;
    const attrs = new Array<Readonly<Record<string, string>> | undefined>(n);
    const starts = new Array<HrTime | undefined>(n);
    for (let s = 0; s < n; s++) {
      if (snap.defined[s] !== 1) continue;
      const a = this.store.slotAttributes(s);
      attrs[s] = a;
      if (a !== undefined) starts[s] = this.cache.startTime(s, this.store.slotStartTimeMs(s));
    }
    const endTime = msToHrTime(this.now());
    const extra = this.snapshotMetrics?.(snap, endTime) ?? [];
    const conv = new Conversion(snap, endTime, attrs, starts, this.cache, this.histogramBounds(snap.buckets), this.exponential, this.store);
    const streams: MetricStream[] = METRIC_FAMILIES.map((_, fi) => ({ header: conv.header(fi, this.temporality), take: (max: number) => conv.take(fi, max) }));
    for (const m of extra) streams.push(arrayStream(m));
    return streams;
  }

  private histogramBounds(buckets: Float64Array): number[] {
    if (this.boundariesFor !== buckets) {
      this.boundariesFor = buckets;
      this.boundaries = Array.from(buckets);
    }
    return this.boundaries;
  }
}

/** Points per slot and metric, roughly: turns collect()'s slot slices into point counts. */
const POINTS_PER_SLOT_ESTIMATE = 11;

/** A metric whose points already exist (the snapshot metrics) as a stream. */
export function arrayStream(m: MetricData): MetricStream {
  const { dataPoints, ...header } = m;
  let at = 0;
  return {
    header,
    take: (max: number): StorePoint[] => {
      const out = (dataPoints as StorePoint[]).slice(at, Math.min(dataPoints.length, at + max));
      at += out.length;
      return out;
    },
  };
}

/**
 * One snapshot's points, built family by family on demand (take): each family keeps a
 * cursor (slot, label value), so an export can build one request's points, send them,
 * and only then build the next. The points and their order are those of one pass over
 * all families (catalog order), each over the slots in order.
 */
class Conversion {
  readonly slots: number;
  private readonly stride: number;
  /** Each family's columns in this snapshot, looked up once. */
  private readonly columns: readonly FamilyColumns[];
  /** Per family: the next slot to build, and the next label value within it. */
  private readonly nextSlot: number[] = METRIC_FAMILIES.map(() => 0);
  private readonly nextLabel: number[] = METRIC_FAMILIES.map(() => 0);

  constructor(
    private readonly snap: StoreSnapshot,
    private readonly endTime: HrTime,
    private readonly attrs: readonly (Readonly<Record<string, string>> | undefined)[],
    private readonly starts: readonly (HrTime | undefined)[],
    private readonly cache: SlotCache,
    private readonly boundaries: number[],
    /** Send histograms that have an exponential counterpart as ExponentialHistograms. */
    exponential: boolean,
    /** The source, for the delta hooks (pointStartTimeMs, pointsBuilt). */
    private readonly source: OtelStoreSource,
  ) {
    this.slots = snap.highWater;
    this.stride = snap.buckets.length + 1;
    this.columns = METRIC_FAMILIES.map((f) => familyColumns(snap, f, exponential));
  }

  /** Family `fi`'s metric without its points. */
  header(fi: number, temporality: AggregationTemporality): MetricHeader {
    const descriptor = DESCRIPTORS[fi];
    // Sums and histograms carry the configured temporality; gauges are always CUMULATIVE
    // (the OTLP field is unused for them).
    switch (METRIC_FAMILIES[fi].type) {
      case 'counter':
        return { descriptor, aggregationTemporality: temporality, dataPointType: DataPointType.SUM, isMonotonic: true };
      case 'gauge':
        return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE };
      case 'histogram':
        return {
          descriptor,
          aggregationTemporality: temporality,
          dataPointType: this.columns[fi].type === 'exponential-histogram' ? DataPointType.EXPONENTIAL_HISTOGRAM : DataPointType.HISTOGRAM,
        };
    }
  }

  /** The start time of a point: the slot's, unless a delta source says otherwise for this family. */
  private startOf(fi: number, v: number, s: number): HrTime {
    const src = this.source;
    if (src.pointStartTimeMs === undefined) return this.starts[s]!;
    return this.cache.startTime(s, src.pointStartTimeMs(fi, v, s));
  }

  /** Build the next min(max, remaining) points of family `fi`, from its cursor on. */
  take(fi: number, max: number): StorePoint[] {
    const out: StorePoint[] = [];
    const { snap, endTime, cache, boundaries, stride } = this;
    const kind = snap.kind;
    const fam = METRIC_FAMILIES[fi];
    const c = this.columns[fi];
    let s = this.nextSlot[fi];
    let v0 = this.nextLabel[fi];
    for (; s < this.slots && out.length < max; s++, v0 = 0) {
      const attributes = this.attrs[s];
      if (attributes === undefined) continue; // empty slot
      const k = kind[s];
      if (fam.kindMask[k] !== 1) continue;
      if (c.type === 'value') {
        const value = c.values[s];
        // OTLP/JSON cannot encode NaN: a gauge without a value yet (last RTT) has no point.
        if (fam.type === 'gauge' && value !== value) continue;
        out.push({ startTime: this.startOf(fi, 0, s), endTime, attributes, value });
      } else if (c.type === 'histogram') {
        out.push({ startTime: this.startOf(fi, 0, s), endTime, attributes, value: histogram(boundaries, c.buckets, s * stride, stride, c.sum[s]) });
      } else if (c.type === 'exponential-histogram') {
        out.push({ startTime: this.startOf(fi, 0, s), endTime, attributes, value: exponentialHistogramValue(c.native, s, c.sum[s]) });
      } else {
        // Labelled: one point per label value present; the request may end inside a slot.
        const keep = fam.label!.always[k];
        const values = c.type === 'labelled-value' ? c.values.length : c.buckets.length;
        let v = v0;
        for (; v < values && out.length < max; v++) {
          if (c.type === 'labelled-value') {
            const col = c.values[v];
            const value = col === undefined ? 0 : col[s];
            if (value === 0 && keep[v] === 0) continue;
            out.push({ startTime: this.startOf(fi, v, s), endTime, attributes: cache.withLabel(s, attributes, fam, v), value });
          } else {
            const rows = c.buckets[v];
            if (keep[v] === 0 && !rowHasCounts(rows, s * stride, stride)) continue;
            const sums = c.sum[v];
            const value = histogram(boundaries, rows, s * stride, stride, sums === undefined ? 0 : sums[s]);
            out.push({ startTime: this.startOf(fi, v, s), endTime, attributes: cache.withLabel(s, attributes, fam, v), value });
          }
        }
        if (v < values) {
          // Full in the middle of this slot's label values: resume here next time.
          this.nextSlot[fi] = s;
          this.nextLabel[fi] = v;
          this.source.pointsBuilt?.(fi, s, v);
          return out;
        }
      }
    }
    this.nextSlot[fi] = s;
    this.nextLabel[fi] = 0;
    this.source.pointsBuilt?.(fi, s, 0);
    return out;
  }
}

/** A family's columns in one snapshot, by shape. */
type FamilyColumns =
  | { type: 'value'; values: Float64Array }
  | { type: 'labelled-value'; values: readonly (Float64Array | undefined)[] }
  | { type: 'histogram'; buckets: Float64Array; sum: Float64Array }
  /** The store's exponential histograms; the sum is the classic histogram's (the same observations). */
  | { type: 'exponential-histogram'; native: ExpHistogramColumnsView; sum: Float64Array }
  | { type: 'labelled-histogram'; buckets: readonly (Float64Array | undefined)[]; sum: readonly (Float64Array | undefined)[] };

function familyColumns(snap: StoreSnapshot, f: MetricFamily, exponential: boolean): FamilyColumns {
  if (f.type !== 'histogram')
    return f.label === undefined ? { type: 'value', values: snapshotValues(snap, f) } : { type: 'labelled-value', values: snapshotLabelledValues(snap, f) };
  // The catalog keeps exponential histograms for unlabelled families only (the RTT).
  if (exponential && f.native !== undefined && f.label === undefined) {
    return { type: 'exponential-histogram', native: snapshotNativeHistogram(snap, f)!, sum: snapshotHistogram(snap, f).sum };
  }
  return f.label === undefined ? { type: 'histogram', ...snapshotHistogram(snap, f) } : { type: 'labelled-histogram', ...snapshotLabelledHistogram(snap, f) };
}

/**
 * One explicit-bucket histogram value from a store row. The store's rows are
 * already per-bucket (non-cumulative) counts with the overflow column last,
 * exactly OTLP's bucket_counts layout. `counts` undefined = all zero.
 */
function histogram(boundaries: number[], counts: Float64Array | undefined, base: number, stride: number, sum: number): Histogram {
  const c = new Array<number>(stride);
  let count = 0;
  for (let b = 0; b < stride; b++) {
    const v = counts === undefined ? 0 : counts[base + b];
    c[b] = v;
    count += v;
  }
  return { buckets: { boundaries, counts: c }, sum, count };
}

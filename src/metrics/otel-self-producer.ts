/**
 * fleetprobe's own health over OTLP: a sdk-metrics MetricProducer that reads the
 * prom-client registry behind /metrics (the fleetprobe_* self metrics, the
 * responder's, and prom-client's process_* / nodejs_* defaults) at collection time
 * and converts each family. Nothing is recorded twice; like /metrics, the registry
 * is read when asked. A few hundred series: converted in one pass.
 *
 * Conversion (the Prometheus → OTLP direction of the OpenTelemetry
 * "Prometheus and OpenMetrics compatibility" specification):
 *
 *   Prometheus type            OTLP                       name
 *   counter                    Sum, monotonic             the family name without `_total`
 *   gauge                      Gauge                      the family name
 *   histogram                  Histogram (explicit)       the family name; bounds = the `le`s
 *   summary                    Histogram, no bounds       the family name; its _sum and _count
 *                              (one bucket = _count)      (quantiles are dropped: OTLP has no
 *                                                          place for them in the SDK's data model)
 *
 *   unit from the name's suffix (after `_total` is dropped): `_seconds` → `s`,
 *   `_bytes` → `By`, `_ratio` → `1`, otherwise none. Labels become attributes.
 *
 * Names keep their underscores and their unit suffix, so the standard OTLP →
 * Prometheus translation (a collector's prometheus exporter, Prometheus' own OTLP
 * receiver) lands on exactly the /metrics names again: it appends the unit's suffix
 * only when the name lacks it, and `_total` to monotonic sums
 * (fleetprobe_worker_restarts + Sum → fleetprobe_worker_restarts_total).
 *
 * Left out: nodejs_eventloop_lag_* . prom-client computes them in the collect()
 * of one of them, which also RESETS the event-loop delay histogram they are read
 * from; reading them here would make the /metrics values cover only the time since
 * the last OTLP export. (The worker threads' own loop lag is exported.)
 *
 * Temporality: cumulative sums and histograms start at the process start time
 * (every self counter counts from there). With delta, the previous export's value
 * of each series is kept in a Map by series key (a few hundred entries, rebuilt at
 * every collection so series that vanish are forgotten); a value that went down
 * starts over from zero.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type DataPoint,
  type Histogram,
  type MetricData,
  type MetricProducer,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { msToHrTime } from './otel-producer.js';

/** What prom-client's metric.get() returns (the fields read here). */
interface PromFamily {
  name: string;
  help: string;
  type: string;
  values: { value: number; labels: Record<string, string | number | undefined>; metricName?: string }[];
}
interface PromMetric {
  readonly name: string;
  get(): PromFamily | Promise<PromFamily>;
}
/** The registry call used here; a prom-client Registry fits. */
export interface PromRegistrySource {
  getMetricsAsArray(): readonly unknown[];
}

/** Families not exported over OTLP, and why: see the file header. */
export const SELF_METRICS_LEFT_OUT = /^nodejs_eventloop_lag(_|$)/;

export const SELF_SCOPE_NAME = 'fleetprobe.self';

const UNIT_SUFFIXES: readonly [string, string][] = [
  ['_seconds', 's'],
  ['_bytes', 'By'],
  ['_ratio', '1'],
];

/** The OTLP name and unit of a Prometheus family (see the file header). */
export function otelNameOf(promName: string, type: string): { name: string; unit: string } {
  const name = type === 'counter' && promName.endsWith('_total') ? promName.slice(0, -'_total'.length) : promName;
  const unit = UNIT_SUFFIXES.find(([suffix]) => name.endsWith(suffix))?.[1] ?? '';
  return { name, unit };
}

export interface RegistryMetricProducerOptions {
  scopeName?: string;
  scopeVersion?: string;
  /** Sums and histograms (default CUMULATIVE). */
  temporality?: AggregationTemporality;
  /** Start of every cumulative series, epoch ms (default: the process start). */
  startTimeMs?: number;
  /** Wall clock, epoch ms (default Date.now). */
  now?: () => number;
}

interface PrevHistogram {
  counts: number[];
  sum: number;
  count: number;
}

export class RegistryMetricProducer implements MetricProducer {
  private readonly scope: { name: string; version?: string };
  private readonly temporality: AggregationTemporality;
  private readonly processStart: HrTime;
  private readonly now: () => number;
  /** Delta only: each series' value at the previous collection. */
  private prev = new Map<string, number | PrevHistogram>();
  private prevTime: HrTime | undefined;

  constructor(
    private readonly registry: PromRegistrySource,
    opts: RegistryMetricProducerOptions = {},
  ) {
    const name = opts.scopeName ?? SELF_SCOPE_NAME;
    this.scope = opts.scopeVersion === undefined ? { name } : { name, version: opts.scopeVersion };
    this.temporality = opts.temporality ?? AggregationTemporality.CUMULATIVE;
    this.processStart = msToHrTime(opts.startTimeMs ?? performance.timeOrigin);
    this.now = opts.now ?? Date.now;
  }

  async collect(): Promise<CollectionResult> {
    const errors: unknown[] = [];
    const families: PromFamily[] = [];
    for (const m of this.registry.getMetricsAsArray() as PromMetric[]) {
      if (SELF_METRICS_LEFT_OUT.test(m.name)) continue;
      try {
        families.push(await m.get());
      } catch (err) {
        errors.push(err);
      }
    }
    const endTime = msToHrTime(this.now());
    const conv = new SelfConversion(this.temporality, this.processStart, this.prevTime, this.prev, endTime);
    const metrics: MetricData[] = [];
    for (const f of families) {
      const m = conv.family(f);
      if (m !== undefined) metrics.push(m);
    }
    if (this.temporality === AggregationTemporality.DELTA) {
      this.prev = conv.next;
      this.prevTime = endTime;
    }
    const scopeMetrics: ScopeMetrics[] = metrics.length === 0 ? [] : [{ scope: this.scope, metrics }];
    return { resourceMetrics: { resource: emptyResource(), scopeMetrics }, errors };
  }
}

/** One collection's conversion; `next` holds the values the following delta is taken from. */
class SelfConversion {
  readonly next = new Map<string, number | PrevHistogram>();
  private readonly delta: boolean;

  constructor(
    private readonly temporality: AggregationTemporality,
    private readonly processStart: HrTime,
    private readonly prevTime: HrTime | undefined,
    private readonly prev: ReadonlyMap<string, number | PrevHistogram>,
    private readonly endTime: HrTime,
  ) {
    this.delta = temporality === AggregationTemporality.DELTA;
  }

  family(f: PromFamily): MetricData | undefined {
    const { name, unit } = otelNameOf(f.name, f.type);
    const descriptor = { name, unit, description: f.help, valueType: ValueType.DOUBLE };
    const aggregationTemporality = this.temporality;
    switch (f.type) {
      case 'counter': {
        const dataPoints = f.values.filter((v) => Number.isFinite(v.value)).map((v) => this.sumPoint(f.name, v.labels, v.value));
        return dataPoints.length === 0 ? undefined : { descriptor, aggregationTemporality, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints };
      }
      case 'gauge': {
        // OTLP/JSON cannot carry NaN or ±Inf; a gauge without a value is left out.
        const dataPoints = f.values
          .filter((v) => Number.isFinite(v.value))
          .map((v): DataPoint<number> => ({ startTime: this.endTime, endTime: this.endTime, attributes: attributesOf(v.labels), value: v.value }));
        return dataPoints.length === 0
          ? undefined
          : { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints };
      }
      case 'histogram':
      case 'summary': {
        const dataPoints = groupHistogram(f).map((h) => this.histogramPoint(f.name, h));
        return dataPoints.length === 0 ? undefined : { descriptor, aggregationTemporality, dataPointType: DataPointType.HISTOGRAM, dataPoints };
      }
      default:
        return undefined;
    }
  }

  private sumPoint(family: string, labels: PromFamily['values'][number]['labels'], value: number): DataPoint<number> {
    const attributes = attributesOf(labels);
    if (!this.delta) return { startTime: this.processStart, endTime: this.endTime, attributes, value };
    const key = seriesKey(family, attributes);
    this.next.set(key, value);
    const before = this.prev.get(key);
    if (typeof before === 'number' && before <= value && this.prevTime !== undefined) {
      return { startTime: this.prevTime, endTime: this.endTime, attributes, value: value - before };
    }
    // New series (counted since the process start) or one that went down (starts over).
    return {
      startTime: typeof before === 'number' && this.prevTime !== undefined ? this.prevTime : this.processStart,
      endTime: this.endTime,
      attributes,
      value,
    };
  }

  private histogramPoint(family: string, h: GroupedHistogram): DataPoint<Histogram> {
    const attributes = h.attributes;
    const whole: Histogram = { buckets: { boundaries: h.boundaries, counts: h.counts }, sum: h.sum, count: h.count };
    if (!this.delta) return { startTime: this.processStart, endTime: this.endTime, attributes, value: whole };
    const key = seriesKey(family, attributes);
    this.next.set(key, { counts: h.counts, sum: h.sum, count: h.count });
    const before = this.prev.get(key);
    const carriesOn =
      typeof before === 'object' &&
      this.prevTime !== undefined &&
      before.counts.length === h.counts.length &&
      before.count <= h.count &&
      before.counts.every((c, i) => c <= h.counts[i]);
    if (!carriesOn) {
      return {
        startTime: typeof before === 'object' && this.prevTime !== undefined ? this.prevTime : this.processStart,
        endTime: this.endTime,
        attributes,
        value: whole,
      };
    }
    const counts = h.counts.map((c, i) => c - before.counts[i]);
    return {
      startTime: this.prevTime,
      endTime: this.endTime,
      attributes,
      value: { buckets: { boundaries: h.boundaries, counts }, sum: h.sum - before.sum, count: h.count - before.count },
    };
  }
}

interface GroupedHistogram {
  attributes: Attributes;
  boundaries: number[];
  /** Per bucket (not cumulative); the last one is above the last boundary. */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * Gather a histogram's (or summary's) _bucket / _sum / _count samples by label set
 * and turn the cumulative `le` buckets into per-bucket counts (OTLP's layout).
 */
function groupHistogram(f: PromFamily): GroupedHistogram[] {
  const groups = new Map<string, { attributes: Attributes; buckets: [number, number][]; sum: number; count: number }>();
  for (const v of f.values) {
    const le = v.labels.le;
    // `le` says which bucket; `quantile` marks a summary's quantiles, which are dropped.
    const attributes = attributesOf(v.labels, ['le', 'quantile']);
    const key = seriesKey('', attributes);
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { attributes, buckets: [], sum: 0, count: 0 }));
    const which = v.metricName ?? f.name;
    if (which.endsWith('_bucket') && le !== undefined) {
      const bound = le === '+Inf' ? Infinity : Number(le);
      if (!Number.isNaN(bound)) g.buckets.push([bound, v.value]);
    } else if (which === `${f.name}_sum`) g.sum = v.value;
    else if (which === `${f.name}_count`) g.count = v.value;
  }
  const out: GroupedHistogram[] = [];
  for (const g of groups.values()) {
    g.buckets.sort((a, b) => a[0] - b[0]);
    const boundaries = g.buckets.filter(([b]) => b !== Infinity).map(([b]) => b);
    const counts: number[] = [];
    let below = 0;
    for (const [b, cumulative] of g.buckets) {
      if (b === Infinity) continue;
      counts.push(Math.max(0, cumulative - below));
      below = cumulative;
    }
    counts.push(Math.max(0, g.count - below));
    out.push({ attributes: g.attributes, boundaries, counts, sum: g.sum, count: g.count });
  }
  return out;
}

function attributesOf(labels: Record<string, string | number | undefined>, except: readonly string[] = []): Attributes {
  const out: Attributes = {};
  for (const k of Object.keys(labels)) {
    const v = labels[k];
    if (except.includes(k)) continue;
    if (v !== undefined) out[k] = String(v);
  }
  return out;
}

function seriesKey(family: string, attributes: Attributes): string {
  let key = family;
  for (const k of Object.keys(attributes).sort()) key += `\u0000${k}\u0001${String(attributes[k])}`;
  return key;
}

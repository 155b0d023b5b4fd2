/**
 * The per-target store as OpenTelemetry metric data: a sdk-metrics
 * MetricProducer that converts one StoreSnapshot into ScopeMetrics at
 * collection time (the reader's export tick). Nothing is recorded into OTel
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
 * Names are chosen so that the OTLP→Prometheus translation (dots to
 * underscores, unit suffix, `_total` on monotonic sums, `{…}` units dropped,
 * unit `1` on a gauge → `_ratio`) lands on exactly the native /metrics names:
 *
 *   OTel name                     unit         type              Prometheus family
 *   fleetprobe.probe.sent         {probe}      Sum (monotonic)   fleetprobe_probe_sent_total
 *   fleetprobe.probe.received     {probe}      Sum (monotonic)   fleetprobe_probe_received_total
 *   fleetprobe.probe.timeouts     {probe}      Sum (monotonic)   fleetprobe_probe_timeouts_total
 *   fleetprobe.probe.duplicates   {reply}      Sum (monotonic)   fleetprobe_probe_duplicates_total
 *   fleetprobe.probe.late         {reply}      Sum (monotonic)   fleetprobe_probe_late_total
 *   fleetprobe.probe.errors       {probe}      Sum (monotonic)   fleetprobe_probe_errors_total      +reason
 *   fleetprobe.probe.rtt          s            Histogram         fleetprobe_probe_rtt_seconds
 *   fleetprobe.probe.last_rtt     s            Gauge             fleetprobe_probe_last_rtt_seconds
 *   fleetprobe.probe.loss_ratio   1            Gauge             fleetprobe_probe_loss_ratio
 *   fleetprobe.connects           {connection} Sum (monotonic)   fleetprobe_connects_total          tcp_echo
 *   fleetprobe.connected          {connection} Gauge             fleetprobe_connected               tcp_echo
 *   fleetprobe.http.phase         s            Histogram         fleetprobe_http_phase_seconds      http, +phase
 *   fleetprobe.http.status_code   {code}       Gauge             fleetprobe_http_status_code        http
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
  type Histogram,
  type MetricData,
  type MetricDescriptor,
  type MetricProducer,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import { emptyResource } from '@opentelemetry/resources';
import type { StoreSnapshot } from '../aggregate/store.js';
import { ERROR_REASON_NAMES, HTTP_PHASE_NAMES } from '../protocol/events.js';
import { PER_TARGET_FAMILIES } from './exposition.js';
import { KIND_HTTP, KIND_TCP_ECHO, ZERO_REASON_MASK } from './per-target-series.js';

/** What the producer reads; a TargetStore fits. */
export interface OtelStoreSource {
  snapshot(): StoreSnapshot;
  slotAttributes(slot: number): Readonly<Record<string, string>> | undefined;
  slotStartTimeMs(slot: number): number;
}

interface Family {
  readonly descriptor: MetricDescriptor;
  readonly prometheus: string;
}
function fam(name: string, unit: string, valueType: ValueType, description: string, prometheus: string): Family {
  return { descriptor: { name, unit, valueType, description }, prometheus };
}
const P = PER_TARGET_FAMILIES;
const INT = ValueType.INT;
const DOUBLE = ValueType.DOUBLE;

/** Every per-target OTel metric, with the Prometheus family it mirrors. */
export const OTEL_FAMILIES = {
  sent: fam('fleetprobe.probe.sent', '{probe}', INT, 'Probes sent.', P.sent),
  received: fam('fleetprobe.probe.received', '{probe}', INT, 'Probes answered in time.', P.received),
  timeouts: fam('fleetprobe.probe.timeouts', '{probe}', INT, 'Probes not answered within the timeout.', P.timeouts),
  duplicates: fam('fleetprobe.probe.duplicates', '{reply}', INT, 'Extra replies to probes already answered.', P.duplicates),
  late: fam('fleetprobe.probe.late', '{reply}', INT, 'Replies that arrived after their probe had timed out.', P.late),
  errors: fam('fleetprobe.probe.errors', '{probe}', INT, 'Probes that failed, by reason (failures count as lost).', P.errors),
  rtt: fam('fleetprobe.probe.rtt', 's', DOUBLE, 'Round-trip time of answered probes.', P.rtt),
  lastRtt: fam('fleetprobe.probe.last_rtt', 's', DOUBLE, 'Round-trip time of the latest answered probe (absent before the first reply).', P.lastRtt),
  lossRatio: fam('fleetprobe.probe.loss_ratio', '1', DOUBLE, 'Share of the last completed probes (loss window) that were lost: timed out or failed.', P.lossRatio),
  connects: fam('fleetprobe.connects', '{connection}', INT, 'Connections established to a tcp_echo target.', P.connects),
  connected: fam('fleetprobe.connected', '{connection}', INT, 'Whether the tcp_echo connection is up (1) or down (0).', P.connected),
  httpPhase: fam('fleetprobe.http.phase', 's', DOUBLE, 'Duration of each phase of an HTTP probe.', P.httpPhase),
  httpStatus: fam('fleetprobe.http.status_code', '{code}', INT, 'Status code of the latest completed HTTP probe (0 before the first response).', P.httpStatus),
} as const satisfies Record<keyof typeof PER_TARGET_FAMILIES, Family>;

export const DEFAULT_SCOPE_NAME = 'fleetprobe';

/** Epoch milliseconds → OTel HrTime [seconds, nanoseconds]. */
export function msToHrTime(ms: number): HrTime {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

/** Attribute objects derived from one slot's base attributes (+reason, +phase), kept until the base changes. */
interface SlotDerived {
  base: Readonly<Record<string, string>>;
  byReason: (Attributes | undefined)[];
  byPhase: (Attributes | undefined)[];
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
    if (d === undefined || d.base !== base) this.derived[slot] = d = { base, byReason: [], byPhase: [] };
    return d;
  }

  withReason(slot: number, base: Readonly<Record<string, string>>, reason: number): Attributes {
    const d = this.slotDerived(slot, base);
    return (d.byReason[reason] ??= { ...base, reason: ERROR_REASON_NAMES[reason] });
  }

  withPhase(slot: number, base: Readonly<Record<string, string>>, phase: number): Attributes {
    const d = this.slotDerived(slot, base);
    return (d.byPhase[phase] ??= { ...base, phase: HTTP_PHASE_NAMES[phase] });
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
  private boundariesFor: Float64Array | undefined;
  private boundaries: number[] = [];

  constructor(
    private readonly store: OtelStoreSource,
    opts: StoreMetricProducerOptions = {},
  ) {
    this.scope = opts.scopeVersion === undefined ? { name: opts.scopeName ?? DEFAULT_SCOPE_NAME } : { name: opts.scopeName ?? DEFAULT_SCOPE_NAME, version: opts.scopeVersion };
    this.now = opts.now ?? Date.now;
    this.sliceSlots = Math.max(1, opts.sliceSlots ?? DEFAULT_SLICE_SLOTS);
    this.temporality = opts.temporality ?? AggregationTemporality.CUMULATIVE;
  }

  /** Snapshot now, convert in slices with event-loop yields in between. */
  async collect(): Promise<CollectionResult> {
    try {
      const conv = this.begin();
      for (let from = 0; from < conv.slots; from += this.sliceSlots) {
        if (from > 0) await yieldToLoop();
        conv.add(from, Math.min(conv.slots, from + this.sliceSlots));
      }
      return { resourceMetrics: { resource: emptyResource(), scopeMetrics: this.wrap(conv.finish()) }, errors: [] };
    } catch (err) {
      return { resourceMetrics: { resource: emptyResource(), scopeMetrics: [] }, errors: [err] };
    }
  }

  /**
   * The same conversion in one synchronous pass: one ScopeMetrics holding
   * every metric that has at least one point, or [] when no target is defined.
   */
  collectScopeMetrics(): ScopeMetrics[] {
    const conv = this.begin();
    conv.add(0, conv.slots);
    return this.wrap(conv.finish());
  }

  private wrap(metrics: MetricData[]): ScopeMetrics[] {
    return metrics.length === 0 ? [] : [{ scope: this.scope, metrics }];
  }

  /**
   * Take the snapshot and, in the same tick, every slot's attributes and
   * start time, so a conversion spread over several ticks still describes one
   * instant even if targets are redefined meanwhile.
   */
  private begin(): Conversion {
    const snap = this.store.snapshot();
    const n = snap.highWater;
    const attrs: (Readonly<Record<string, string>> | undefined)[] = new Array(n);
    const starts: (HrTime | undefined)[] = new Array(n);
    for (let s = 0; s < n; s++) {
      if (snap.defined[s] !== 1) continue;
      const a = this.store.slotAttributes(s);
      attrs[s] = a;
      if (a !== undefined) starts[s] = this.cache.startTime(s, this.store.slotStartTimeMs(s));
    }
    return new Conversion(snap, msToHrTime(this.now()), attrs, starts, this.cache, this.histogramBounds(snap.buckets), this.temporality);
  }

  private histogramBounds(buckets: Float64Array): number[] {
    if (this.boundariesFor !== buckets) {
      this.boundariesFor = buckets;
      this.boundaries = Array.from(buckets);
    }
    return this.boundaries;
  }
}

/** One export's worth of point lists, filled slot range by slot range. */
class Conversion {
  readonly slots: number;
  private readonly stride: number;
  private readonly sent: DataPoint<number>[] = [];
  private readonly received: DataPoint<number>[] = [];
  private readonly timeouts: DataPoint<number>[] = [];
  private readonly duplicates: DataPoint<number>[] = [];
  private readonly late: DataPoint<number>[] = [];
  private readonly errors: DataPoint<number>[] = [];
  private readonly rtt: DataPoint<Histogram>[] = [];
  private readonly lastRtt: DataPoint<number>[] = [];
  private readonly loss: DataPoint<number>[] = [];
  private readonly connects: DataPoint<number>[] = [];
  private readonly connected: DataPoint<number>[] = [];
  private readonly phase: DataPoint<Histogram>[] = [];
  private readonly status: DataPoint<number>[] = [];

  constructor(
    private readonly snap: StoreSnapshot,
    private readonly endTime: HrTime,
    private readonly attrs: readonly (Readonly<Record<string, string>> | undefined)[],
    private readonly starts: readonly (HrTime | undefined)[],
    private readonly cache: SlotCache,
    private readonly boundaries: number[],
    private readonly temporality: AggregationTemporality,
  ) {
    this.slots = snap.highWater;
    this.stride = snap.buckets.length + 1;
  }

  /** Append the points of slots [from, to). */
  add(from: number, to: number): void {
    const { snap, endTime, cache, boundaries, stride } = this;
    const kind = snap.kind;
    const nr = ERROR_REASON_NAMES.length;
    const np = HTTP_PHASE_NAMES.length;
    for (let s = from; s < to; s++) {
      const attributes = this.attrs[s];
      if (attributes === undefined) continue; // empty slot
      const startTime = this.starts[s]!;
      this.sent.push({ startTime, endTime, attributes, value: snap.sent[s] });
      this.received.push({ startTime, endTime, attributes, value: snap.received[s] });
      this.timeouts.push({ startTime, endTime, attributes, value: snap.timeouts[s] });
      this.duplicates.push({ startTime, endTime, attributes, value: snap.duplicates[s] });
      this.late.push({ startTime, endTime, attributes, value: snap.late[s] });

      const mask = ZERO_REASON_MASK[kind[s]];
      for (let r = 0; r < nr; r++) {
        const col = snap.errors[r];
        const v = col === undefined ? 0 : col[s];
        if (v === 0 && mask[r] === 0) continue;
        this.errors.push({ startTime, endTime, attributes: cache.withReason(s, attributes, r), value: v });
      }

      this.rtt.push({ startTime, endTime, attributes, value: histogram(boundaries, snap.rttBuckets, s * stride, stride, snap.rttSum[s]) });
      const last = snap.lastRtt[s];
      if (last === last) this.lastRtt.push({ startTime, endTime, attributes, value: last });
      this.loss.push({ startTime, endTime, attributes, value: snap.lossRatio[s] });

      if (kind[s] === KIND_TCP_ECHO) {
        this.connects.push({ startTime, endTime, attributes, value: snap.connects[s] });
        this.connected.push({ startTime, endTime, attributes, value: snap.connected[s] });
      } else if (kind[s] === KIND_HTTP) {
        for (let p = 0; p < np; p++) {
          const ps = snap.phaseSum[p];
          const value = histogram(boundaries, snap.phaseBuckets[p], s * stride, stride, ps === undefined ? 0 : ps[s]);
          this.phase.push({ startTime, endTime, attributes: cache.withPhase(s, attributes, p), value });
        }
        this.status.push({ startTime, endTime, attributes, value: snap.httpStatus[s] });
      }
    }
  }

  /** The metrics that have points, in OTEL_FAMILIES order. */
  finish(): MetricData[] {
    const F = OTEL_FAMILIES;
    const out: MetricData[] = [];
    const CUMULATIVE = AggregationTemporality.CUMULATIVE;
    const temporality = this.temporality;
    const sum = (f: Family, dataPoints: DataPoint<number>[]): void => {
      if (dataPoints.length > 0) out.push({ descriptor: f.descriptor, aggregationTemporality: temporality, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints });
    };
    const gauge = (f: Family, dataPoints: DataPoint<number>[]): void => {
      if (dataPoints.length > 0) out.push({ descriptor: f.descriptor, aggregationTemporality: CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints });
    };
    const hist = (f: Family, dataPoints: DataPoint<Histogram>[]): void => {
      if (dataPoints.length > 0) out.push({ descriptor: f.descriptor, aggregationTemporality: temporality, dataPointType: DataPointType.HISTOGRAM, dataPoints });
    };
    sum(F.sent, this.sent);
    sum(F.received, this.received);
    sum(F.timeouts, this.timeouts);
    sum(F.duplicates, this.duplicates);
    sum(F.late, this.late);
    sum(F.errors, this.errors);
    hist(F.rtt, this.rtt);
    gauge(F.lastRtt, this.lastRtt);
    gauge(F.lossRatio, this.loss);
    sum(F.connects, this.connects);
    gauge(F.connected, this.connected);
    hist(F.httpPhase, this.phase);
    gauge(F.httpStatus, this.status);
    return out;
  }
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

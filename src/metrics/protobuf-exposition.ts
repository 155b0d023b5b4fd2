/**
 * The Prometheus protobuf exposition: a stream of length-delimited
 * io.prometheus.client.MetricFamily messages (content type PROTOBUF_CONTENT_TYPE),
 * what a Prometheus started with `--enable-feature=native-histograms` asks for
 * first. Its reason to exist here: the native (exponential) histograms, which the
 * text format cannot carry. Same families, same series and same values as the text
 * exposition (exposition.ts); families in the same order.
 *
 * fleetprobe_probe_rtt_seconds carries, per target, its native histogram (schema,
 * zero bucket, one positive span, count deltas: from the store's exponential
 * histogram, aggregate/exp-histogram.ts) and, unless metrics.classic_histograms is
 * off, the classic buckets too, in the same Histogram message (a scraper that
 * does not want native histograms reads those). The other histograms (HTTP phases)
 * are classic only.
 *
 * Field numbers are those of prometheus/client_model io/prometheus/client/metrics.proto.
 * One frame per family: a family's length must be known before its first byte, so
 * a family is built whole (at 100,000 targets the RTT family is ~30 MB) and handed
 * out as one Buffer; the families after it are built only when the consumer asks.
 */
import type { StoreSnapshot } from '../aggregate/store.js';
import { EMPTY, populatedCells, type ExpHistogramColumnsView } from '../aggregate/exp-histogram.js';
import { infoPairs, pairBytes, type InfoIndex } from '../aggregate/label-arena.js';
import { METRIC_FAMILIES, TARGET_INFO, type MetricFamily } from './catalog.js';
import { FIXED64, ProtoWriter, VARINT } from './proto-writer.js';
import {
  rowHasCounts,
  snapshotHistogram,
  snapshotLabelledHistogram,
  snapshotLabelledValues,
  snapshotNativeHistogram,
  snapshotValues,
} from './snapshot-columns.js';

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited';

/** MetricFamily.type values (metrics.proto MetricType). */
export const enum PbType {
  Counter = 0,
  Gauge = 1,
  Summary = 2,
  Untyped = 3,
  Histogram = 4,
}

// Field numbers (metrics.proto).
const MF_NAME = 1;
const MF_HELP = 2;
const MF_TYPE = 3;
const MF_METRIC = 4;
const M_GAUGE = 2;
const M_COUNTER = 3;
const M_SUMMARY = 4;
const M_UNTYPED = 5;
const M_HISTOGRAM = 7;
const VALUE = 1; // Gauge.value, Counter.value, Untyped.value
const H_COUNT = 1;
const H_SUM = 2;
const H_BUCKET = 3;
const H_SCHEMA = 5;
const H_ZERO_THRESHOLD = 6;
const H_ZERO_COUNT = 7;
const H_POSITIVE_SPAN = 12;
const H_POSITIVE_DELTA = 13;
const B_CUMULATIVE = 1;
const B_UPPER = 2;
const SPAN_OFFSET = 1;
const SPAN_LENGTH = 2;
const S_COUNT = 1;
const S_SUM = 2;
const S_QUANTILE = 3;
const Q_QUANTILE = 1;
const Q_VALUE = 2;

export interface ProtobufOptions {
  /** Write the classic buckets next to the native ones (metrics.classic_histograms). */
  classicHistograms: boolean;
}

/** Extra label pairs (reason="…", phase="…") as Metric.label bytes, per family. */
const EXTRA_PAIRS: ReadonlyMap<MetricFamily, Uint8Array[]> = new Map(
  METRIC_FAMILIES.filter((f) => f.label !== undefined).map((f) => [f, f.label!.values.map((v) => pairBytes(f.label!.name, v))]),
);

function pbType(f: MetricFamily): PbType {
  return f.type === 'counter' ? PbType.Counter : f.type === 'gauge' ? PbType.Gauge : PbType.Histogram;
}

function familyHeader(w: ProtoWriter, name: string, help: string, type: PbType): number {
  const frame = w.beginFrame();
  w.string(MF_NAME, name);
  w.string(MF_HELP, help);
  w.tag(MF_TYPE, VARINT);
  w.varint(type);
  return frame;
}

type LabelBytes = StoreSnapshot['labels'];

/** A counter or gauge Metric: the slot's label pairs, an extra pair, the value. */
function valueMetric(w: ProtoWriter, labels: LabelBytes, slot: number, extra: Uint8Array | undefined, field: number, v: number): void {
  const m = w.begin(MF_METRIC);
  w.copyFrom(labels.bytes, labels.start[slot] + labels.textLen[slot], labels.pbLen[slot]);
  if (extra !== undefined) w.raw(extra);
  const inner = w.begin(field);
  w.tag(VALUE, FIXED64);
  w.double(v);
  w.end(inner);
  w.end(m);
}

/**
 * A Histogram message body: count, sum, the classic buckets (cumulative, bounds
 * only: +Inf is the count), then the native part when `native` is given.
 */
function histogramBody(
  w: ProtoWriter,
  bounds: Float64Array,
  counts: Float64Array | undefined,
  base: number,
  sum: number,
  classic: boolean,
  native: ExpHistogramColumnsView | undefined,
  slot: number,
): void {
  const stride = bounds.length + 1;
  let total = 0;
  if (counts !== undefined) for (let b = 0; b < stride; b++) total += counts[base + b];
  w.tag(H_COUNT, VARINT);
  w.varint(total);
  w.tag(H_SUM, FIXED64);
  w.double(sum);
  if (classic) {
    let cum = 0;
    for (let b = 0; b < bounds.length; b++) {
      if (counts !== undefined) cum += counts[base + b];
      const m = w.begin(H_BUCKET);
      w.tag(B_CUMULATIVE, VARINT);
      w.varint(cum);
      w.tag(B_UPPER, FIXED64);
      w.double(bounds[b]);
      w.end(m);
    }
  }
  if (native === undefined) return;
  w.tag(H_SCHEMA, VARINT);
  w.svarint(native.schema[slot]);
  // Always written (and > 0): it is also what tells Prometheus this is a native histogram.
  w.tag(H_ZERO_THRESHOLD, FIXED64);
  w.double(native.zeroThreshold);
  const zero = native.zero[slot];
  if (zero !== 0) {
    w.tag(H_ZERO_COUNT, VARINT);
    w.varint(zero);
  }
  const range = native.first[slot] === EMPTY ? null : populatedCells(native, slot);
  if (range === null) return;
  // One span over the populated cells (zeros inside it are written as deltas: a window is small).
  const span = w.begin(H_POSITIVE_SPAN);
  w.tag(SPAN_OFFSET, VARINT);
  w.svarint(native.first[slot] + range.lo);
  w.tag(SPAN_LENGTH, VARINT);
  w.varint(range.hi - range.lo + 1);
  w.end(span);
  const deltas = w.begin(H_POSITIVE_DELTA); // packed sint64
  const cells = slot * native.window;
  let prev = 0;
  for (let c = range.lo; c <= range.hi; c++) {
    const v = native.counts[cells + c];
    w.svarint(v - prev);
    prev = v;
  }
  w.end(deltas);
}

/** One family as one delimited frame, or nothing when it has no series. */
function familyFrame(w: ProtoWriter, snap: StoreSnapshot, labels: LabelBytes, fam: MetricFamily, opts: ProtobufOptions): void {
  const n = snap.highWater;
  const { defined, kind } = snap;
  const mask = fam.kindMask;
  const frame = familyHeader(w, fam.prometheus, fam.help, pbType(fam));
  if (fam.type !== 'histogram') {
    const field = fam.type === 'counter' ? M_COUNTER : M_GAUGE;
    if (fam.label === undefined) {
      const col = snapshotValues(snap, fam);
      for (let s = 0; s < n; s++) if (defined[s] === 1 && mask[kind[s]] === 1) valueMetric(w, labels, s, undefined, field, col[s]);
    } else {
      // As the text: nonzero series, plus the kind's always-present ones at 0.
      const cols = snapshotLabelledValues(snap, fam);
      const always = fam.label.always;
      const extra = EXTRA_PAIRS.get(fam)!;
      for (let s = 0; s < n; s++) {
        if (defined[s] !== 1 || mask[kind[s]] !== 1) continue;
        const keep = always[kind[s]];
        for (let v = 0; v < cols.length; v++) {
          const col = cols[v];
          const x = col === undefined ? 0 : col[s];
          if (x === 0 && keep[v] === 0) continue;
          valueMetric(w, labels, s, extra[v], field, x);
        }
      }
    }
    w.end(frame);
    return;
  }
  const bounds = snap.buckets;
  const stride = bounds.length + 1;
  const { bytes, start, textLen, pbLen } = labels;
  if (fam.label === undefined) {
    const { buckets, sum } = snapshotHistogram(snap, fam);
    const native = snapshotNativeHistogram(snap, fam);
    // Without native buckets the classic ones are the histogram: never leave both out.
    const classic = opts.classicHistograms || native === undefined;
    for (let s = 0; s < n; s++) {
      if (defined[s] !== 1 || mask[kind[s]] !== 1) continue;
      const m = w.begin(MF_METRIC);
      w.copyFrom(bytes, start[s] + textLen[s], pbLen[s]);
      const h = w.begin(M_HISTOGRAM);
      histogramBody(w, bounds, buckets, s * stride, sum[s], classic, native, s);
      w.end(h);
      w.end(m);
    }
  } else {
    const { buckets, sum } = snapshotLabelledHistogram(snap, fam);
    const always = fam.label.always;
    const extra = EXTRA_PAIRS.get(fam)!;
    for (let s = 0; s < n; s++) {
      if (defined[s] !== 1 || mask[kind[s]] !== 1) continue;
      const keep = always[kind[s]];
      for (let v = 0; v < buckets.length; v++) {
        const b = buckets[v];
        if (keep[v] === 0 && !rowHasCounts(b, s * stride, stride)) continue;
        const vs = sum[v];
        const m = w.begin(MF_METRIC);
        w.copyFrom(bytes, start[s] + textLen[s], pbLen[s]);
        w.raw(extra[v]);
        const h = w.begin(M_HISTOGRAM);
        histogramBody(w, bounds, b, s * stride, vs === undefined ? 0 : vs[s], true, undefined, s);
        w.end(h);
        w.end(m);
      }
    }
  }
  w.end(frame);
}

/** fleetprobe_target_info (metrics.series_labels compact): per target its series labels, its info labels, 1. */
function targetInfoFrame(w: ProtoWriter, snap: StoreSnapshot, labels: LabelBytes, info: InfoIndex): void {
  const frame = familyHeader(w, TARGET_INFO.prometheus, TARGET_INFO.help, PbType.Gauge);
  for (let s = 0; s < snap.highWater; s++) if (snap.defined[s] === 1) valueMetric(w, labels, s, infoPairs(labels, info, s), M_GAUGE, 1);
  w.end(frame);
}

/**
 * The per-target families as delimited MetricFamily frames, one Buffer per family,
 * built as the consumer asks. The snapshot must have been taken with its exponential
 * histograms (the default of TargetStore.snapshot()).
 */
export function* protobufChunks(snap: StoreSnapshot, opts: ProtobufOptions): Generator<Buffer, void, undefined> {
  const w = new ProtoWriter();
  const labels = snap.labels;
  // As the text: first, and only when some target is defined.
  if (labels.info !== undefined && snap.kindCounts.some((c) => c > 0)) {
    targetInfoFrame(w, snap, labels, labels.info);
    yield w.take();
  }
  for (const fam of METRIC_FAMILIES) {
    let any = false;
    for (let k = 0; k < snap.kindCounts.length; k++) if (snap.kindCounts[k] > 0 && fam.kindMask[k] === 1) any = true;
    if (!any) continue;
    familyFrame(w, snap, labels, fam, opts);
    yield w.take();
  }
}

/** What prom-client's Registry.getMetricsAsJSON() gives (the part used here). */
export interface SelfMetricJson {
  name: string;
  help: string;
  type: string;
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

function labelPairsOf(w: ProtoWriter, labels: Record<string, string | number>, skip: string | undefined): void {
  for (const k of Object.keys(labels).sort()) {
    if (k === skip) continue;
    w.raw(pairBytes(k, String(labels[k])));
  }
}

/** A key for the label set of a series, `skip` (le, quantile) left out. */
function seriesKey(labels: Record<string, string | number>, skip: string): string {
  return JSON.stringify(
    Object.keys(labels)
      .filter((k) => k !== skip)
      .sort()
      .map((k) => [k, String(labels[k])]),
  );
}

/**
 * The self metrics (prom-client's registry as JSON) as delimited MetricFamily frames:
 * counters, gauges, classic histograms and summaries.
 */
export function selfMetricsProtobuf(metrics: readonly SelfMetricJson[]): Buffer {
  const w = new ProtoWriter(16 * 1024);
  for (const m of metrics) {
    if (m.type === 'counter' || m.type === 'gauge') {
      const frame = familyHeader(w, m.name, m.help, m.type === 'counter' ? PbType.Counter : PbType.Gauge);
      for (const v of m.values) {
        const mm = w.begin(MF_METRIC);
        labelPairsOf(w, v.labels, undefined);
        const inner = w.begin(m.type === 'counter' ? M_COUNTER : M_GAUGE);
        w.tag(VALUE, FIXED64);
        w.double(v.value);
        w.end(inner);
        w.end(mm);
      }
      w.end(frame);
    } else if (m.type === 'histogram' || m.type === 'summary') {
      const histogram = m.type === 'histogram';
      const skip = histogram ? 'le' : 'quantile';
      // Group the flat sample list into series: buckets/quantiles, _sum, _count per label set.
      const series = new Map<string, { labels: Record<string, string | number>; points: [number, number][]; sum: number; count: number }>();
      for (const v of m.values) {
        const key = seriesKey(v.labels, skip);
        let s = series.get(key);
        if (s === undefined) series.set(key, (s = { labels: v.labels, points: [], sum: 0, count: 0 }));
        if (v.metricName === `${m.name}_sum`) s.sum = v.value;
        else if (v.metricName === `${m.name}_count`) s.count = v.value;
        else if (v.labels[skip] !== undefined) {
          const at = v.labels[skip];
          const x = at === '+Inf' ? Infinity : Number(at);
          if (x !== Infinity) s.points.push([x, v.value]);
        }
      }
      const frame = familyHeader(w, m.name, m.help, histogram ? PbType.Histogram : PbType.Summary);
      for (const s of series.values()) {
        const mm = w.begin(MF_METRIC);
        labelPairsOf(w, s.labels, skip);
        const inner = w.begin(histogram ? M_HISTOGRAM : M_SUMMARY);
        w.tag(histogram ? H_COUNT : S_COUNT, VARINT);
        w.varint(s.count);
        w.tag(histogram ? H_SUM : S_SUM, FIXED64);
        w.double(s.sum);
        for (const [x, c] of s.points) {
          const b = w.begin(histogram ? H_BUCKET : S_QUANTILE);
          if (histogram) {
            w.tag(B_CUMULATIVE, VARINT);
            w.varint(c);
            w.tag(B_UPPER, FIXED64);
            w.double(x);
          } else {
            w.tag(Q_QUANTILE, FIXED64);
            w.double(x);
            w.tag(Q_VALUE, FIXED64);
            w.double(c);
          }
          w.end(b);
        }
        w.end(inner);
        w.end(mm);
      }
      w.end(frame);
    } else {
      const frame = familyHeader(w, m.name, m.help, PbType.Untyped);
      for (const v of m.values) {
        const mm = w.begin(MF_METRIC);
        labelPairsOf(w, v.labels, undefined);
        const inner = w.begin(M_UNTYPED);
        w.tag(VALUE, FIXED64);
        w.double(v.value);
        w.end(inner);
        w.end(mm);
      }
      w.end(frame);
    }
  }
  return w.take();
}

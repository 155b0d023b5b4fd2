/**
 * The protobuf exposition's per-target part as it was first written (commit e826c97,
 * src/metrics/protobuf-exposition.ts, on the same ProtoWriter, and the fleetprobe_target_info
 * frame of metrics.series_labels compact as f48e0b7 added it), kept here unchanged in its
 * logic as the reference the streaming writer must match byte for byte
 * (test/unit/protobuf-streaming.test.ts). Straightforward on purpose: each message is
 * built into one growing buffer and its length put in front when it ends.
 */
import type { StoreSnapshot } from '../../src/aggregate/store.js';
import { EMPTY, populatedCells, type ExpHistogramColumnsView } from '../../src/aggregate/exp-histogram.js';
import { infoPairs, pairBytes, type InfoIndex } from '../../src/aggregate/label-arena.js';
import { METRIC_FAMILIES, TARGET_INFO, type MetricFamily } from '../../src/metrics/catalog.js';
import {
  rowHasCounts,
  snapshotHistogram,
  snapshotLabelledHistogram,
  snapshotLabelledValues,
  snapshotNativeHistogram,
  snapshotValues,
} from '../../src/metrics/snapshot-columns.js';
// The writer itself is the one src/ still uses for the self metrics (unchanged since e826c97).
import { FIXED64, ProtoWriter, VARINT } from '../../src/metrics/proto-writer.js';

const enum PbType {
  Counter = 0,
  Gauge = 1,
  Histogram = 4,
}

// Field numbers (metrics.proto).
const MF_NAME = 1;
const MF_HELP = 2;
const MF_TYPE = 3;
const MF_METRIC = 4;
const M_GAUGE = 2;
const M_COUNTER = 3;
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

interface ProtobufOptions {
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

/**
 * The per-target families as delimited MetricFamily frames, one Buffer per family,
 * built as the consumer asks. The snapshot must have been taken with its exponential
 * histograms (the default of TargetStore.snapshot()).
 */
/** fleetprobe_target_info (metrics.series_labels compact): per target its series labels, its info labels, 1. */
function targetInfoFrame(w: ProtoWriter, snap: StoreSnapshot, labels: LabelBytes, info: InfoIndex): void {
  const frame = familyHeader(w, TARGET_INFO.prometheus, TARGET_INFO.help, PbType.Gauge);
  for (let s = 0; s < snap.highWater; s++) if (snap.defined[s] === 1) valueMetric(w, labels, s, infoPairs(labels, info, s), M_GAUGE, 1);
  w.end(frame);
}

export function* referenceProtobufChunks(snap: StoreSnapshot, opts: ProtobufOptions): Generator<Buffer, void, undefined> {
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

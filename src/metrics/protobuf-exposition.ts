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
 * each family is sized first (lengths only), then written once, in place, into
 * fixed-size chunks that go out as they fill (chunk-sink.ts, proto-wire.ts).
 */
import type { StoreSnapshot } from '../aggregate/store.js';
import { EMPTY, type ExpHistogramColumnsView } from '../aggregate/exp-histogram.js';
import { infoStart, pairBytes, type InfoIndex } from '../aggregate/label-arena.js';
import { METRIC_FAMILIES, TARGET_INFO, type MetricFamily } from './catalog.js';
import { ChunkSink } from './chunk-sink.js';
import { FIXED64, LEN, ProtoWriter, VARINT } from './proto-writer.js';
import { copyBytes, putBytes, putDouble, putVarint, varintSize, viewOf, zigzag } from './proto-wire.js';
import {
  familyHasSeries,
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
const EXTRA_PAIR_VIEWS: ReadonlyMap<MetricFamily, DataView[]> = new Map([...EXTRA_PAIRS].map(([f, pairs]) => [f, pairs.map(viewOf)]));

function pbType(f: MetricFamily): PbType {
  return f.type === 'counter' ? PbType.Counter : f.type === 'gauge' ? PbType.Gauge : PbType.Histogram;
}

/** A MetricFamily's name, help and type fields: what follows its frame length. */
function headerFields(name: string, help: string, type: PbType): Buffer {
  const w = new ProtoWriter(256);
  w.string(MF_NAME, name);
  w.string(MF_HELP, help);
  w.tag(MF_TYPE, VARINT);
  w.varint(type);
  return w.take();
}

/** Start a family's frame in `w` (self metrics): its length at end(), its header fields now. */
function familyHeader(w: ProtoWriter, name: string, help: string, type: PbType): number {
  const frame = w.beginFrame();
  w.raw(headerFields(name, help, type));
  return frame;
}

/** Each per-target family's header fields, encoded once. */
const FAMILY_HEADERS: ReadonlyMap<MetricFamily, Buffer> = new Map(METRIC_FAMILIES.map((f) => [f, headerFields(f.prometheus, f.help, pbType(f))]));

/** fleetprobe_target_info's header fields. */
const TARGET_INFO_HEADER = headerFields(TARGET_INFO.prometheus, TARGET_INFO.help, PbType.Gauge);

// Field keys (field number << 3 | wire type) as the bytes they are: every field used
// below has a number under 16, so its key is one byte.
const key = (field: number, wire: number): number => (field << 3) | wire;
const K_METRIC = key(MF_METRIC, LEN);
const K_COUNTER = key(M_COUNTER, LEN);
const K_GAUGE = key(M_GAUGE, LEN);
const K_HISTOGRAM = key(M_HISTOGRAM, LEN);
const K_VALUE = key(VALUE, FIXED64);
const K_COUNT = key(H_COUNT, VARINT);
const K_SUM = key(H_SUM, FIXED64);
const K_BUCKET = key(H_BUCKET, LEN);
const K_CUMULATIVE = key(B_CUMULATIVE, VARINT);
const K_UPPER = key(B_UPPER, FIXED64);
const K_SCHEMA = key(H_SCHEMA, VARINT);
const K_ZERO_THRESHOLD = key(H_ZERO_THRESHOLD, FIXED64);
const K_ZERO_COUNT = key(H_ZERO_COUNT, VARINT);
const K_POSITIVE_SPAN = key(H_POSITIVE_SPAN, LEN);
const K_POSITIVE_DELTA = key(H_POSITIVE_DELTA, LEN);
const K_SPAN_OFFSET = key(SPAN_OFFSET, VARINT);
const K_SPAN_LENGTH = key(SPAN_LENGTH, VARINT);

/** A Counter or Gauge message field after the labels: key, length 9, the value's key, the double. */
const VALUE_FIELD_BYTES = 11;
/** Most bytes a length prefix takes here (a length is under 2^35). */
const MAX_LENGTH_BYTES = 5;

/** Bytes of a length-delimited field (one-byte key) whose content is n bytes. */
const fieldSize = (n: number): number => 1 + varintSize(n) + n;

type LabelBytes = StoreSnapshot['labels'];

/** The first populated cell of a slot's native window, or -1 (populatedCells without its object). */
function firstCell(h: ExpHistogramColumnsView, base: number): number {
  for (let c = 0; c < h.window; c++) if (h.counts[base + c] !== 0) return c;
  return -1;
}

function lastCell(h: ExpHistogramColumnsView, base: number): number {
  let c = h.window - 1;
  while (h.counts[base + c] === 0) c--;
  return c;
}

function rowTotal(counts: Float64Array | undefined, base: number, stride: number): number {
  let total = 0;
  if (counts !== undefined) for (let b = 0; b < stride; b++) total += counts[base + b];
  return total;
}

/** Bytes of the native part of a Histogram message (what putNative writes). */
function nativeSize(h: ExpHistogramColumnsView, slot: number): number {
  let size = 1 + varintSize(zigzag(h.schema[slot])) + 9;
  const zero = h.zero[slot];
  if (zero !== 0) size += 1 + varintSize(zero);
  if (h.first[slot] === EMPTY) return size;
  const base = slot * h.window;
  const lo = firstCell(h, base);
  if (lo < 0) return size;
  const hi = lastCell(h, base);
  size += 2 + 1 + varintSize(zigzag(h.first[slot] + lo)) + 1 + varintSize(hi - lo + 1);
  let deltas = 0;
  let prev = 0;
  for (let c = lo; c <= hi; c++) {
    const v = h.counts[base + c];
    deltas += varintSize(zigzag(v - prev));
    prev = v;
  }
  return size + fieldSize(deltas);
}

/**
 * Bytes of a Histogram message's content (what putHistogram writes): count, sum, the
 * classic buckets (each a 1-byte key, a 1-byte length, the count's key and varint, the
 * bound's key and double), the native part.
 */
function histogramSize(
  bounds: Float64Array,
  counts: Float64Array | undefined,
  base: number,
  classic: boolean,
  native: ExpHistogramColumnsView | undefined,
  slot: number,
): number {
  let size = 1 + varintSize(rowTotal(counts, base, bounds.length + 1)) + 9;
  if (classic) {
    let cum = 0;
    for (let b = 0; b < bounds.length; b++) {
      if (counts !== undefined) cum += counts[base + b];
      size += 12 + varintSize(cum);
    }
  }
  return native === undefined ? size : size + nativeSize(native, slot);
}

/** The native part of a Histogram message: schema, zero threshold and count, one span, the count deltas. */
function putNative(buf: Uint8Array, view: DataView, p: number, h: ExpHistogramColumnsView, slot: number): number {
  buf[p++] = K_SCHEMA;
  p = putVarint(buf, p, zigzag(h.schema[slot]));
  // Always written (and > 0): it is also what tells Prometheus this is a native histogram.
  buf[p++] = K_ZERO_THRESHOLD;
  p = putDouble(view, p, h.zeroThreshold);
  const zero = h.zero[slot];
  if (zero !== 0) {
    buf[p++] = K_ZERO_COUNT;
    p = putVarint(buf, p, zero);
  }
  if (h.first[slot] === EMPTY) return p;
  const base = slot * h.window;
  const lo = firstCell(h, base);
  if (lo < 0) return p;
  const hi = lastCell(h, base);
  // One span over the populated cells (zeros inside it are written as deltas: a window is small).
  // Its content is under 20 bytes: its one-byte length is filled in after it.
  buf[p++] = K_POSITIVE_SPAN;
  const spanLen = p++;
  buf[p++] = K_SPAN_OFFSET;
  p = putVarint(buf, p, zigzag(h.first[slot] + lo));
  buf[p++] = K_SPAN_LENGTH;
  p = putVarint(buf, p, hi - lo + 1);
  buf[spanLen] = p - spanLen - 1;
  // Packed sint64 deltas: nearly always under 128 bytes (one byte each), so one byte is
  // reserved for the length and the deltas move right in the rare case they are longer.
  buf[p++] = K_POSITIVE_DELTA;
  const deltaLen = p++;
  let prev = 0;
  for (let c = lo; c <= hi; c++) {
    const v = h.counts[base + c];
    p = putVarint(buf, p, zigzag(v - prev));
    prev = v;
  }
  const n = p - deltaLen - 1;
  if (n < 0x80) {
    buf[deltaLen] = n;
    return p;
  }
  const extra = varintSize(n) - 1;
  buf.copyWithin(deltaLen + 1 + extra, deltaLen + 1, p);
  putVarint(buf, deltaLen, n);
  return p + extra;
}

/** A Histogram message's content (histogramSize bytes). */
function putHistogram(
  buf: Uint8Array,
  view: DataView,
  p: number,
  bounds: Float64Array,
  counts: Float64Array | undefined,
  base: number,
  sum: number,
  classic: boolean,
  native: ExpHistogramColumnsView | undefined,
  slot: number,
): number {
  buf[p++] = K_COUNT;
  p = putVarint(buf, p, rowTotal(counts, base, bounds.length + 1));
  buf[p++] = K_SUM;
  p = putDouble(view, p, sum);
  if (classic) {
    // Cumulative, bounds only (+Inf is the count). A bucket's content is under 20 bytes.
    let cum = 0;
    for (let b = 0; b < bounds.length; b++) {
      if (counts !== undefined) cum += counts[base + b];
      buf[p++] = K_BUCKET;
      const len = p++;
      buf[p++] = K_CUMULATIVE;
      p = putVarint(buf, p, cum);
      buf[p++] = K_UPPER;
      p = putDouble(view, p, bounds[b]);
      buf[len] = p - len - 1;
    }
  }
  return native === undefined ? p : putNative(buf, view, p, native, slot);
}

/** A family's frame length and header; `content` is every byte after the length. */
function* familyStart(sink: ChunkSink, header: Buffer, content: number): Generator<Buffer, void, undefined> {
  sink.room(MAX_LENGTH_BYTES + header.length);
  let p = putVarint(sink.buf, sink.pos, content);
  p = putBytes(sink.buf, p, header, 0, header.length);
  sink.pos = p;
  if (sink.full) yield* sink.cut();
}

/** Counters and gauges without an extra label: one Metric per slot of the family's kinds. */
function* valueFamily(sink: ChunkSink, snap: StoreSnapshot, labels: LabelBytes, fam: MetricFamily): Generator<Buffer, void, undefined> {
  const n = snap.highWater;
  const { defined, kind } = snap;
  const mask = fam.kindMask;
  const { bytes, start, textLen, pbLen } = labels;
  const bytesView = viewOf(bytes);
  const col = snapshotValues(snap, fam);
  let content = FAMILY_HEADERS.get(fam)!.length;
  for (let s = 0; s < n; s++) if (defined[s] === 1 && mask[kind[s]] === 1) content += fieldSize(pbLen[s] + VALUE_FIELD_BYTES);
  yield* familyStart(sink, FAMILY_HEADERS.get(fam)!, content);
  const field = fam.type === 'counter' ? K_COUNTER : K_GAUGE;
  const chunk = sink.chunkBytes;
  for (let s = 0; s < n; s++) {
    if (defined[s] !== 1 || mask[kind[s]] !== 1) continue;
    const ln = pbLen[s];
    const m = ln + VALUE_FIELD_BYTES;
    sink.room(1 + MAX_LENGTH_BYTES + m);
    const buf = sink.buf;
    let p = sink.pos;
    buf[p++] = K_METRIC;
    p = putVarint(buf, p, m);
    p = copyBytes(buf, sink.view, p, bytes, bytesView, start[s] + textLen[s], ln);
    buf[p++] = field;
    buf[p++] = 9;
    buf[p++] = K_VALUE;
    p = putDouble(sink.view, p, col[s]);
    sink.pos = p;
    if (p >= chunk) yield* sink.cut();
  }
}

/** Counters and gauges with an extra label: as the text, nonzero series plus the kind's always-present ones at 0. */
function* labelledValueFamily(sink: ChunkSink, snap: StoreSnapshot, labels: LabelBytes, fam: MetricFamily): Generator<Buffer, void, undefined> {
  const n = snap.highWater;
  const { defined, kind } = snap;
  const mask = fam.kindMask;
  const { bytes, start, textLen, pbLen } = labels;
  const bytesView = viewOf(bytes);
  const cols = snapshotLabelledValues(snap, fam);
  const always = fam.label!.always;
  const extra = EXTRA_PAIRS.get(fam)!;
  const extraViews = EXTRA_PAIR_VIEWS.get(fam)!;
  // Per kind, the values a slot of it may have a series for, in order: the kind's
  // always-present ones and those with a column (a never-recorded reason has none). A
  // slot then looks at 3-6 values instead of every reason, in both passes.
  const candidates = always.map((keep) => Int32Array.from(cols.keys()).filter((v) => keep[v] === 1 || cols[v] !== undefined));
  let content = FAMILY_HEADERS.get(fam)!.length;
  for (let s = 0; s < n; s++) {
    if (defined[s] !== 1 || mask[kind[s]] !== 1) continue;
    const keep = always[kind[s]];
    const vs = candidates[kind[s]];
    for (let i = 0; i < vs.length; i++) {
      const v = vs[i];
      const col = cols[v];
      if ((col === undefined || col[s] === 0) && keep[v] === 0) continue;
      content += fieldSize(pbLen[s] + extra[v].length + VALUE_FIELD_BYTES);
    }
  }
  yield* familyStart(sink, FAMILY_HEADERS.get(fam)!, content);
  const field = fam.type === 'counter' ? K_COUNTER : K_GAUGE;
  const chunk = sink.chunkBytes;
  for (let s = 0; s < n; s++) {
    if (defined[s] !== 1 || mask[kind[s]] !== 1) continue;
    const keep = always[kind[s]];
    const vs = candidates[kind[s]];
    const ln = pbLen[s];
    const at = start[s] + textLen[s];
    for (let i = 0; i < vs.length; i++) {
      const v = vs[i];
      const col = cols[v];
      const x = col === undefined ? 0 : col[s];
      if (x === 0 && keep[v] === 0) continue;
      const pair = extra[v];
      const m = ln + pair.length + VALUE_FIELD_BYTES;
      sink.room(1 + MAX_LENGTH_BYTES + m);
      const buf = sink.buf;
      let p = sink.pos;
      buf[p++] = K_METRIC;
      p = putVarint(buf, p, m);
      p = copyBytes(buf, sink.view, p, bytes, bytesView, at, ln);
      p = copyBytes(buf, sink.view, p, pair, extraViews[v], 0, pair.length);
      buf[p++] = field;
      buf[p++] = 9;
      buf[p++] = K_VALUE;
      p = putDouble(sink.view, p, x);
      sink.pos = p;
    }
    if (sink.pos >= chunk) yield* sink.cut();
  }
}

/**
 * Histograms without an extra label (the RTT): per slot its classic buckets (unless
 * off and the native ones are there: never leave both out) and its native histogram.
 * The sizing pass keeps each slot's Histogram size for the writing pass.
 */
function* histogramFamily(
  sink: ChunkSink,
  snap: StoreSnapshot,
  labels: LabelBytes,
  fam: MetricFamily,
  opts: ProtobufOptions,
): Generator<Buffer, void, undefined> {
  const n = snap.highWater;
  const { defined, kind } = snap;
  const mask = fam.kindMask;
  const { bytes, start, textLen, pbLen } = labels;
  const bytesView = viewOf(bytes);
  const bounds = snap.buckets;
  const stride = bounds.length + 1;
  const { buckets, sum } = snapshotHistogram(snap, fam);
  const native = snapshotNativeHistogram(snap, fam);
  const classic = opts.classicHistograms || native === undefined;
  const sizes = new Uint32Array(n);
  let content = FAMILY_HEADERS.get(fam)!.length;
  for (let s = 0; s < n; s++) {
    if (defined[s] !== 1 || mask[kind[s]] !== 1) continue;
    const h = histogramSize(bounds, buckets, s * stride, classic, native, s);
    sizes[s] = h;
    content += fieldSize(pbLen[s] + fieldSize(h));
  }
  yield* familyStart(sink, FAMILY_HEADERS.get(fam)!, content);
  const chunk = sink.chunkBytes;
  for (let s = 0; s < n; s++) {
    if (defined[s] !== 1 || mask[kind[s]] !== 1) continue;
    const ln = pbLen[s];
    const h = sizes[s];
    const m = ln + fieldSize(h);
    sink.room(1 + MAX_LENGTH_BYTES + m);
    const buf = sink.buf;
    let p = sink.pos;
    buf[p++] = K_METRIC;
    p = putVarint(buf, p, m);
    p = copyBytes(buf, sink.view, p, bytes, bytesView, start[s] + textLen[s], ln);
    buf[p++] = K_HISTOGRAM;
    p = putVarint(buf, p, h);
    p = putHistogram(buf, sink.view, p, bounds, buckets, s * stride, sum[s], classic, native, s);
    sink.pos = p;
    if (p >= chunk) yield* sink.cut();
  }
}

/** Histograms with an extra label (the HTTP phases): classic only; a series exists once it has a count, or always for the kind. */
function* labelledHistogramFamily(sink: ChunkSink, snap: StoreSnapshot, labels: LabelBytes, fam: MetricFamily): Generator<Buffer, void, undefined> {
  const n = snap.highWater;
  const { defined, kind } = snap;
  const mask = fam.kindMask;
  const { bytes, start, textLen, pbLen } = labels;
  const bytesView = viewOf(bytes);
  const bounds = snap.buckets;
  const stride = bounds.length + 1;
  const { buckets, sum } = snapshotLabelledHistogram(snap, fam);
  const always = fam.label!.always;
  const extra = EXTRA_PAIRS.get(fam)!;
  const extraViews = EXTRA_PAIR_VIEWS.get(fam)!;
  // Sizes in the order the series are written (few: only the family's kinds have them).
  let sizes = new Uint32Array(64);
  let count = 0;
  let content = FAMILY_HEADERS.get(fam)!.length;
  for (let s = 0; s < n; s++) {
    if (defined[s] !== 1 || mask[kind[s]] !== 1) continue;
    const keep = always[kind[s]];
    for (let v = 0; v < buckets.length; v++) {
      const b = buckets[v];
      if (keep[v] === 0 && !rowHasCounts(b, s * stride, stride)) continue;
      const h = histogramSize(bounds, b, s * stride, true, undefined, s);
      if (count === sizes.length) {
        const grown = new Uint32Array(count * 2);
        grown.set(sizes);
        sizes = grown;
      }
      sizes[count++] = h;
      content += fieldSize(pbLen[s] + extra[v].length + fieldSize(h));
    }
  }
  yield* familyStart(sink, FAMILY_HEADERS.get(fam)!, content);
  const chunk = sink.chunkBytes;
  let i = 0;
  for (let s = 0; s < n; s++) {
    if (defined[s] !== 1 || mask[kind[s]] !== 1) continue;
    const keep = always[kind[s]];
    const ln = pbLen[s];
    const at = start[s] + textLen[s];
    for (let v = 0; v < buckets.length; v++) {
      const b = buckets[v];
      if (keep[v] === 0 && !rowHasCounts(b, s * stride, stride)) continue;
      const pair = extra[v];
      const h = sizes[i++];
      const m = ln + pair.length + fieldSize(h);
      sink.room(1 + MAX_LENGTH_BYTES + m);
      const buf = sink.buf;
      let p = sink.pos;
      buf[p++] = K_METRIC;
      p = putVarint(buf, p, m);
      p = copyBytes(buf, sink.view, p, bytes, bytesView, at, ln);
      p = copyBytes(buf, sink.view, p, pair, extraViews[v], 0, pair.length);
      buf[p++] = K_HISTOGRAM;
      p = putVarint(buf, p, h);
      const vs = sum[v];
      p = putHistogram(buf, sink.view, p, bounds, b, s * stride, vs === undefined ? 0 : vs[s], true, undefined, s);
      sink.pos = p;
    }
    if (sink.pos >= chunk) yield* sink.cut();
  }
}

/**
 * fleetprobe_target_info (metrics.series_labels compact): per defined target its series
 * labels, its info labels (address, kind: stored right after them in the arena), 1.
 */
function* targetInfoFamily(sink: ChunkSink, snap: StoreSnapshot, labels: LabelBytes, info: InfoIndex): Generator<Buffer, void, undefined> {
  const n = snap.highWater;
  const defined = snap.defined;
  const { bytes, start, textLen, pbLen } = labels;
  const bytesView = viewOf(bytes);
  let content = TARGET_INFO_HEADER.length;
  for (let s = 0; s < n; s++) if (defined[s] === 1) content += fieldSize(pbLen[s] + info.pbLen[s] + VALUE_FIELD_BYTES);
  yield* familyStart(sink, TARGET_INFO_HEADER, content);
  const chunk = sink.chunkBytes;
  for (let s = 0; s < n; s++) {
    if (defined[s] !== 1) continue;
    const ln = pbLen[s];
    const li = info.pbLen[s];
    const m = ln + li + VALUE_FIELD_BYTES;
    sink.room(1 + MAX_LENGTH_BYTES + m);
    const buf = sink.buf;
    let p = sink.pos;
    buf[p++] = K_METRIC;
    p = putVarint(buf, p, m);
    p = copyBytes(buf, sink.view, p, bytes, bytesView, start[s] + textLen[s], ln);
    p = copyBytes(buf, sink.view, p, bytes, bytesView, infoStart(labels, s) + info.textLen[s], li);
    buf[p++] = K_GAUGE;
    buf[p++] = 9;
    buf[p++] = K_VALUE;
    p = putDouble(sink.view, p, 1);
    sink.pos = p;
    if (p >= chunk) yield* sink.cut();
  }
}

/** One family as one delimited frame, written into the sink (nothing when no kind of the store has it). */
function familyChunks(sink: ChunkSink, snap: StoreSnapshot, fam: MetricFamily, opts: ProtobufOptions): Generator<Buffer, void, undefined> {
  const labels = snap.labels;
  if (fam.type !== 'histogram') return fam.label === undefined ? valueFamily(sink, snap, labels, fam) : labelledValueFamily(sink, snap, labels, fam);
  return fam.label === undefined ? histogramFamily(sink, snap, labels, fam, opts) : labelledHistogramFamily(sink, snap, labels, fam);
}

/** Chunk size when the caller gives none (the scrape passes its SCRAPE_CHUNK_BYTES). */
export const DEFAULT_PROTOBUF_CHUNK_BYTES = 256 * 1024;

/**
 * The per-target families as delimited MetricFamily frames, one per family, in chunks
 * of exactly `chunkBytes` (the last one shorter; frames run across chunks), written as
 * the consumer asks. Each family is sized first (one pass over its series, computing
 * only lengths), so its length goes in front and every byte after it is written once,
 * in place: nothing waits for a whole family, and a scrape holds one chunk being
 * filled, never a family (~30 MB for the RTT one at 100,000 targets).
 * The snapshot must have been taken with its exponential histograms (the default of
 * TargetStore.snapshot()). A family built another way (a ProtoWriter frame) goes through
 * the sink too (sink.append, then cut when full): a Buffer yielded past the sink would
 * land before the bytes the sink still holds.
 */
export function* protobufChunks(snap: StoreSnapshot, opts: ProtobufOptions, chunkBytes = DEFAULT_PROTOBUF_CHUNK_BYTES): Generator<Buffer, void, undefined> {
  const sink = new ChunkSink(chunkBytes);
  const labels = snap.labels;
  // As the text: first, and only when some target is defined.
  if (labels.info !== undefined && snap.kindCounts.some((c) => c > 0)) yield* targetInfoFamily(sink, snap, labels, labels.info);
  for (const fam of METRIC_FAMILIES) if (familyHasSeries(snap, fam)) yield* familyChunks(sink, snap, fam, opts);
  yield* sink.finish();
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

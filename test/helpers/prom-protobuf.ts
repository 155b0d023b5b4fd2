/**
 * Decode the Prometheus protobuf exposition (length-delimited MetricFamily messages)
 * with protobufjs and the exposition's schema (test/fixtures/prometheus-client-metrics.proto),
 * an implementation independent of the writer under test.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const PROTO = fileURLToPath(new URL('../../../test/fixtures/prometheus-client-metrics.proto', import.meta.url));
const root = protobuf.parse(readFileSync(PROTO, 'utf8'), { keepCase: true }).root;
const MetricFamily = root.lookupType('io.prometheus.client.MetricFamily');

export interface PbLabel {
  name: string;
  value: string;
}
export interface PbBucket {
  cumulative_count: number;
  upper_bound: number;
}
export interface PbSpan {
  offset?: number;
  length?: number;
}
export interface PbHistogram {
  sample_count?: number;
  sample_sum?: number;
  bucket?: PbBucket[];
  schema?: number;
  zero_threshold?: number;
  zero_count?: number;
  positive_span?: PbSpan[];
  positive_delta?: number[];
}
export interface PbMetric {
  label?: PbLabel[];
  gauge?: { value: number };
  counter?: { value: number };
  untyped?: { value: number };
  summary?: { sample_count: number; sample_sum: number; quantile?: { quantile: number; value: number }[] };
  histogram?: PbHistogram;
}
export interface PbFamily {
  name: string;
  help: string;
  type: string;
  metric: PbMetric[];
}

/** Every MetricFamily of a delimited stream, in order. */
export function decodeDelimited(buf: Uint8Array): PbFamily[] {
  const reader = protobuf.Reader.create(buf);
  const out: PbFamily[] = [];
  while (reader.pos < reader.len) {
    const msg = MetricFamily.decodeDelimited(reader);
    out.push(MetricFamily.toObject(msg, { longs: Number, enums: String, defaults: false, arrays: true }) as PbFamily);
  }
  return out;
}

/** A metric's labels as an object. */
/** A series' identity as one string: its name and its labels in name order (to match series across formats). */
export const seriesKey = (name: string, labels: Record<string, string>): string =>
  name +
  JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  );

export function labelsOf(m: PbMetric): Record<string, string> {
  return Object.fromEntries((m.label ?? []).map((l) => [l.name, l.value]));
}

/** A native histogram's positive buckets as absolute index -> count (spans and deltas undone). */
export function nativeBuckets(h: PbHistogram): Map<number, number> {
  const out = new Map<number, number>();
  const deltas = h.positive_delta ?? [];
  let k = 0;
  let index = 0;
  let count = 0;
  for (const span of h.positive_span ?? []) {
    index += span.offset ?? 0;
    for (let j = 0; j < (span.length ?? 0); j++) {
      count += deltas[k++];
      if (count !== 0) out.set(index, count);
      index++;
    }
  }
  if (k !== deltas.length) throw new Error(`spans cover ${k} buckets, ${deltas.length} deltas`);
  return out;
}

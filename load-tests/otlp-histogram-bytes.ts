/**
 * What an OTLP export of N ICMP targets weighs with explicit-bucket RTT histograms
 * (the default, 19 bounds) and with base-2 exponential ones
 * (OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION=base2_exponential_bucket_histogram):
 * the producer converts a filled TargetStore, and the OTel JS serializers the exporters
 * use (otlp-transformer) encode it as http/protobuf (gRPC carries the same bytes) and
 * as http/json; plus gzip of each. Also the time of convert + serialize (noisy on a
 * shared machine: bytes are exact, times are not).
 *
 *   npm run build && node dist/load-tests/otlp-histogram-bytes.js [targets...] [--replies N]
 *       (default: 10000 targets, 600 replies each)
 *
 * RTTs per target: two shapes, half the fleet each, from a seeded PRNG so every run
 * gives the same bytes: a LAN-like one (median 0.2–2 ms, jitter up to +50%) and a
 * WAN-like one (median 10–150 ms, a tail up to 4× the median). Pure in-memory: sends
 * no traffic.
 */
import { gzipSync } from 'node:zlib';
import { performance } from 'node:perf_hooks';
import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { TargetStore } from '../src/aggregate/store.js';
import { fill } from './filled-store.js';
import { StoreMetricProducer } from '../src/metrics/otel-producer.js';
import type { HistogramAggregation } from '../src/metrics/otel-config.js';

function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

interface Row {
  aggregation: HistogramAggregation;
  protobuf: number;
  protobufGzip: number;
  json: number;
  jsonGzip: number;
  /** The RTT metric alone (fleetprobe.probe.rtt), protobuf. */
  rttProtobuf: number;
  ms: number;
}

function measure(store: TargetStore, aggregation: HistogramAggregation): Row {
  const producer = new StoreMetricProducer(store, { histogramAggregation: aggregation, now: () => 1_700_000_000_000 });
  const resource = resourceFromAttributes({ 'service.name': 'fleetprobe' });
  const t0 = performance.now();
  const rm: ResourceMetrics = { resource, scopeMetrics: producer.collectScopeMetrics() };
  const pb = ProtobufMetricsSerializer.serializeRequest(rm)!;
  const ms = performance.now() - t0;
  const json = JsonMetricsSerializer.serializeRequest(rm)!;
  const rttOnly: ResourceMetrics = {
    resource,
    scopeMetrics: rm.scopeMetrics.map((sm) => ({ ...sm, metrics: sm.metrics.filter((m) => m.descriptor.name === 'fleetprobe.probe.rtt') })),
  };
  const rttProtobuf = ProtobufMetricsSerializer.serializeRequest(rttOnly)!.length;
  return { aggregation, protobuf: pb.length, protobufGzip: gzipSync(pb).length, json: json.length, jsonGzip: gzipSync(json).length, rttProtobuf, ms };
}

const sizes = process.argv
  .slice(2)
  .filter((a, i, all) => /^\d+$/.test(a) && all[i - 1] !== '--replies')
  .map(Number);
const replies = argValue('--replies', 600);
const mb = (b: number): string => (b / 1e6).toFixed(2).padStart(8);
for (const n of sizes.length > 0 ? sizes : [10_000]) {
  const store = fill(n, replies);
  console.log(`${n} ICMP targets, ${replies} replies each; one export (every per-target metric), bytes in MB; convert + protobuf serialize in ms`);
  console.log('aggregation                          protobuf  pb+gzip      json  json+gzip  rtt-only pb   ms');
  const rows: Row[] = [];
  // Twice each, alternating, so the second of each pair is warm; the bytes are the same.
  for (const a of [
    'explicit_bucket_histogram',
    'base2_exponential_bucket_histogram',
    'explicit_bucket_histogram',
    'base2_exponential_bucket_histogram',
  ] as const)
    rows.push(measure(store, a));
  for (const r of rows.slice(2))
    console.log(
      `${r.aggregation.padEnd(36)} ${mb(r.protobuf)}  ${mb(r.protobufGzip)}  ${mb(r.json)}  ${mb(r.jsonGzip)}  ${mb(r.rttProtobuf)}     ${r.ms.toFixed(0).padStart(4)}`,
    );
  const [e, x] = rows.slice(2);
  console.log(`exponential / explicit: protobuf ${((100 * x.protobuf) / e.protobuf).toFixed(0)}%, json ${((100 * x.json) / e.json).toFixed(0)}%`);
  console.log(
    `per target: protobuf ${(e.protobuf / n).toFixed(0)} → ${(x.protobuf / n).toFixed(0)} bytes; the RTT point ${(e.rttProtobuf / n).toFixed(0)} → ${(x.rttProtobuf / n).toFixed(0)} bytes (attributes included)`,
  );
}

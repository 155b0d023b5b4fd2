/**
 * The OTLP metric exporter for the configured protocol, all three from the
 * OpenTelemetry JS project:
 *
 *   grpc           @opentelemetry/exporter-metrics-otlp-grpc (its own @grpc/grpc-js channel;
 *                  opentelemetry.proto.collector.metrics.v1.MetricsService/Export)
 *   http/json      @opentelemetry/exporter-metrics-otlp-http's OTLPMetricExporter as is
 *   http/protobuf  the same exporter base and node HTTP transport with the protobuf
 *                  serializer of @opentelemetry/otlp-transformer: that is all
 *                  @opentelemetry/exporter-metrics-otlp-proto adds, and both building
 *                  blocks are already dependencies of the http exporter.
 *
 * Passed in: the endpoint and the temporality preference (checked by otel-config.ts).
 * Read by each exporter from process.env, exactly as every other OTel SDK does:
 * headers (gRPC metadata), the per-request timeout, compression, certificates and
 * OTEL_EXPORTER_OTLP_INSECURE; otel-config.ts refuses bad values of all of them
 * before anything starts, since the exporters would only ignore them.
 *
 * The temporality preference only steers SDK instruments (fleetprobe has none);
 * our producers apply it themselves (temporalityFor).
 */
import { AggregationTemporalityPreference, OTLPMetricExporter, OTLPMetricExporterBase } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OTLPGrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { MetricsExporterMetricsHelper, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { AggregationTemporality, InstrumentType, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { OtlpProtocol, TemporalityPreference } from './otel-config.js';

/** Component type of the exporter's own (experimental) self-observability metrics. */
const COMPONENT_TYPE = 'otlp_http_metric_exporter';

const PREFERENCE: Record<TemporalityPreference, AggregationTemporalityPreference> = {
  cumulative: AggregationTemporalityPreference.CUMULATIVE,
  delta: AggregationTemporalityPreference.DELTA,
  lowmemory: AggregationTemporalityPreference.LOWMEMORY,
};

export function createOtlpMetricExporter(url: string, protocol: OtlpProtocol, temporality: TemporalityPreference = 'cumulative'): PushMetricExporter {
  const temporalityPreference = PREFERENCE[temporality];
  if (protocol === 'grpc') return new OTLPGrpcMetricExporter({ url, temporalityPreference });
  if (protocol === 'http/json') return new OTLPMetricExporter({ url, temporalityPreference });
  const options = convertLegacyHttpOptions({ url }, 'METRICS', 'v1/metrics', { 'Content-Type': 'application/x-protobuf' });
  return new OTLPMetricExporterBase(createOtlpHttpExportDelegate(options, ProtobufMetricsSerializer, COMPONENT_TYPE, MetricsExporterMetricsHelper, undefined), {
    temporalityPreference,
  });
}

/** The kinds of data fleetprobe exports with a temporality (gauges have none). */
export type TemporalKind = 'counter' | 'histogram';

/**
 * The temporality of fleetprobe's sums and histograms under a preference, by the
 * SDK's own rules (the exporter's selector): every fleetprobe sum counts events as
 * they happen (a Counter: probes sent, batches received, ...) and every
 * distribution is a Histogram, so `delta` and `lowmemory` both mean DELTA here.
 */
export function temporalityFor(exporter: PushMetricExporter, kind: TemporalKind): AggregationTemporality {
  if (exporter.selectAggregationTemporality === undefined) return AggregationTemporality.CUMULATIVE;
  return exporter.selectAggregationTemporality(kind === 'counter' ? InstrumentType.COUNTER : InstrumentType.HISTOGRAM);
}

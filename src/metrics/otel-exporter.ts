/**
 * The OTLP/HTTP metric exporter for the configured protocol.
 *
 * http/json is @opentelemetry/exporter-metrics-otlp-http's OTLPMetricExporter
 * as is. http/protobuf (the spec's default) is the same exporter base and
 * node HTTP transport with the protobuf serializer of
 * @opentelemetry/otlp-transformer: that is all
 * @opentelemetry/exporter-metrics-otlp-proto adds, and both building blocks
 * are already installed as dependencies of the http exporter.
 *
 * Only the URL is passed in (resolved from the environment handed to
 * startOtelExport); headers, the per-request timeout, compression and TLS
 * files are read by the exporter from process.env (OTEL_EXPORTER_OTLP_*),
 * exactly as every other OTel SDK does.
 */
import { OTLPMetricExporter, OTLPMetricExporterBase } from '@opentelemetry/exporter-metrics-otlp-http';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { MetricsExporterMetricsHelper, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { OtlpProtocol } from './otel-config.js';

/** Component type of the exporter's own (experimental) self-observability metrics. */
const COMPONENT_TYPE = 'otlp_http_metric_exporter';

export function createOtlpMetricExporter(url: string, protocol: OtlpProtocol): PushMetricExporter {
  if (protocol === 'http/json') return new OTLPMetricExporter({ url });
  const options = convertLegacyHttpOptions({ url }, 'METRICS', 'v1/metrics', { 'Content-Type': 'application/x-protobuf' });
  return new OTLPMetricExporterBase(createOtlpHttpExportDelegate(options, ProtobufMetricsSerializer, COMPONENT_TYPE, MetricsExporterMetricsHelper, undefined));
}

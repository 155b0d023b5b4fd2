/**
 * OTLP push of the per-target store: the second of the two exporters that
 * read the one store (the first is /metrics).
 *
 *   PeriodicExportingMetricReader (one unref()ed interval; never two exports
 *   at once; shutdown = flush once, then close)
 *     └─ metricProducers: [StoreMetricProducer]  snapshot → MetricData at export time
 *     └─ exporter: OTLP/HTTP, protobuf or JSON (otel-exporter.ts), wrapped to log failures
 *   MeterProvider: owns the reader and the resource (service.name, …)
 *
 * Whether it runs at all is decided by the standard OTEL_* variables
 * (otel-config.ts); without them startOtelExport returns null and nothing is
 * created. Metric names and their Prometheus twins: otel-producer.ts.
 *
 * The producer always yields CUMULATIVE data (the store is cumulative);
 * OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE only affects SDK
 * instruments, of which there are none here.
 */
import { randomUUID } from 'node:crypto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { resolveOtelConfig, type OtlpProtocol } from './otel-config.js';
import { createOtlpMetricExporter } from './otel-exporter.js';
import { StoreMetricProducer, type OtelStoreSource, type StoreMetricProducerOptions } from './otel-producer.js';

/**
 * The logger calls used here (a pino Logger fits). The caller binds the component
 * (`logger.child({ component: 'otel' })`); repeating it in each call would write the
 * key twice on every line.
 */
export interface OtelLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface OtelExportOptions {
  store: OtelStoreSource;
  logger: OtelLogger;
  /** Where the OTEL_* variables are read (default process.env); see otel-config.ts. */
  env?: Readonly<Record<string, string | undefined>>;
  /** service.name when neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES sets it. */
  serviceName?: string;
  /** service.instance.id; default: the one in OTEL_RESOURCE_ATTRIBUTES, else a random UUID per process. */
  serviceInstanceId?: string;
  /** service.version and the instrumentation scope version (e.g. package.json version). */
  serviceVersion?: string;
  /**
   * Most data points per OTLP request (an export of a large fleet is split into
   * several sequential requests so none exceeds a collector's body limit).
   */
  maxExportBatchSize?: number;
  /** More metrics from each export's snapshot (the group rollups); see StoreMetricProducerOptions. */
  snapshotMetrics?: StoreMetricProducerOptions['snapshotMetrics'];
}

export interface OtelExportStats {
  /** Requests the exporter completed successfully. */
  exports: number;
  /** Requests that failed (logged), including those refused after shutdown's deadline. */
  failures: number;
  /** Unix time (s) of the newest successful request; 0 before the first. */
  lastSuccessAt: number;
  lastError: string | undefined;
}

export interface OtelExport {
  readonly url: string;
  readonly protocol: OtlpProtocol;
  readonly intervalMs: number;
  readonly stats: Readonly<OtelExportStats>;
  /** Collect and export now; resolves when the export finished (failures are logged, not thrown). */
  forceFlush(): Promise<void>;
  /**
   * Stop the interval, export the final values once, close the exporter. Idempotent.
   * Bounded: gives up after min(OTEL_METRIC_EXPORT_TIMEOUT, timeoutMs) (logged), and
   * the export requests still queued are then failed at once instead of sent.
   */
  shutdown(timeoutMs?: number): Promise<void>;
}

export const DEFAULT_SERVICE_NAME = 'fleetprobe';
/** ≈ 1–4 MB of OTLP/JSON per request with the default 20 buckets. */
export const DEFAULT_MAX_EXPORT_BATCH_SIZE = 5000;

/** Start the periodic OTLP export, or return null when the environment does not ask for it. */
export function startOtelExport(opts: OtelExportOptions): OtelExport | null {
  const { store, logger } = opts;
  const decision = resolveOtelConfig(opts.env ?? process.env);
  if (!decision.enabled) {
    if (decision.error !== undefined) logger.error({}, `OTLP metrics export not started: ${decision.error}`);
    else logger.debug({}, `OTLP metrics export off: ${decision.reason}`);
    return null;
  }
  const cfg = decision.config;
  for (const w of cfg.warnings) logger.warn({}, w);

  const attrs: Record<string, string> = { ...cfg.resourceAttributes };
  attrs['service.name'] = cfg.serviceName ?? opts.serviceName ?? DEFAULT_SERVICE_NAME;
  attrs['service.instance.id'] = opts.serviceInstanceId ?? cfg.resourceAttributes['service.instance.id'] ?? randomUUID();
  if (opts.serviceVersion !== undefined && attrs['service.version'] === undefined) attrs['service.version'] = opts.serviceVersion;
  const resource = defaultResource().merge(resourceFromAttributes(attrs));

  const stats: OtelExportStats = { exports: 0, failures: 0, lastSuccessAt: 0, lastError: undefined };
  const exporter = new LoggingExporter(createOtlpMetricExporter(cfg.url, cfg.protocol), logger, stats, cfg.url);
  const producer = new StoreMetricProducer(store, { scopeVersion: opts.serviceVersion, snapshotMetrics: opts.snapshotMetrics });
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: cfg.intervalMs,
    exportTimeoutMillis: cfg.timeoutMs,
    metricProducers: [producer],
    maxExportBatchSize: opts.maxExportBatchSize ?? DEFAULT_MAX_EXPORT_BATCH_SIZE,
  });
  const provider = new MeterProvider({ resource, readers: [reader] });
  logger.info({ url: cfg.url, protocol: cfg.protocol, intervalMs: cfg.intervalMs, service: attrs['service.name'] }, 'OTLP metrics export started');

  let closing: Promise<void> | undefined;
  return {
    url: cfg.url,
    protocol: cfg.protocol,
    intervalMs: cfg.intervalMs,
    stats,
    forceFlush: async () => {
      if (closing !== undefined) return closing;
      await provider.forceFlush();
    },
    shutdown: (timeoutMs?: number) => {
      if (closing !== undefined) return closing;
      const budget = Math.max(1, Math.min(cfg.timeoutMs, timeoutMs ?? cfg.timeoutMs));
      // The SDK bounds the whole shutdown (final collect + every export request) itself.
      closing = provider.shutdown({ timeoutMillis: budget }).then(
        () => logger.debug({}, 'OTLP metrics export stopped'),
        (err: unknown) => {
          // A request may still hang on the collector; it must not send the rest too.
          exporter.refuseFurtherExports();
          logger.warn({ err, timeoutMs: budget, url: cfg.url }, 'OTLP final export did not finish in time; stopping without it');
        },
      );
      return closing;
    },
  };
}

type ResultCallback = Parameters<PushMetricExporter['export']>[1];
/** ExportResultCode.SUCCESS (@opentelemetry/core). */
const EXPORT_SUCCESS = 0;
/** ExportResultCode.FAILED. */
const EXPORT_FAILED = 1;

/**
 * Counts and logs export outcomes: the SDK only reports failures through the
 * global diag logger, which fleetprobe does not install (it is process-global
 * and would also capture other libraries' chatter). A failure streak is logged
 * once when it starts and once when it ends, not every interval.
 */
class LoggingExporter implements PushMetricExporter {
  private failingSince = 0;
  private refusing = false;
  readonly selectAggregationTemporality: PushMetricExporter['selectAggregationTemporality'];
  readonly selectAggregation: PushMetricExporter['selectAggregation'];

  constructor(
    private readonly inner: PushMetricExporter,
    private readonly logger: OtelLogger,
    private readonly stats: OtelExportStats,
    private readonly url: string,
  ) {
    this.selectAggregationTemporality = inner.selectAggregationTemporality?.bind(inner);
    this.selectAggregation = inner.selectAggregation?.bind(inner);
  }

  /** After shutdown's deadline: fail every further request without sending it. */
  refuseFurtherExports(): void {
    this.refusing = true;
  }

  export(metrics: ResourceMetrics, resultCallback: ResultCallback): void {
    if (this.refusing) {
      this.stats.failures++;
      resultCallback({ code: EXPORT_FAILED, error: new Error('OTLP exporter is shut down') });
      return;
    }
    this.inner.export(metrics, (result) => {
      if (result.code === EXPORT_SUCCESS) {
        this.stats.exports++;
        this.stats.lastSuccessAt = Date.now() / 1000;
        if (this.failingSince > 0) {
          this.logger.info({ url: this.url, failedRequests: this.failingSince }, 'OTLP metrics export recovered');
          this.failingSince = 0;
        }
      } else {
        this.stats.failures++;
        this.stats.lastError = describeError(result.error);
        if (this.failingSince++ === 0) this.logger.error({ url: this.url, err: result.error }, 'OTLP metrics export failed');
      }
      resultCallback(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

}

/** OTLPExporterError carries the HTTP status in `code`; its message is only the status text. */
function describeError(err: (Error & { code?: unknown }) | undefined): string {
  if (err === undefined) return 'unknown error';
  return typeof err.code === 'number' ? `HTTP ${err.code} ${err.message}` : err.message;
}

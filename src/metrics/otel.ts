/**
 * OTLP push of the per-target store and of fleetprobe's own health: the second
 * and third readers of what /metrics serves.
 *
 *   PeriodicExportingMetricReader (one unref()ed interval; never two exports at
 *   once; shutdown = flush once, then close)
 *     └─ metricProducers: [ExportGate]  skips a collection while a request of the
 *          │                            previous export is still pending
 *          ├─ StoreMetricProducer       per-target store → MetricData (otel-producer.ts),
 *          │                            through DeltaStoreSource for delta (otel-delta.ts)
 *          └─ RegistryMetricProducer    prom-client self metrics → MetricData (otel-self-producer.ts)
 *     └─ exporter: OTLP over grpc, http/protobuf or http/json (otel-exporter.ts),
 *        wrapped to count, log, and know what is in flight
 *   MeterProvider: owns the reader and the resource (service.name, service.version,
 *   service.instance.id, host.name, OTEL_RESOURCE_ATTRIBUTES)
 *
 * Whether it runs at all is decided by the standard OTEL_* variables
 * (otel-config.ts); without them startOtelExport returns null and nothing is
 * created. loadConfig() has already refused bad ones (exit 2), so reaching
 * startOtelExport with bad variables is a programming error: it throws the same
 * ConfigError.
 *
 * Why the gate: the reader does not start a collection while its previous run is
 * in progress, but a run ends at OTEL_METRIC_EXPORT_TIMEOUT even when the request
 * it gave up on is still open (the transport keeps it until its own
 * OTEL_EXPORTER_OTLP_TIMEOUT, default 10 s), and the next tick would build the
 * whole fleet's payload again on top of it. With a collector that accepts and never
 * answers, that is one full payload per interval kept alive at a time. The gate
 * lets at most one export's requests exist: a tick that finds one still pending is
 * skipped and counted (fleetprobe_otlp_exports_skipped_total). The final export at
 * shutdown is not skipped: it is bounded by its own deadline instead.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { defaultResource, emptyResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
  type CollectionResult,
  type MetricProducer,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { ConfigError } from '../config/errors.js';
import { resolveOtelConfig, type HistogramAggregation, type OtlpProtocol, type TemporalityPreference } from './otel-config.js';
import { DeltaStoreSource } from './otel-delta.js';
import { createOtlpMetricExporter, temporalityFor } from './otel-exporter.js';
import { StoreMetricProducer, type OtelStoreSource, type StoreMetricProducerOptions } from './otel-producer.js';
import { RegistryMetricProducer, type PromRegistrySource } from './otel-self-producer.js';

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
  /** The self metrics' registry (SelfMetrics.registry); exported too when given. */
  selfRegistry?: PromRegistrySource;
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
  /** Targets converted between two yields to the event loop (default OTLP_SLICE_SLOTS). */
  sliceSlots?: number;
  /** More metrics from each export's snapshot (the group rollups); see StoreMetricProducerOptions. */
  snapshotMetrics?: StoreMetricProducerOptions['snapshotMetrics'];
}

export interface OtelExportStats {
  /** Requests the exporter completed successfully. */
  exports: number;
  /** Requests that failed (logged), including those refused after shutdown's deadline. */
  failures: number;
  /** Export intervals skipped because a request of the previous export was still pending. */
  skipped: number;
  /** Unix time (s) of the newest successful request; 0 before the first. */
  lastSuccessAt: number;
  lastError: string | undefined;
}

export interface OtelExport {
  readonly url: string;
  readonly protocol: OtlpProtocol;
  readonly intervalMs: number;
  readonly temporality: TemporalityPreference;
  /** How histograms are sent (OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION). */
  readonly histogramAggregation: HistogramAggregation;
  /** The resource attributes every export carries. */
  readonly resource: Readonly<Record<string, string>>;
  readonly stats: Readonly<OtelExportStats>;
  /** An export is being built or sent right now (for benchmarks that measure what exporting costs). */
  exporting(): boolean;
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
/**
 * Targets converted between two yields to the event loop: ≈ 5,600 data points, a few ms,
 * so batches keep merging and /metrics keeps answering while a large fleet is converted.
 */
export const OTLP_SLICE_SLOTS = 512;
/**
 * Data points per export request (the SDK sends an export's requests one after the
 * other). Each request is serialized in one synchronous step on the main thread, so
 * this bounds the longest export step: measured with otlp-bench --cpu-prof at 10,000
 * targets on the loaded 2-core machine, serialization steps took p99 224 / max 298 ms
 * (wall) at 5,000 points and p99 27 / max 66 ms at 1,000, and the main-thread lag p99
 * during exports fell from 304 to 69 ms. ≈ 110 requests per export of 10,000 targets:
 * at 10 ms per round trip to a remote collector, about a second.
 */
export const DEFAULT_MAX_EXPORT_BATCH_SIZE = 1000;

/**
 * The resource: OTEL_RESOURCE_ATTRIBUTES, then service.name (OTEL_SERVICE_NAME >
 * the attribute > fleetprobe), service.version, service.instance.id and host.name
 * unless the attributes set them. service.instance.id follows the semantic
 * conventions' advice for an SDK that has nothing better: a random UUID v4 per
 * process start, so two instances on one host (or one instance restarted) are
 * never the same series; set it in OTEL_RESOURCE_ATTRIBUTES for a stable id.
 */
export function resourceAttributes(
  configured: Readonly<Record<string, string>>,
  serviceName: string,
  opts: { serviceInstanceId?: string; serviceVersion?: string; hostName?: string } = {},
): Record<string, string> {
  const attrs: Record<string, string> = { ...configured };
  attrs['service.name'] = serviceName;
  attrs['service.instance.id'] = opts.serviceInstanceId ?? configured['service.instance.id'] ?? randomUUID();
  attrs['host.name'] = configured['host.name'] ?? opts.hostName ?? hostname();
  if (opts.serviceVersion !== undefined && attrs['service.version'] === undefined) attrs['service.version'] = opts.serviceVersion;
  return attrs;
}

/** Start the periodic OTLP export, or return null when the environment does not ask for it. */
export function startOtelExport(opts: OtelExportOptions): OtelExport | null {
  const { logger } = opts;
  const decision = resolveOtelConfig(opts.env ?? process.env);
  if (decision.problems !== undefined) {
    throw new ConfigError(decision.problems.map((p) => ({ key: p.variable, value: p.value, message: p.message })));
  }
  if (!decision.enabled) {
    logger.debug({}, `OTLP metrics export off: ${decision.reason}`);
    return null;
  }
  const cfg = decision.config;
  for (const w of cfg.warnings) logger.warn({}, w);

  const attrs = resourceAttributes(cfg.resourceAttributes, cfg.serviceName ?? opts.serviceName ?? DEFAULT_SERVICE_NAME, opts);
  const resource = defaultResource().merge(resourceFromAttributes(attrs));

  const stats: OtelExportStats = { exports: 0, failures: 0, skipped: 0, lastSuccessAt: 0, lastError: undefined };
  const inner = createOtlpMetricExporter(cfg.url, cfg.protocol, cfg.temporality);
  const temporality = temporalityFor(inner, 'counter');
  if (temporalityFor(inner, 'histogram') !== temporality) throw new Error('OTLP: counters and histograms would need different temporalities');
  const exporter = new LoggingExporter(inner, logger, stats, cfg.url);

  const delta = temporality === AggregationTemporality.DELTA ? new DeltaStoreSource(opts.store) : null;
  const storeProducer = new StoreMetricProducer(delta ?? opts.store, {
    scopeVersion: opts.serviceVersion,
    temporality,
    histogramAggregation: cfg.histogramAggregation,
    sliceSlots: opts.sliceSlots ?? OTLP_SLICE_SLOTS,
    ...(delta !== null ? { now: () => delta.snapshotTimeMs } : {}),
    // The group rollups are computed from the store's cumulative snapshot and keep state
    // across snapshots; the delta source hands the producer increases instead, so with
    // delta temporality they stay on /metrics only (documented).
    ...(delta === null && opts.snapshotMetrics !== undefined ? { snapshotMetrics: opts.snapshotMetrics } : {}),
  });
  const producers: MetricProducer[] = [storeProducer];
  if (opts.selfRegistry !== undefined) producers.push(new RegistryMetricProducer(opts.selfRegistry, { scopeVersion: opts.serviceVersion, temporality }));
  const gate = new ExportGate(producers, exporter, stats);
  const reader = new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: cfg.intervalMs,
    exportTimeoutMillis: cfg.timeoutMs,
    metricProducers: [gate],
    maxExportBatchSize: opts.maxExportBatchSize ?? DEFAULT_MAX_EXPORT_BATCH_SIZE,
  });
  const provider = new MeterProvider({ resource, readers: [reader] });
  logger.info(
    {
      url: cfg.url,
      protocol: cfg.protocol,
      intervalMs: cfg.intervalMs,
      temporality: cfg.temporality,
      histogramAggregation: cfg.histogramAggregation,
      service: attrs['service.name'],
      instance: attrs['service.instance.id'],
    },
    'OTLP metrics export started',
  );

  let closing: Promise<void> | undefined;
  return {
    url: cfg.url,
    protocol: cfg.protocol,
    intervalMs: cfg.intervalMs,
    temporality: cfg.temporality,
    histogramAggregation: cfg.histogramAggregation,
    resource: attrs,
    stats,
    exporting: () => gate.collecting || exporter.pending > 0,
    forceFlush: async () => {
      if (closing !== undefined) return closing;
      await provider.forceFlush();
    },
    shutdown: (timeoutMs?: number) => {
      if (closing !== undefined) return closing;
      const budget = Math.max(1, Math.min(cfg.timeoutMs, timeoutMs ?? cfg.timeoutMs));
      gate.final = true;
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

/**
 * The one MetricProducer the reader sees: runs every producer of one export, unless a
 * request of the previous export is still pending (see the file header).
 */
class ExportGate implements MetricProducer {
  /** Set at shutdown: the final collection always runs. */
  final = false;
  /** The producers are converting right now. */
  collecting = false;

  constructor(
    private readonly producers: readonly MetricProducer[],
    private readonly exporter: LoggingExporter,
    private readonly stats: OtelExportStats,
  ) {}

  async collect(): Promise<CollectionResult> {
    if (this.exporter.pending > 0 && !this.final) {
      this.stats.skipped++;
      return { resourceMetrics: { resource: emptyResource(), scopeMetrics: [] }, errors: [] };
    }
    this.collecting = true;
    let results: CollectionResult[];
    try {
      results = await Promise.all(this.producers.map((p) => p.collect()));
    } finally {
      this.collecting = false;
    }
    return {
      resourceMetrics: { resource: emptyResource(), scopeMetrics: results.flatMap((r) => r.resourceMetrics.scopeMetrics) },
      errors: results.flatMap((r) => r.errors),
    };
  }
}

type ResultCallback = Parameters<PushMetricExporter['export']>[1];
type ExportResultCode = Parameters<ResultCallback>[0]['code'];
/** ExportResultCode.SUCCESS (@opentelemetry/core, not a direct dependency). */
const EXPORT_SUCCESS = 0 as ExportResultCode;
/** ExportResultCode.FAILED. */
const EXPORT_FAILED = 1 as ExportResultCode;

/**
 * Counts and logs export outcomes: the SDK only reports failures through the
 * global diag logger, which fleetprobe does not install (it is process-global
 * and would also capture other libraries' chatter). A failure streak is logged
 * once when it starts and once when it ends, not every interval.
 */
class LoggingExporter implements PushMetricExporter {
  /** Requests handed to the exporter and not answered yet (success, failure or its own timeout). */
  pending = 0;
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
    // Bounded by the transport: a request ends (answered, failed, or cut at
    // OTEL_EXPORTER_OTLP_TIMEOUT, retries included) and its callback runs.
    this.pending++;
    let settled = false;
    const settle = (): void => {
      if (!settled) {
        settled = true;
        this.pending--;
      }
    };
    try {
      this.inner.export(metrics, (result) => this.onResult(result, settle, resultCallback));
    } catch (err) {
      settle();
      throw err;
    }
  }

  private onResult(result: Parameters<ResultCallback>[0], settle: () => void, resultCallback: ResultCallback): void {
    settle();
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

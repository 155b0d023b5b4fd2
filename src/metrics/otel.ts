/**
 * OTLP push of the per-target store and of fleetprobe's own health: the second
 * and third readers of what /metrics serves.
 *
 *   ExportLoop (one unref()ed interval; never two exports at once; shutdown = export
 *     │         once more, then close)
 *     │  one export: take the store snapshot (and the self metrics) once, then build
 *     │  ONE request's points (maxExportBatchSize), hand it to the exporter, wait for
 *     │  its answer, let the event loop turn, build the next (otel-requests.ts)
 *     ├─ StoreMetricProducer       per-target store → points on demand (otel-producer.ts),
 *     │                            through DeltaStoreSource for delta (otel-delta.ts)
 *     └─ RegistryMetricProducer    prom-client self metrics → MetricData (otel-self-producer.ts)
 *   exporter: OTLP over grpc, http/protobuf or http/json (otel-exporter.ts),
 *     wrapped to count, log, and know what is in flight
 *   resource: service.name, service.version, service.instance.id, host.name,
 *     OTEL_RESOURCE_ATTRIBUTES
 *
 * Why not the SDK's PeriodicExportingMetricReader: it collects the whole export
 * (≈ 110,000 point objects at 10,000 targets) before cutting it into requests, and
 * building and then collecting those objects held the main thread for tens to hundreds
 * of ms at a time. Built per request, an export keeps one request's points alive and
 * each step is one request's worth of work. The loop keeps the reader's rules: a tick
 * is skipped while an export runs, each request is bounded by OTEL_METRIC_EXPORT_TIMEOUT
 * and a request that times out ends the export, a failed request does not, forceFlush
 * waits for the running export then runs one, shutdown runs the final export within
 * its deadline.
 *
 * Whether it runs at all is decided by the standard OTEL_* variables
 * (otel-config.ts); without them startOtelExport returns null and nothing is
 * created. loadConfig() has already refused bad ones (exit 2), so reaching
 * startOtelExport with bad variables is a programming error: it throws the same
 * ConfigError.
 *
 * Why the gate: the loop does not start an export while its previous one is
 * in progress, but an export ends at OTEL_METRIC_EXPORT_TIMEOUT even when the request
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
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { AggregationTemporality, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { ConfigError } from '../config/errors.js';
import { resolveOtelConfig, type HistogramAggregation, type OtlpProtocol, type TemporalityPreference } from './otel-config.js';
import { DeltaStoreSource } from './otel-delta.js';
import { createOtlpMetricExporter, temporalityFor } from './otel-exporter.js';
import { arrayStream, StoreMetricProducer, type OtelStoreSource } from './otel-producer.js';
import { RequestBuilder, type ScopeStream } from './otel-requests.js';
import { RegistryMetricProducer, type PromRegistrySource } from './otel-self-producer.js';
import type { GroupRollupExports } from './group-rollups.js';
import { groupSnapshotMetrics } from './group-otel.js';

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
  /** metrics.group_by's rollups, exported from each export's snapshot next to the per-target metrics (cumulative temporality only). */
  groupRollups?: GroupRollupExports;
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
 * Data points per export request (an export's requests go one after the other, each
 * built when the previous one has been answered). Each request is built and serialized
 * in one synchronous step on the main thread, so this bounds the longest export step: measured with otlp-bench --cpu-prof at 10,000
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
    ...(delta !== null ? { now: () => delta.snapshotTimeMs } : {}),
    // The group rollups are computed from the store's cumulative snapshot and keep state
    // across snapshots; the delta source hands the producer increases instead, so with
    // delta temporality they stay on /metrics only (documented).
    ...(delta === null && opts.groupRollups !== undefined ? { snapshotMetrics: groupSnapshotMetrics(opts.groupRollups) } : {}),
  });
  const selfProducer =
    opts.selfRegistry === undefined ? undefined : new RegistryMetricProducer(opts.selfRegistry, { scopeVersion: opts.serviceVersion, temporality });
  const loop = new ExportLoop({
    storeProducer,
    selfProducer,
    exporter,
    stats,
    resource,
    logger,
    maxPoints: opts.maxExportBatchSize ?? DEFAULT_MAX_EXPORT_BATCH_SIZE,
    requestTimeoutMs: cfg.timeoutMs,
  });
  loop.start(cfg.intervalMs);
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
    exporting: () => loop.running || exporter.pending > 0,
    forceFlush: async () => {
      if (closing !== undefined) return closing;
      await loop.forceFlush();
    },
    shutdown: (timeoutMs?: number) => {
      if (closing !== undefined) return closing;
      const budget = Math.max(1, Math.min(cfg.timeoutMs, timeoutMs ?? cfg.timeoutMs));
      closing = loop.shutdown(budget).then(
        () => logger.debug({}, 'OTLP metrics export stopped'),
        (err: unknown) => {
          // A request may still hang on the collector; it must not send the rest too.
          exporter.refuseFurtherExports();
          loop.abandon();
          logger.warn({ err, timeoutMs: budget, url: cfg.url }, 'OTLP final export did not finish in time; stopping without it');
        },
      );
      return closing;
    },
  };
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Rejects after `ms` (cleared once `p` settles). */
function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ExportTimeout(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

class ExportTimeout extends Error {}

interface ExportLoopOptions {
  storeProducer: StoreMetricProducer;
  selfProducer: RegistryMetricProducer | undefined;
  exporter: LoggingExporter;
  stats: OtelExportStats;
  resource: Resource;
  logger: OtelLogger;
  /** Most data points per request. */
  maxPoints: number;
  /** Bound of each request (OTEL_METRIC_EXPORT_TIMEOUT); one that takes longer ends the export. */
  requestTimeoutMs: number;
}

/**
 * The periodic export (see the file header): at most one export at a time, each taking
 * its snapshot once and then building and sending one request at a time.
 */
class ExportLoop {
  private timer: NodeJS.Timeout | undefined;
  private ongoing: Promise<void> | null = null;
  /** Set at shutdown: the final export always runs, even with a request still pending. */
  private final = false;
  /** Set when shutdown's deadline passed: build no further request. */
  private abandoned = false;

  constructor(private readonly o: ExportLoopOptions) {}

  /** An export is being built or sent right now. */
  get running(): boolean {
    return this.ongoing !== null;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.runOnce(), intervalMs);
    this.timer.unref();
  }

  /** Stop building requests (the export in progress ends after its current request). */
  abandon(): void {
    this.abandoned = true;
  }

  /** Wait for the running export, then run one (or wait for one that started meanwhile). */
  async forceFlush(): Promise<void> {
    if (this.ongoing !== null) await this.ongoing;
    await (this.ongoing ?? this.runOnce());
    await this.o.exporter.forceFlush();
  }

  /** Stop the interval, run the final export, close the exporter; rejects after `budgetMs`. */
  shutdown(budgetMs: number): Promise<void> {
    clearInterval(this.timer);
    this.final = true;
    const run = async (): Promise<void> => {
      await this.forceFlush();
      await this.o.exporter.shutdown();
    };
    return withTimeout(run(), budgetMs, 'OTLP shutdown');
  }

  /** Start an export unless one is running (never rejects: problems are logged). */
  private runOnce(): Promise<void> {
    if (this.ongoing !== null) return this.ongoing;
    const run = this.exportOnce().catch((err: unknown) => this.o.logger.warn({ err }, 'OTLP export failed to run'));
    this.ongoing = run.finally(() => {
      this.ongoing = null;
    });
    return this.ongoing;
  }

  private async exportOnce(): Promise<void> {
    const { exporter, stats, logger, resource } = this.o;
    if (exporter.pending > 0 && !this.final) {
      stats.skipped++;
      return;
    }
    const scopes = await this.snapshot();
    if (resource.asyncAttributesPending) await resource.waitForAsyncAttributes?.();
    // The snapshot is one step, the first request the next.
    await yieldToLoop();
    const requests = new RequestBuilder(scopes, this.o.maxPoints);
    for (;;) {
      if (this.abandoned) return;
      const scopeMetrics = requests.next();
      if (scopeMetrics === undefined) return;
      try {
        await withTimeout(this.send({ resource, scopeMetrics }), this.o.requestTimeoutMs, 'OTLP export request');
      } catch (err) {
        // As the SDK's reader: a request that does not finish in time ends this export
        // (its points not built yet are not; with delta, their increases go with the
        // next export); a request that failed does not.
        if (err instanceof ExportTimeout) {
          logger.debug({ points: requests.points, requests: requests.requests }, 'OTLP export request timed out; export ended');
          return;
        }
      }
      // A refused or synchronously failed request answers at once: still let the loop turn.
      await yieldToLoop();
    }
  }

  /** One moment's metrics: the store's snapshot (points built later, per request) and the self metrics. */
  private async snapshot(): Promise<ScopeStream[]> {
    const { storeProducer, selfProducer, logger } = this.o;
    const scopes: ScopeStream[] = [];
    try {
      scopes.push({ scope: storeProducer.instrumentationScope, metrics: storeProducer.begin() });
    } catch (err) {
      logger.warn({ err }, 'OTLP export: reading the store failed');
    }
    if (selfProducer !== undefined) {
      const { resourceMetrics, errors } = await selfProducer.collect();
      for (const err of errors) logger.warn({ err }, 'OTLP export: reading the self metrics failed');
      for (const sm of resourceMetrics.scopeMetrics) scopes.push({ scope: sm.scope, metrics: sm.metrics.map(arrayStream) });
    }
    return scopes;
  }

  /** Hand one request to the exporter; resolves with its answer (failures are counted and logged there). */
  private send(metrics: ResourceMetrics): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        this.o.exporter.export(metrics, () => resolve());
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
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

/**
 * The HTTP surface as a `build(opts)` factory (Fastify's own testing pattern: build,
 * then `inject()` in tests, `listen()` in the CLI). One plugin per route group; the
 * app knows nothing of workers or stores, only the small functions it is given.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { metricsRoutes, type MetricsSource } from './routes/metrics.js';
import { healthRoutes, type Readiness } from './routes/health.js';
import { adminRoutes, type Reloader } from './routes/admin.js';
import { apiRoutes, type ApiSource } from './routes/api.js';
import { streamRoutes, type StreamRouteOptions } from './routes/stream.js';
import { installConnectionGuard } from './connection-guard.js';
import { connectionsCheckingIntervalMs, type WebLimits } from './limits.js';
import { ScrapeGate } from './scrape-gate.js';
import { pacedReplies } from './paced-replies.js';
import { NO_WEB_METRICS, registerWebMetrics } from './web-metrics.js';
import { consoleRoutes, type ConsoleRouteOptions } from './routes/console.js';
import { linksPage } from './console/static.js';
import type { WebSecurity } from './web-config/security.js';
import { targetChangeRoutes, type TargetChanges } from './routes/targets.js';
import { installMutationAuth, type MutationPolicy } from './mutation-auth.js';
import { probeRoutes } from './routes/probe.js';
import type { ProbeService } from '../probe-endpoint/service.js';
import { testRoutes } from './routes/tests.js';
import type { TestController } from '../ondemand/controller.js';

export interface BuildOptions {
  logger: Logger | false;
  telemetryPath: string;
  metrics: MetricsSource;
  readiness: Readiness;
  reload: Reloader;
  api: ApiSource;
  /** GET /api/v1/stream (live results over SSE); absent: no stream route (responder mode). */
  stream?: StreamRouteOptions;
  /** Caps and timeouts of the web port (README: "Limits and abusive clients"). */
  limits: WebLimits;
  /** Registry for the web port's own metrics (the self-metrics registry); none: not exported. */
  registry?: Registry;
  /** The web console at / and its API (without it, / lists the endpoints). */
  console?: Omit<ConsoleRouteOptions, 'links'>;
  /** The web configuration file in force (TLS, basic auth, headers, rate limit); none: plain HTTP, open. */
  security?: WebSecurity;
  /** Who may use the routes that change things (see mutation-auth.ts); absent: nobody (fail closed). */
  mutations?: () => MutationPolicy;
  /** POST/DELETE /api/v1/targets; absent: no such routes (responder mode). */
  targetChanges?: TargetChanges;
  /** POST/GET/DELETE /api/v1/tests (on-demand tests); absent: no such routes (responder mode). */
  tests?: TestController;
  /** GET /probe (the multi-target pattern); absent: no such route (responder mode). */
  probe?: ProbeService;
}

/**
 * A scrape whose client has read nothing for this long may lose its slot to a new
 * scrape when every web.max_requests slot is taken (see ScrapeGate). A client that
 * reads at all drains a 64 KiB slice well within it.
 */
export const SCRAPE_STALL_MS = 1000;
/**
 * Least time between two such takeovers (see ScrapeGate for why they are spaced).
 * Each admitted scrape costs a store snapshot and the first MiBs of body (~20 ms of
 * main-thread CPU at 10,000 targets); at one per second, a flood of non-readers
 * costs ~2% of a core in takeovers, and a scrape after a burst still finds a slot
 * within a second.
 */
export const SCRAPE_EVICTION_INTERVAL_MS = 1000;

/** Instrumentation is created once per process: it patches Fastify hooks via its plugin. */
let otelInstrumentation: FastifyOtelInstrumentation | null = null;

export async function build(opts: BuildOptions): Promise<FastifyInstance> {
  const { limits } = opts;
  const httpOptions = {
    headersTimeout: limits.readTimeoutMs,
    requestTimeout: limits.readTimeoutMs,
    connectionsCheckingInterval: connectionsCheckingIntervalMs(limits.readTimeoutMs),
  };
  const tls = opts.security?.serverTlsOptions() ?? null;
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    // Scrapes and health checks are frequent and uninteresting at info level.
    logController: new LogController({ disableRequestLogging: true }),
    // Big fleets produce big scrape bodies; keep the default body limit for requests.
    forceCloseConnections: true,
    // Slowloris: headers and body must arrive within the read timeout, counted from the
    // first byte of a request, or from accept for a connection that sends nothing (Node
    // checks this every connectionsCheckingInterval, 30 s by default: too coarse).
    requestTimeout: limits.readTimeoutMs,
    // An HTTPS server takes the same HTTP options along with its TLS ones.
    ...(tls ? { https: { ...httpOptions, ...tls } } : { http: httpOptions }),
    keepAliveTimeout: limits.idleTimeoutMs,
    // No socket inactivity timeout (Fastify's connectionTimeout): it would also cut a
    // long reload or API answer being computed; responses have the write timeout instead.
  });
  const webMetrics = opts.registry ? registerWebMetrics(opts.registry) : NO_WEB_METRICS;
  // Before every route: TLS client-certificate checks, headers, rate limit, basic auth.
  opts.security?.install(app as unknown as FastifyInstance);
  installConnectionGuard(app.server, { maxConnections: limits.maxConnections, metrics: webMetrics, log: opts.logger || undefined });
  // Request spans for the API (a no-op until an OTel tracer provider is registered);
  // scrapes and health probes are excluded so they do not flood a trace backend.
  otelInstrumentation ??= new FastifyOtelInstrumentation({
    ignorePaths: (route: { url: string }) => route.url === opts.telemetryPath || route.url === '/healthz' || route.url === '/readyz',
  });
  await app.register(otelInstrumentation.plugin());
  // Before any route: every route declaring config.mutation gets the rule.
  installMutationAuth(app as unknown as FastifyInstance, opts.mutations ?? (() => ({ token: null, listen: [] })));
  pacedReplies(app as unknown as FastifyInstance, { writeTimeoutMs: limits.writeTimeoutMs, metrics: webMetrics });

  await app.register(metricsRoutes, {
    path: opts.telemetryPath,
    source: opts.metrics,
    gate: new ScrapeGate(limits.maxRequests, SCRAPE_STALL_MS, SCRAPE_EVICTION_INTERVAL_MS),
    writeTimeoutMs: limits.writeTimeoutMs,
    metrics: webMetrics,
  });
  await app.register(healthRoutes, { readiness: opts.readiness });
  await app.register(adminRoutes, { reload: opts.reload });
  await app.register(apiRoutes, { source: opts.api });
  if (opts.stream) await app.register(streamRoutes, opts.stream);
  if (opts.targetChanges) await app.register(targetChangeRoutes, { changes: opts.targetChanges });
  if (opts.probe) await app.register(probeRoutes, { service: opts.probe });
  if (opts.tests) await app.register(testRoutes, { tests: opts.tests });

  const links = [opts.telemetryPath, '/healthz', '/readyz', '/api/v1/targets', '/api/v1/status'];
  if (opts.console) await app.register(consoleRoutes, { ...opts.console, links });
  else await app.register(linksPage, { links });
  return app as unknown as FastifyInstance;
}

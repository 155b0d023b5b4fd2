/**
 * The HTTP surface as a `build(opts)` factory (Fastify's own testing pattern: build,
 * then `inject()` in tests, `listen()` in the CLI). One plugin per route group; the
 * app knows nothing of workers or stores, only the small functions it is given.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { metricsRoutes, type MetricsSource } from './routes/metrics.js';
import { healthRoutes, type Readiness } from './routes/health.js';
import { adminRoutes, type Reloader } from './routes/admin.js';
import { apiRoutes, type ApiSource } from './routes/api.js';
import { consoleRoutes, type ConsoleRouteOptions } from './routes/console.js';
import { linksPage } from './console/static.js';

export interface BuildOptions {
  logger: Logger | false;
  telemetryPath: string;
  metrics: MetricsSource;
  readiness: Readiness;
  reload: Reloader;
  api: ApiSource;
  /** The web console at / and its API (without it, / lists the endpoints). */
  console?: Omit<ConsoleRouteOptions, 'links'>;
}

/** Instrumentation is created once per process: it patches Fastify hooks via its plugin. */
let otelInstrumentation: FastifyOtelInstrumentation | null = null;

export async function build(opts: BuildOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(opts.logger ? { loggerInstance: opts.logger } : { logger: false }),
    // Scrapes and health checks are frequent and uninteresting at info level.
    logController: new LogController({ disableRequestLogging: true }),
    // Big fleets produce big scrape bodies; keep the default body limit for requests.
    forceCloseConnections: true,
  });
  // Request spans for the API (a no-op until an OTel tracer provider is registered);
  // scrapes and health probes are excluded so they do not flood a trace backend.
  otelInstrumentation ??= new FastifyOtelInstrumentation({
    ignorePaths: (route: { url: string }) =>
      route.url === opts.telemetryPath || route.url === '/healthz' || route.url === '/readyz',
  } as ConstructorParameters<typeof FastifyOtelInstrumentation>[0]);
  await app.register(otelInstrumentation.plugin());

  await app.register(metricsRoutes, { path: opts.telemetryPath, source: opts.metrics });
  await app.register(healthRoutes, { readiness: opts.readiness });
  await app.register(adminRoutes, { reload: opts.reload });
  await app.register(apiRoutes, { source: opts.api });

  const links = [opts.telemetryPath, '/healthz', '/readyz', '/api/v1/targets', '/api/v1/status'];
  if (opts.console) await app.register(consoleRoutes, { ...opts.console, links });
  else await app.register(linksPage, { links });
  return app as unknown as FastifyInstance;
}

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
import { streamRoutes, type StreamRouteOptions } from './routes/stream.js';
import { targetChangeRoutes, type TargetChanges } from './routes/targets.js';
import { installMutationAuth, type MutationPolicy } from './mutation-auth.js';

export interface BuildOptions {
  logger: Logger | false;
  telemetryPath: string;
  metrics: MetricsSource;
  readiness: Readiness;
  reload: Reloader;
  api: ApiSource;
  /** GET /api/v1/stream (live results over SSE); absent: no stream route (responder mode). */
  stream?: StreamRouteOptions;
  /** Who may use the routes that change things (see mutation-auth.ts); absent: nobody (fail closed). */
  mutations?: () => MutationPolicy;
  /** POST/DELETE /api/v1/targets; absent: no such routes (responder mode). */
  targetChanges?: TargetChanges;
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
  // Before any route: every route declaring config.mutation gets the rule.
  installMutationAuth(app as unknown as FastifyInstance, opts.mutations ?? (() => ({ token: null, listen: [] })));

  await app.register(metricsRoutes, { path: opts.telemetryPath, source: opts.metrics });
  await app.register(healthRoutes, { readiness: opts.readiness });
  await app.register(adminRoutes, { reload: opts.reload });
  await app.register(apiRoutes, { source: opts.api });
  if (opts.stream) await app.register(streamRoutes, opts.stream);
  if (opts.targetChanges) await app.register(targetChangeRoutes, { changes: opts.targetChanges });

  app.get('/', { config: { otel: false } }, async (_req, reply) => {
    reply.type('text/html; charset=utf-8');
    return `<!doctype html><html><head><title>fleetprobe</title></head><body><h1>fleetprobe</h1>
<ul><li><a href="${opts.telemetryPath}">${opts.telemetryPath}</a></li><li><a href="/healthz">/healthz</a></li>
<li><a href="/readyz">/readyz</a></li><li><a href="/api/v1/targets">/api/v1/targets</a></li>
<li><a href="/api/v1/status">/api/v1/status</a></li></ul></body></html>`;
  });
  return app as unknown as FastifyInstance;
}

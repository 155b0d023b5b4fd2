/** GET <telemetry path>: the whole exposition (per-target families + self metrics), gzip when asked. */
import type { FastifyInstance } from 'fastify';
import { acceptsGzip, type RenderedMetrics } from '../../metrics/scrape.js';

export type MetricsSource = (opts: { gzip: boolean }) => Promise<RenderedMetrics> | RenderedMetrics;

export async function metricsRoutes(app: FastifyInstance, opts: { path: string; source: MetricsSource }): Promise<void> {
  app.get(opts.path, { config: { otel: false } }, async (req, reply) => {
    const rendered = await opts.source({ gzip: acceptsGzip(req.headers['accept-encoding']) });
    reply.headers(rendered.headers);
    return reply.send(rendered.body);
  });
}

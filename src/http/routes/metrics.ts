/** GET <telemetry path>: the whole exposition (per-target families + self metrics), gzip when asked. */
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';

export interface RenderedMetrics {
  body: Buffer | string | Readable;
  headers: Record<string, string>;
}
export type MetricsSource = (opts: { gzip: boolean }) => Promise<RenderedMetrics> | RenderedMetrics;

/** True when the client lists gzip with a non-zero q in Accept-Encoding. */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  for (const part of value.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

export async function metricsRoutes(app: FastifyInstance, opts: { path: string; source: MetricsSource }): Promise<void> {
  app.get(opts.path, { config: { otel: false } }, async (req, reply) => {
    const rendered = await opts.source({ gzip: acceptsGzip(req.headers['accept-encoding']) });
    reply.headers(rendered.headers);
    return reply.send(rendered.body);
  });
}

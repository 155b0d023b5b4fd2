/**
 * GET /probe?target=…&kind=…: the multi-target pattern (src/probe-endpoint/). A read,
 * not a mutation (no token), guarded by probe_endpoint.allow_cidrs and
 * probe_endpoint.max_concurrent instead. A client that goes away ends the burst early.
 */
import type { FastifyInstance } from 'fastify';
import type { ProbeService } from '../../probe-endpoint/service.js';

export interface ProbeRouteOptions {
  service: ProbeService;
}

export function probeRoutes(app: FastifyInstance, opts: ProbeRouteOptions): Promise<void> {
  app.get('/probe', async (req, reply) => {
    const abort = new AbortController();
    const onClose = (): void => {
      if (!reply.raw.writableFinished) abort.abort();
    };
    reply.raw.once('close', onClose);
    try {
      const params = new URL(req.url, 'http://localhost').searchParams;
      const answer = await opts.service.handle(params, req.headers['x-prometheus-scrape-timeout-seconds'], abort.signal);
      reply.code(answer.status).header('content-type', answer.contentType);
      for (const [k, v] of Object.entries(answer.headers ?? {})) reply.header(k, v);
      return answer.body;
    } finally {
      reply.raw.off('close', onClose);
    }
  });
  return Promise.resolve();
}

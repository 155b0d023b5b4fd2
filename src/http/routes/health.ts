/**
 * /healthz: the process serves HTTP (liveness). /readyz: every worker has delivered a
 * batch since it (re)started, so /metrics reflects live probing (readiness).
 */
import type { FastifyInstance } from 'fastify';

export type Readiness = () => { ready: boolean; reason?: string };

export function healthRoutes(app: FastifyInstance, opts: { readiness: Readiness }): void {
  app.get('/healthz', { config: { otel: false } }, () => 'ok\n');
  app.get('/readyz', { config: { otel: false } }, async (_req, reply) => {
    const r = opts.readiness();
    if (!r.ready) return reply.code(503).send(`not ready: ${r.reason ?? 'starting'}\n`);
    return 'ready\n';
  });
}

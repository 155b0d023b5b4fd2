/** POST (or PUT) /-/reload: re-read configuration and targets, as SIGHUP does (Prometheus convention). */
import type { FastifyInstance } from 'fastify';

export type Reloader = () => Promise<{ ok: boolean; error?: string }>;

export async function adminRoutes(app: FastifyInstance, opts: { reload: Reloader }): Promise<void> {
  const handler = async (_req: unknown, reply: { code(n: number): { send(b: unknown): unknown } }) => {
    const r = await opts.reload();
    return r.ok ? reply.code(200).send({ status: 'reloaded' }) : reply.code(500).send({ status: 'error', error: r.error });
  };
  app.post('/-/reload', handler);
  app.put('/-/reload', handler);
}

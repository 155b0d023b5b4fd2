/** Read-only JSON views of the target set and the workers. */
import type { FastifyInstance } from 'fastify';

export interface TargetStatus {
  name: string;
  kind: string;
  address: string;
  /** ok: probing; unresolved: DNS failed (retrying); rejected: invalid, not probed. */
  state: 'ok' | 'unresolved' | 'rejected' | 'pending';
  ip?: string;
  worker?: number;
  error?: string;
  source?: string;
  labels?: Record<string, string>;
}

export interface ApiSource {
  targets(): TargetStatus[];
  status(): Record<string, unknown>;
}

export async function apiRoutes(app: FastifyInstance, opts: { source: ApiSource }): Promise<void> {
  app.get('/api/v1/targets', async (req) => {
    const { state } = req.query as { state?: string };
    const all = opts.source.targets();
    return { targets: state ? all.filter((t) => t.state === state) : all };
  });
  app.get('/api/v1/status', async () => opts.source.status());
}

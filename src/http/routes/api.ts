/** Read-only JSON views of the target set and the workers. */
import type { FastifyInstance } from 'fastify';

/** The states of GET /api/v1/targets (and the values `?state=` accepts). */
export const TARGET_API_STATES = ['ok', 'unresolved', 'rejected', 'pending'] as const;
export type TargetApiState = (typeof TARGET_API_STATES)[number];

export interface TargetStatus {
  name: string;
  /** null for a rejection that is not one entry (a target file that failed to read). */
  kind: string | null;
  /** Address (or url) as configured; null as for kind. */
  address: string | null;
  /** ok: probing; unresolved: DNS failed (retrying); rejected: invalid, not probed; pending: not placed on a worker yet. */
  state: TargetApiState;
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

export function apiRoutes(app: FastifyInstance, opts: { source: ApiSource }): void {
  app.get('/api/v1/targets', async (req, reply) => {
    const { state } = req.query as { state?: unknown };
    // A typo must not look like "no target is in that state".
    if (state !== undefined && !(TARGET_API_STATES as readonly unknown[]).includes(state)) {
      return reply.code(400).send({ error: `unknown state ${JSON.stringify(state)}; valid states: ${TARGET_API_STATES.join(', ')}` });
    }
    const all = opts.source.targets();
    return { targets: state ? all.filter((t) => t.state === state) : all };
  });
  app.get('/api/v1/status', () => opts.source.status());
}

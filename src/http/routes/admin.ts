/**
 * POST (or PUT) /-/reload: re-read configuration and targets, as SIGHUP does
 * (Prometheus convention). The answer comes after the reload is applied or refused,
 * and says which, with every problem:
 *
 *   200 reloaded  everything new was read and applied;
 *   400 invalid   the new configuration is invalid: nothing changed;
 *   400 partial   applied, but target files failed to read and keep their last good
 *                 targets (the input is bad, so a 4xx: `curl -f` and scripts notice);
 *   500 failed    applying failed and was rolled back: nothing changed.
 *
 * Like every mutation it needs the API token, or, with none configured, a web listener
 * on loopback only (401/403 otherwise; src/http/mutation-auth.ts).
 */
import type { FastifyInstance } from 'fastify';

export interface ReloadProblem {
  /** Config key, flag or file ("probe_defaults.interval", "targets.json"). */
  key: string;
  message: string;
  /** The offending value as JSON, cut short. */
  value?: string;
}

export type ReloadStatus = 'reloaded' | 'partial' | 'invalid' | 'failed';

export interface ReloadResult {
  status: ReloadStatus;
  /** Whether the new configuration is now in effect. */
  applied: boolean;
  problems: ReloadProblem[];
  /** Targets probed and entries rejected once the reload is done (absent when it changed nothing). */
  targets?: number;
  rejected?: number;
}

/** The HTTP status of each outcome (declared once; the README documents the same table). */
export const RELOAD_HTTP_STATUS: Readonly<Record<ReloadStatus, number>> = { reloaded: 200, partial: 400, invalid: 400, failed: 500 };

export type Reloader = () => Promise<ReloadResult>;

export function adminRoutes(app: FastifyInstance, opts: { reload: Reloader }): void {
  const handler = async (_req: unknown, reply: { code(n: number): { send(b: unknown): unknown } }) => {
    const r = await opts.reload();
    return reply.code(RELOAD_HTTP_STATUS[r.status]).send(r);
  };
  // A mutation: the token, or loopback-only without one (src/http/mutation-auth.ts).
  app.post('/-/reload', { config: { mutation: true } }, handler);
  app.put('/-/reload', { config: { mutation: true } }, handler);
}

/**
 * The Targets API's changes (GET /api/v1/targets, the read, lives in api.ts):
 *
 *   POST   /api/v1/targets[?replace=1]  body: one target, or a list of them (all or nothing)
 *   DELETE /api/v1/targets/NAME         NAME URL-encoded ("a%2Fb" for "a/b")
 *
 * Both are mutations (src/http/mutation-auth.ts: the token, or loopback-only without
 * one). What they do is the exporter's (src/targets/api-controller.ts); this plugin
 * turns HTTP into calls and answers into HTTP, and gives a malformed request (not
 * JSON, too large, wrong content type) the same `{error, message, problems}` answer as
 * an invalid target.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { API_BOUNDS } from '../../config/bounds.js';

export interface ApiAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface TargetChanges {
  /** POST /api/v1/targets. */
  add(body: unknown, opts: { replace: boolean }): Promise<ApiAnswer>;
  /** DELETE /api/v1/targets/NAME. */
  remove(name: string): Promise<ApiAnswer>;
}

/** ?replace= values (absent: false). */
const REPLACE_VALUES: Readonly<Record<string, boolean>> = { '1': true, true: true, '0': false, false: false };

/** The error code of each Fastify request error a client can cause here. */
function requestErrorCode(err: FastifyError): string {
  if (err.statusCode === 413) return 'body_too_large';
  if (err.statusCode === 415) return 'unsupported_media_type';
  return 'bad_request';
}

export function targetChangeRoutes(app: FastifyInstance, opts: { changes: TargetChanges }): void {
  // Only for this plugin's routes (encapsulated): errors of the request itself, in the API's format.
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      reply.log.error({ err }, 'targets API request failed');
      return reply.code(500).send({ error: 'internal', message: err.message });
    }
    let message = err.message;
    if (status === 415) message = `${message}; send the target as JSON with "Content-Type: application/json"`;
    if (status === 413) message = `the body is larger than ${API_BOUNDS.bodyBytes} bytes; send the targets in several requests`;
    return reply.code(status).send({ error: requestErrorCode(err), message, problems: [{ key: 'body', message }] });
  });

  const send = (reply: { code(n: number): { headers(h: Record<string, string>): { send(b?: unknown): unknown } } }, a: ApiAnswer) =>
    reply
      .code(a.status)
      .headers(a.headers ?? {})
      .send(a.body);

  app.post('/api/v1/targets', { config: { mutation: true }, bodyLimit: API_BOUNDS.bodyBytes }, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const replace = q.replace === undefined ? false : typeof q.replace === 'string' ? REPLACE_VALUES[q.replace] : undefined;
    if (replace === undefined) {
      const message = `replace must be 1 or 0 (true or false), got ${JSON.stringify(q.replace)}`;
      return reply.code(400).send({ error: 'bad_request', message, problems: [{ key: 'replace', message }] });
    }
    return send(reply, await opts.changes.add(req.body, { replace }));
  });

  // A wildcard, not ":name": a target name may contain "/" (sent as %2F).
  app.delete('/api/v1/targets/*', { config: { mutation: true } }, async (req, reply) => {
    const name = (req.params as { '*': string })['*'];
    return send(reply, await opts.changes.remove(name));
  });
}

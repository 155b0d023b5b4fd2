/**
 * GET /api/v1/stream: live probe results and target states as Server-Sent Events.
 *
 *   ?target=NAME (repeatable)  &label=key=value (repeatable)  &mode=once|stream
 *
 * Answers before committing to a stream: 401 (token required and missing/wrong),
 * 400 listing every problem of the query, 404 naming unknown targets (or saying that
 * nothing matches), 429 when stream.max_clients subscribers are connected. Then the
 * reply is hijacked and the hub writes events to the raw response (src/stream/).
 */
import type { FastifyInstance } from 'fastify';
import { authorizeRead, type TokenPolicy } from '../../auth/token.js';
import { StreamError, type StreamHub } from '../../stream/hub.js';
import { parseStreamQuery } from '../../stream/query.js';
import { SseSink } from '../../stream/sse-sink.js';

export interface StreamRouteOptions {
  hub: StreamHub;
  /** Read per request, so a reload's token applies at once. */
  tokenPolicy: () => TokenPolicy;
  /** How long a finished or dropped client may take to read what is left (stream.stall_timeout). */
  stallTimeoutMs: () => number;
}

export function streamRoutes(app: FastifyInstance, opts: StreamRouteOptions): void {
  const { hub } = opts;
  // No request span: a stream lives as long as its client, and its span would never end.
  app.get('/api/v1/stream', { config: { otel: false } }, async (req, reply) => {
    const auth = authorizeRead(opts.tokenPolicy(), req.headers.authorization);
    if (!auth.ok) {
      hub.countRejected('sse', 'unauthorized');
      return reply.code(401).header('www-authenticate', 'Bearer realm="fleetprobe"').send({ error: auth.code, message: auth.message });
    }
    const q = parseStreamQuery(new URL(req.url, 'http://localhost').searchParams);
    if (!q.ok) {
      hub.countRejected('sse', 'invalid');
      return reply.code(400).send({ error: 'bad_request', message: q.problems.join('; '), problems: q.problems });
    }
    const sink = new SseSink(reply.raw, { headers: reply.getHeaders() as Record<string, string | number | string[]>, graceMs: opts.stallTimeoutMs() });
    try {
      hub.subscribe('sse', { selection: q.selection, mode: q.mode, sink });
    } catch (e) {
      sink.abandon();
      if (!(e instanceof StreamError)) throw e;
      if (e.code === 'limit') return reply.code(429).header('retry-after', '10').send({ error: 'too_many_subscribers', message: e.message });
      return reply.code(404).send({ error: 'not_found', message: e.message, unknown: e.unknown });
    }
    // From here the hub owns the response.
    reply.hijack();
    sink.start();
  });
}

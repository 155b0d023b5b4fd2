/**
 * The write timeout for every reply, not only scrapes: a reply bigger than 64 KiB
 * (an /api/v1/targets of a big fleet is MBs of JSON) is sent through a PacedBody,
 * so a client that stops reading it is dropped after web.write_timeout and the
 * reply's memory is freed. Without this, Fastify writes the whole reply in one
 * socket write, which stays pending (holding the reply) for as long as the client
 * does not read, with no timeout at all.
 *
 * Smaller replies are sent as they are: they fit in the kernel's socket buffers
 * at once, so a client that does not read them costs the process nothing.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { watchFlush } from './flush-watch.js';
import { PacedBody } from './paced-body.js';
import type { WebMetrics } from './web-metrics.js';
import { resetConnection } from './tcp-socket.js';

export const PACED_REPLY_MIN_BYTES = 64 * 1024;

export function pacedReplies(app: FastifyInstance, opts: { writeTimeoutMs: number; metrics: WebMetrics }): void {
  app.addHook('onSend', async (req, reply, payload) => {
    if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return payload;
    const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (bytes <= PACED_REPLY_MIN_BYTES) return payload;
    const buf = typeof payload === 'string' ? Buffer.from(payload) : payload;
    reply.header('content-length', buf.length);
    // Counted and reset here; the body then ends as a premature close, which Fastify
    // does not log (request logging is off), so a flood of such clients floods no log.
    const drop = (): void => {
      opts.metrics.dropped('write_timeout');
      resetConnection(req.socket);
    };
    const body = new PacedBody(Readable.from([buf]), { writeTimeoutMs: opts.writeTimeoutMs, onWriteTimeout: drop });
    const flush = watchFlush(body, reply.raw, { writeTimeoutMs: opts.writeTimeoutMs, onTimeout: drop });
    reply.raw.once('close', () => flush.stop());
    return body;
  });
}

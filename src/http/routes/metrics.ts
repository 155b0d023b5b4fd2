/**
 * GET <telemetry path>: the whole exposition (per-target families + self metrics),
 * gzip when asked, streamed at the pace the client reads.
 *
 * Admission: at most web.max_requests scrapes at once (ScrapeGate); beyond, 503 at
 * once, unless a scrape whose client stopped reading can be closed to make room.
 * The body is a PacedBody piped into the raw response (the reply is hijacked so
 * the pipeline, not Fastify, owns the stream): a client that reads nothing for
 * web.write_timeout, while the body is produced or while its last bytes flush, is
 * dropped, and dropping it, or the client closing, destroys the body and with it
 * the store snapshot.
 */
import { pipeline } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { acceptedFormat, acceptsGzip, type ExpositionFormat, type RenderedMetrics } from '../../metrics/scrape.js';
import { watchFlush, type FlushWatch } from '../flush-watch.js';
import { PacedBody } from '../paced-body.js';
import type { ScrapeGate, ScrapeSlot } from '../scrape-gate.js';
import type { WebMetrics } from '../web-metrics.js';
import { resetConnection } from '../tcp-socket.js';

export type MetricsSource = (opts: { gzip: boolean; format: ExpositionFormat }) => Promise<RenderedMetrics> | RenderedMetrics;

export interface MetricsRouteOptions {
  path: string;
  source: MetricsSource;
  gate: ScrapeGate;
  writeTimeoutMs: number;
  metrics: WebMetrics;
}

export async function metricsRoutes(app: FastifyInstance, opts: MetricsRouteOptions): Promise<void> {
  const { gate, metrics } = opts;
  app.get(opts.path, { config: { otel: false } }, async (req, reply) => {
    const res = reply.raw;
    let body: PacedBody | null = null;
    let flush: FlushWatch | null = null;
    // A client that stopped reading is reset, not closed: a plain close would leave the
    // unsent MiBs in the kernel's send buffer of an orphaned socket for minutes.
    const drop = (reason: 'write_timeout' | 'scrape_stalled'): void => {
      metrics.dropped(reason);
      req.log.debug({ reason, remote: req.ip }, 'scrape dropped');
      resetConnection(req.socket);
      body?.destroy();
    };
    const slot: ScrapeSlot = {
      waitingSince: () => body?.waitingSince() ?? flush?.waitingSince() ?? null,
      evict: () => drop('scrape_stalled'),
    };
    if (!gate.admit(slot).admitted) {
      metrics.scrapeRefused();
      return reply
        .code(503)
        .header('content-type', 'text/plain; charset=utf-8')
        .send(`too many concurrent scrapes (web.max_requests = ${gate.max}), try again\n`);
    }
    metrics.scrapeStarted();
    // One listener for all that ends with the response (a response collects many: pipeline, Fastify, ...).
    res.once('close', () => {
      flush?.stop();
      gate.release(slot);
      metrics.scrapeEnded(res.statusCode);
    });

    // Errors here (before any byte is sent) become Fastify's 500; the close above releases the slot.
    const rendered = await opts.source({ gzip: acceptsGzip(req.headers['accept-encoding']), format: acceptedFormat(req.headers.accept) });
    reply.hijack();
    if (res.destroyed) {
      // The client went away while the body was being prepared: nothing to send.
      rendered.body.destroy();
      return reply;
    }
    body = new PacedBody(rendered.body, { writeTimeoutMs: opts.writeTimeoutMs, onWriteTimeout: () => drop('write_timeout') });
    flush = watchFlush(body, res, { writeTimeoutMs: opts.writeTimeoutMs, onTimeout: () => drop('write_timeout') });
    res.writeHead(200, rendered.headers);
    pipeline(body, res, () => {
      // Errors are the client going away (or a drop above, already counted): nothing to report.
    });
    return reply;
  });
}

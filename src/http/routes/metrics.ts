/**
 * GET <telemetry path>: the whole exposition (per-target families + self metrics),
 * gzip when asked, streamed at the pace the client reads.
 *
 * Admission: at most web.max_requests scrapes at once (ScrapeGate); beyond, 503 at
 * once, unless a scrape whose client stopped reading can be closed to make room.
 * The body is a PacedBody piped into the raw response (the reply is hijacked so
 * the pipeline, not Fastify, owns the stream): a client that reads nothing for
 * web.write_timeout is dropped, and dropping it, or the client closing, destroys
 * the body and with it the store snapshot.
 */
import { pipeline } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { acceptsGzip, type RenderedMetrics } from '../../metrics/scrape.js';
import { BODY_EVICTED_CODE, BodyEvictedError, PacedBody, WRITE_TIMEOUT_CODE } from '../paced-body.js';
import type { ScrapeGate, ScrapeSlot } from '../scrape-gate.js';
import type { WebMetrics } from '../web-metrics.js';

export type MetricsSource = (opts: { gzip: boolean }) => Promise<RenderedMetrics> | RenderedMetrics;

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
    const slot: ScrapeSlot = {
      waitingSince: () => body?.waitingSince() ?? null,
      evict: () => {
        // Only a scrape with a body can be waiting on its client, so `body` is set here.
        if (body !== null) body.destroy(new BodyEvictedError());
        else res.destroy();
      },
    };
    if (!gate.admit(slot).admitted) {
      metrics.scrapeRefused();
      return reply
        .code(503)
        .header('content-type', 'text/plain; charset=utf-8')
        .send(`too many concurrent scrapes (web.max_requests = ${gate.max}), try again\n`);
    }
    metrics.scrapeStarted();
    res.once('close', () => {
      gate.release(slot);
      metrics.scrapeEnded(res.statusCode);
    });

    // Errors here (before any byte is sent) become Fastify's 500; the close above releases the slot.
    const rendered = await opts.source({ gzip: acceptsGzip(req.headers['accept-encoding']) });
    if (res.destroyed) {
      rendered.body.destroy();
      return reply;
    }
    body = new PacedBody(rendered.body, { writeTimeoutMs: opts.writeTimeoutMs });
    body.once('error', (err: NodeJS.ErrnoException) => {
      // A client that stopped reading: reset rather than close. A plain close would leave
      // the unsent MiBs in the kernel's send buffer of an orphaned socket for minutes.
      if (err.code === WRITE_TIMEOUT_CODE || err.code === BODY_EVICTED_CODE) req.socket.resetAndDestroy();
    });
    reply.hijack();
    res.writeHead(200, rendered.headers);
    pipeline(body, res, (err) => {
      if (!err) return;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === WRITE_TIMEOUT_CODE) metrics.dropped('write_timeout');
      else if (code === BODY_EVICTED_CODE) metrics.dropped('scrape_stalled');
      if (code === WRITE_TIMEOUT_CODE || code === BODY_EVICTED_CODE) req.log.debug({ err: err.message, remote: req.ip }, 'scrape dropped');
      // Anything else is the client going away (premature close): nothing to report.
    });
    return reply;
  });
}

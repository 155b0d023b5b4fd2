/**
 * The web console: its files at / and the read-only JSON API its views poll.
 *
 *   GET /api/v1/console/capabilities        which optional APIs this node has (on-demand tests, live stream)
 *   GET /api/v1/console/overview            fleet figures, targets by state/kind/health, worst targets, workers, reload state
 *   GET /api/v1/console/targets             every target, columnar JSON (ETag = target-set generation; gzip when asked)
 *   GET /api/v1/console/targets/live        loss, last RTT and RTT p99 of every target: binary Float32 columns
 *   GET /api/v1/console/target?name=N       one target: counters, errors by reason, history, open period
 *   GET /api/v1/console/matrix?rows=&cols=&window=        the matrix (in mesh mode: every peer's row too)
 *   GET /api/v1/console/matrix/local?cols=&window=        this node's row (what peers fetch)
 *
 * Polled endpoints opt out of request spans (`otel: false`), like /metrics.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { mergeRows, type MissingRow, type NodeRow } from '../../aggregate/matrix.js';
import { ConsoleModel, LIVE_HEADER_BYTES, type ConsoleSource, type MatrixWindow } from '../console/model.js';
import { PeerRows } from '../console/peers.js';
import { consoleStatic } from '../console/static.js';
import { acceptsGzip } from '../../metrics/scrape.js';

export interface ConsoleRouteOptions {
  source: ConsoleSource;
  /** The port peers serve their API on: this node's own web port (read per request: known once listening). */
  peerPort: () => number;
  /** Links for the page shown when the console's files are not built. */
  links: string[];
  /** Directory of the built console (tests). */
  dir?: string;
  peerRows?: PeerRows;
}

const POLLED = { config: { otel: false } } as const;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function badRequest(reply: FastifyReply, message: string) {
  return reply.code(400).send({ error: 'bad_request', message });
}

export async function consoleRoutes(app: FastifyInstance, opts: ConsoleRouteOptions): Promise<void> {
  const model = new ConsoleModel(opts.source);
  const peers = opts.peerRows ?? new PeerRows();

  app.get('/api/v1/console/overview', POLLED, async (_req, reply) => {
    reply.header('cache-control', 'no-store');
    return model.overview();
  });

  // What else this fleetprobe serves that the console can use (asked once, so the
  // console never probes a missing endpoint and logs a 404).
  app.get('/api/v1/console/capabilities', () => ({
    tests: app.hasRoute({ method: 'POST', url: '/api/v1/tests' }),
    stream: app.hasRoute({ method: 'GET', url: '/api/v1/stream' }),
    history: model.historyInfo(),
  }));

  app.get('/api/v1/console/targets', POLLED, async (req, reply) => {
    const cat = model.catalog();
    const etag = `"g${cat.generation}"`;
    reply.header('etag', etag).header('cache-control', 'no-cache');
    reply.header('vary', 'accept-encoding');
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    reply.type('application/json; charset=utf-8');
    if (acceptsGzip(req.headers['accept-encoding'])) return reply.header('content-encoding', 'gzip').send(cat.toGzip());
    return reply.send(cat.toJson());
  });

  app.get('/api/v1/console/targets/live', POLLED, async (_req, reply) => {
    const live = model.live();
    // Little-endian Float32 columns after an 8-byte header (generation, count: Uint32).
    reply
      .header('cache-control', 'no-store')
      .header('x-fleetprobe-layout', `u32 generation, u32 count @0; f32 loss[count] @${LIVE_HEADER_BYTES}; f32 last_rtt[count]; f32 p99_5m[count]`);
    return reply.type('application/octet-stream').send(Buffer.from(live.buffer));
  });

  app.get('/api/v1/console/target', POLLED, async (req, reply) => {
    const { name } = req.query as { name?: string };
    if (typeof name !== 'string' || name === '') return badRequest(reply, 'name is required (?name=TARGET)');
    const t = model.target(name);
    if (t === null) return reply.code(404).send({ error: 'not_found', message: `no target named ${JSON.stringify(name)}` });
    reply.header('cache-control', 'no-store');
    return t;
  });

  /** cols and window from a query, or a 400 answer. */
  function matrixQuery(q: Record<string, string | undefined>, reply: FastifyReply): { cols: string; window: MatrixWindow; windowText: string } | null {
    const cols = q.cols ?? 'target';
    if (!LABEL_RE.test(cols)) {
      void badRequest(reply, `cols must be a label name, got ${JSON.stringify(cols)}`);
      return null;
    }
    try {
      const window = model.parseWindow(q.window);
      return { cols, window, windowText: ConsoleModel.windowText(window) };
    } catch (e) {
      void badRequest(reply, (e as Error).message);
      return null;
    }
  }

  app.get('/api/v1/console/matrix/local', POLLED, async (req, reply) => {
    const q = matrixQuery(req.query as Record<string, string | undefined>, reply);
    if (q === null) return reply;
    reply.header('cache-control', 'no-store');
    return model.localRow(q.cols, q.window);
  });

  app.get('/api/v1/console/matrix', POLLED, async (req, reply) => {
    const query = req.query as Record<string, string | undefined>;
    const q = matrixQuery(query, reply);
    if (q === null) return reply;
    const rowsLabel = query.rows ?? 'prober';
    if (!LABEL_RE.test(rowsLabel)) return badRequest(reply, `rows must be a label name, got ${JSON.stringify(rowsLabel)}`);
    const node = opts.source.node();
    const rows: (NodeRow | MissingRow)[] = [model.localRow(q.cols, q.window)];
    const nodes: { node: string; ok: boolean; error: string | null; ms: number; cached: boolean }[] = [
      { node: node.name, ok: true, error: null, ms: 0, cached: false },
    ];
    if (node.mesh) {
      const port = opts.peerPort();
      const got = await Promise.all(opts.source.peers().map((p) => peers.row(p, port, q.cols, q.windowText)));
      for (const r of got) {
        rows.push(r.row);
        nodes.push({ node: r.row.node, ok: !('error' in r.row), error: 'error' in r.row ? r.row.error : null, ms: Math.round(r.ms), cached: r.cached });
      }
    }
    const m = mergeRows(rows, rowsLabel, q.cols);
    reply.header('cache-control', 'no-store');
    return { ...m, window: q.windowText, windows: model.windows(), labels: model.matrixLabels(), mesh: node.mesh, nodes };
  });

  await consoleStatic(app, { dir: opts.dir, links: opts.links });
}

/**
 * The matrix in mesh mode over real HTTP on loopback: a node fetches its peers' rows
 * from their /api/v1/console/matrix/local (same port, each peer on its own 127.0.0.X)
 * and merges them; a peer that refuses the connection, one that never answers, and
 * one that answers garbage each become a row marked missing with the reason, while
 * the others are shown. Rows are cached for the TTL and a burst of requests costs a
 * peer one fetch.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { build } from '../../src/http/app.js';
import { TargetStore } from '../../src/aggregate/store.js';
import { History } from '../../src/aggregate/history.js';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ProbeEvent } from '../../src/protocol/events.js';
import { PeerRows } from '../../src/http/console/peers.js';
import type { ConsoleEntry } from '../../src/http/console/catalog.js';
import type { ConsoleSource, PeerAddress } from '../../src/http/console/model.js';
import { portFreeOnAll } from '../helpers/mesh-ports.js';

const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6'];
const RACK: Record<string, string> = { n1: 'r1', n2: 'r1', n3: 'r2', n4: 'r2', n5: 'r3', n6: 'r3' };
const PEERS: PeerAddress[] = HOSTS.slice(1).map((address, i) => ({ name: `n${i + 2}`, address, labels: { rack: RACK[`n${i + 2}`] } }));

/** A node probing every other node; `lossTo` gets this share of its probes lost. */
function node(name: string, lossTo: Record<string, number>): { source: ConsoleSource } {
  const store = new TargetStore();
  const entries: ConsoleEntry[] = [];
  const others = ['n1', ...PEERS.map((p) => p.name)].filter((n) => n !== name);
  const w = new BatchWriter(1024);
  others.forEach((peer, slot) => {
    const labels = { peer, prober: name, rack: RACK[peer] };
    store.defineSlot(slot, { name: `${peer}/icmp`, kind: 'icmp', address: peer, labels });
    entries.push({ slot, name: `${peer}/icmp`, kind: 'icmp', address: peer, labels, state: 'ok' });
    const lost = Math.round(100 * (lossTo[peer] ?? 0));
    for (let k = 0; k < 100; k++) {
      w.push(slot, ProbeEvent.Sent, 0, 0, 0);
      if (k < lost) w.push(slot, ProbeEvent.Timeout, 0, 0, 0);
      else w.push(slot, ProbeEvent.Reply, 0, 0, 0.0002);
    }
  });
  store.applyBatch(w.take(0, 1));
  const history = new History(store, { retentionMs: 600_000, resolutionMs: 1000 });
  return {
    source: {
      store,
      history,
      generation: () => 1,
      entries: () => entries,
      status: () => ({}),
      workers: () => [],
      node: () => ({ name, labels: { rack: RACK[name] }, mesh: true }),
      peers: () => (name === 'n1' ? PEERS : []),
    },
  };
}

const apps: FastifyInstance[] = [];
const servers: Server[] = [];
const sockets = new Set<Socket>();
after(async () => {
  for (const s of sockets) s.destroy();
  for (const s of servers) await new Promise((r) => s.close(r));
  for (const a of apps) await a.close();
});

async function serve(source: ConsoleSource, host: string, port: number, peerRows?: PeerRows, counter?: { n: number }): Promise<FastifyInstance> {
  const app = await build({
    logger: false,
    telemetryPath: '/metrics',
    metrics: () => ({ body: '', headers: {} }),
    readiness: () => ({ ready: true }),
    reload: () => Promise.resolve({ status: 'reloaded', applied: true, problems: [] }),
    api: { targets: () => [], status: () => ({}) },
    console: { source, peerPort: () => port, peerRows },
    limits: { maxRequests: 40, maxConnections: 100, readTimeoutMs: 5000, writeTimeoutMs: 5000, idleTimeoutMs: 5000 },
  } as unknown as Parameters<typeof build>[0]);
  if (counter) {
    app.addHook('onRequest', (req, _reply, done) => {
      if (req.url.startsWith('/api/v1/console/matrix/local')) counter.n++;
      done();
    });
  }
  await app.listen({ host, port });
  apps.push(app);
  return app;
}

/** A TCP server on host:port: `hang` accepts and never answers; `garbage` answers 200 with a body that is not a row. */
async function rogue(host: string, port: number, mode: 'hang' | 'garbage'): Promise<void> {
  const srv = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    if (mode === 'garbage')
      sock.once('data', () => sock.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 12\r\nconnection: close\r\n\r\n{"node": 42}'));
  });
  await new Promise<void>((resolve) => srv.listen(port, host, resolve));
  servers.push(srv);
}

test("mesh matrix: every peer's row fetched over HTTP and merged; unreachable, silent and malformed peers are named", async () => {
  const port = await portFreeOnAll(HOSTS);
  const counter = { n: 0 };
  // n2 loses 50% toward n3; n3 loses nothing; n4 has nothing listening (connection refused).
  await serve(node('n2', { n3: 0.5 }).source, '127.0.0.2', port, undefined, counter);
  await serve(node('n3', {}).source, '127.0.0.3', port);
  await rogue('127.0.0.5', port, 'hang');
  await rogue('127.0.0.6', port, 'garbage');
  const rows = new PeerRows({ timeoutMs: 400, ttlMs: 60_000 });
  const self = await serve(node('n1', { n2: 0.1 }).source, '127.0.0.1', port, rows);

  const t0 = performance.now();
  const m = (await self.inject({ url: '/api/v1/console/matrix?rows=prober&cols=peer&window=1m' })).json();
  assert.ok(performance.now() - t0 < 5000, 'bounded by the fetch timeout');
  assert.deepEqual(
    m.rows.map((r: { key: string }) => r.key),
    ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'],
  );
  const byNode = new Map(m.nodes.map((n: { node: string }) => [n.node, n]));
  assert.equal((byNode.get('n2') as { ok: boolean }).ok, true);
  assert.equal((byNode.get('n3') as { ok: boolean }).ok, true);
  assert.match((byNode.get('n4') as { error: string }).error, /ECONNREFUSED/);
  assert.match((byNode.get('n5') as { error: string }).error, /no answer within 400 ms/);
  assert.match((byNode.get('n6') as { error: string }).error, /malformed row: node is not a string/);
  const cell = (row: string, col: string) => m.cells[m.rows.findIndex((r: { key: string }) => r.key === row)][m.cols.indexOf(col)];
  assert.equal(cell('n1', 'n2').loss, 0.1);
  assert.equal(cell('n2', 'n3').loss, 0.5, "n2's own row, from n2's API");
  assert.equal(cell('n2', 'n1').loss, 0);
  assert.equal(cell('n3', 'n2').loss, 0);
  assert.equal(cell('n2', 'n2'), null, 'a node does not probe itself');
  assert.deepEqual(
    m.rows.find((r: { key: string }) => r.key === 'n4').missing.map((x: { node: string }) => x.node),
    ['n4'],
  );

  // By rack: n1 and n2 share r1, so their rows add up; r2 holds n3 (answered) and n4 (missing).
  const r = (await self.inject({ url: '/api/v1/console/matrix?rows=rack&cols=rack&window=1m' })).json();
  const r1 = r.rows.findIndex((x: { key: string }) => x.key === 'r1');
  assert.deepEqual(r.rows[r1].nodes, ['n1', 'n2']);
  const r1r2 = r.cells[r1][r.cols.indexOf('r2')];
  // n1→n3 (0 of 100), n1→n4 (0 of 100), n2→n3 (50 of 100), n2→n4 (0 of 100).
  assert.equal(r1r2.lost, 50);
  assert.equal(r1r2.answered + r1r2.lost, 400);

  // Cached: the peer was asked once per distinct query, however often the console polls.
  const before = counter.n;
  await Promise.all(Array.from({ length: 5 }, () => self.inject({ url: '/api/v1/console/matrix?rows=prober&cols=peer&window=1m' })));
  assert.equal(counter.n, before, 'answers from the cache within its TTL');
  assert.equal(counter.n, 2, 'two distinct queries (cols=peer, cols=rack)');
});

test('peer rows: concurrent requests share one fetch; a body over the cap is refused', async () => {
  const port = await portFreeOnAll(['127.0.0.7', '127.0.0.8']);
  const counter = { n: 0 };
  await serve(node('n2', {}).source, '127.0.0.7', port, undefined, counter);
  const rows = new PeerRows({ timeoutMs: 2000, ttlMs: 60_000 });
  const peer: PeerAddress = { name: 'n2', address: '127.0.0.7', labels: {} };
  const got = await Promise.all(Array.from({ length: 8 }, () => rows.row(peer, port, 'peer', '1m')));
  assert.equal(counter.n, 1);
  assert.ok(got.every((g) => !('error' in g.row)));
  const tiny = new PeerRows({ maxBytes: 20 });
  const r = await tiny.row(peer, port, 'peer', '5m');
  assert.match('error' in r.row ? r.row.error : '', /larger than 20 bytes/);
  assert.equal(PeerRows.url({ name: 'v6', address: '::1', labels: {} }, 9, 'rack', '5m'), 'http://[::1]:9/api/v1/console/matrix/local?cols=rack&window=5m');
});

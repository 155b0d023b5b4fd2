/**
 * The console's HTTP surface with Fastify's inject(): the JSON and binary API over a
 * real store and history fed real batches, and the static files (CSP, caching,
 * pre-compressed assets; the page shown when the console is not built).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { build } from '../../src/http/app.js';
import { TargetStore } from '../../src/aggregate/store.js';
import { History } from '../../src/aggregate/history.js';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ErrorReason, ProbeEvent } from '../../src/protocol/events.js';
import { CONSOLE_CSP, CONSOLE_DIST_DIR, IMMUTABLE } from '../../src/http/console/static.js';
import type { ConsoleEntry } from '../../src/http/console/catalog.js';
import type { ConsoleSource, NodeIdentity } from '../../src/http/console/model.js';

const RES = 1000;

interface Fixture {
  store: TargetStore;
  history: History;
  entries: ConsoleEntry[];
  generation: number;
  node: NodeIdentity;
}

function fixture(): Fixture {
  const store = new TargetStore();
  const entries: ConsoleEntry[] = [];
  for (let i = 0; i < 6; i++) {
    const group = i < 3 ? 'a' : 'b';
    const e: ConsoleEntry = { slot: i, name: `t${i}`, kind: 'icmp', address: `127.0.0.${i + 1}`, labels: { group }, state: 'ok', worker: 0 };
    store.defineSlot(i, { name: e.name, kind: 'icmp', address: e.address, labels: e.labels });
    entries.push(e);
  }
  entries.push({ slot: -1, name: 'bad', kind: '', address: '', labels: {}, state: 'rejected', error: 'address is not valid' });
  const history = new History(store, { retentionMs: 60 * RES, resolutionMs: RES, startMs: Date.now() - 10 * RES });
  return { store, history, entries, generation: 1, node: { name: 'node-x', labels: { rack: 'r1' }, mesh: false } };
}

function source(f: Fixture): ConsoleSource {
  return {
    store: f.store,
    history: f.history,
    generation: () => f.generation,
    entries: () => f.entries,
    status: () => ({
      version: '0.0.0-test',
      mode: 'run',
      started: new Date().toISOString(),
      ready: true,
      config: '(test)',
      last_reload: null,
      target_files: [],
    }),
    workers: () => [],
    node: () => f.node,
    peers: () => [],
  };
}

/** Group a answers everything in 1 ms; group b loses half (t3..t5: 10 answers, 10 timeouts, 1 error each). */
function feed(f: Fixture): void {
  const w = new BatchWriter(256);
  for (let s = 0; s < 6; s++) {
    for (let k = 0; k < 10; k++) {
      w.push(s, ProbeEvent.Sent, 0, 0, 0);
      w.push(s, ProbeEvent.Reply, 0, 0, 0.001);
    }
    if (s >= 3) {
      for (let k = 0; k < 10; k++) {
        w.push(s, ProbeEvent.Sent, 0, 0, 0);
        w.push(s, ProbeEvent.Timeout, 0, 0, 0);
      }
      w.push(s, ProbeEvent.Sent, 0, 0, 0);
      w.push(s, ProbeEvent.Error, ErrorReason.host_unreachable, 0, 0);
    }
  }
  f.store.applyBatch(w.take(0, 1));
}

async function app(f: Fixture, dir?: string) {
  return build({
    logger: false,
    telemetryPath: '/metrics',
    metrics: () => Promise.resolve({ body: '', contentType: 'text/plain' }),
    readiness: () => ({ ready: true }),
    reload: () => Promise.resolve({ status: 'reloaded', applied: true, problems: [] }),
    api: { targets: () => [], status: () => ({}) },
    console: { source: source(f), peerPort: () => 0, dir },
    limits: { maxRequests: 4, maxConnections: 100, readTimeoutMs: 5000, writeTimeoutMs: 5000, idleTimeoutMs: 5000 },
  } as unknown as Parameters<typeof build>[0]);
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('overview: counts by state, kind and health, fleet figures, worst targets first', async () => {
  const f = fixture();
  feed(f);
  f.history.observe(Date.now());
  const a = await app(f);
  const o = (await a.inject({ url: '/api/v1/console/overview' })).json();
  assert.equal(o.targets.total, 7);
  assert.deepEqual(o.targets.by_state, { ok: 6, unresolved: 0, rejected: 1, pending: 0 });
  assert.deepEqual(o.targets.by_kind, { icmp: 6, '': 1 });
  assert.deepEqual(o.targets.by_health, { healthy: 3, lossy: 3, down: 0, no_data: 0 });
  assert.equal(o.fleet.now.answered, 60);
  assert.equal(o.fleet.now.lost, 33);
  assert.ok(Math.abs(o.fleet.now.p50 - 0.001) < 0.0005, `fleet p50 ${o.fleet.now.p50}`);
  assert.deepEqual(
    o.worst
      .slice(0, 3)
      .map((w: { name: string }) => w.name)
      .sort(),
    ['t3', 't4', 't5'],
  );
  assert.ok(Math.abs(o.worst[0].loss - 11 / 21) < 1e-6, 'the loss window ratio (a Float32)');
  assert.equal(o.history.bytes_per_target, 5 * 60 + 4 * 20 + 20); // 1-byte counts (every period count fits a byte)
  assert.deepEqual(o.fleet.history.answered, [60]);
  assert.equal(o.node.name, 'node-x');
  await a.close();
});

test('targets: columnar JSON with dictionary-encoded labels, an ETag per generation and 304 when unchanged', async () => {
  const f = fixture();
  const a = await app(f);
  const r = await a.inject({ url: '/api/v1/console/targets' });
  assert.equal(r.statusCode, 200);
  assert.equal(r.headers.etag, '"g1"');
  const l = r.json();
  assert.equal(l.count, 7);
  assert.deepEqual(l.names, ['t0', 't1', 't2', 't3', 't4', 't5', 'bad']);
  assert.deepEqual(l.kinds, ['icmp', '']);
  assert.deepEqual(l.labelKeys, ['group']);
  assert.deepEqual(l.labels.group.values, ['a', 'b']);
  assert.deepEqual(l.labels.group.index, [0, 0, 0, 1, 1, 1, -1]);
  assert.equal(l.states[l.state[6]], 'rejected');
  assert.equal(l.errors['6'], 'address is not valid');
  assert.equal((await a.inject({ url: '/api/v1/console/targets', headers: { 'if-none-match': '"g1"' } })).statusCode, 304);
  const gz = await a.inject({ url: '/api/v1/console/targets', headers: { 'accept-encoding': 'gzip, br' } });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.deepEqual(JSON.parse(gunzipSync(gz.rawPayload).toString('utf8')), l);
  f.generation = 2;
  f.entries = f.entries.slice(0, 2);
  const r2 = await a.inject({ url: '/api/v1/console/targets', headers: { 'if-none-match': '"g1"' } });
  assert.equal(r2.statusCode, 200);
  assert.equal(r2.json().count, 2);
  await a.close();
});

test('targets/live: binary Float32 columns in list order (NaN without data or a slot)', async () => {
  const f = fixture();
  const a = await app(f);
  const decode = (body: Buffer) => {
    const buf = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
    const [gen, n] = new Uint32Array(buf, 0, 2);
    return { gen, n, loss: new Float32Array(buf, 8, n), last: new Float32Array(buf, 8 + 4 * n, n), p99: new Float32Array(buf, 8 + 8 * n, n) };
  };
  const before = decode((await a.inject({ url: '/api/v1/console/targets/live' })).rawPayload);
  assert.equal(before.n, 7);
  assert.ok([...before.loss].every(Number.isNaN), 'no completed probe: no loss figure');
  feed(f);
  assert.ok(Number.isNaN(decode((await a.inject({ url: '/api/v1/console/targets/live' })).rawPayload).loss[0]), 'cached for a second');
  f.history.observe(Date.now()); // closes a period: the p99 column comes from closed periods
  await new Promise((r) => setTimeout(r, 1050)); // past the 1 s cache
  const res = await a.inject({ url: '/api/v1/console/targets/live' });
  assert.equal(res.headers['content-type'], 'application/octet-stream');
  const l = decode(res.rawPayload);
  assert.equal(l.gen, 1);
  assert.equal(l.loss[0], 0);
  assert.ok(Math.abs(l.loss[3] - 11 / 21) < 1e-6);
  assert.ok(Math.abs(l.last[0] - 0.001) < 1e-9);
  // 1 ms answers sit in the (0.8 ms, 1.6 ms] bucket: the p99 interpolates inside it.
  assert.ok(l.p99[0] > 0.0008 && l.p99[0] <= 0.0016 * 1.04, `p99 ${l.p99[0]}`);
  assert.ok(Number.isNaN(l.loss[6]) && Number.isNaN(l.p99[6]), 'the rejected entry has no numbers');
  await a.close();
});

test('target: detail with totals, errors by reason, history and the open period; 404 and 400', async () => {
  const f = fixture();
  feed(f);
  f.history.observe(Date.now());
  const a = await app(f);
  const t = (await a.inject({ url: '/api/v1/console/target?name=t4' })).json();
  assert.equal(t.name, 't4');
  assert.deepEqual(t.labels, { group: 'b' });
  assert.deepEqual(t.totals, { sent: 21, received: 10, timeouts: 10, late: 0, duplicates: 0, errors: { host_unreachable: 1 } });
  assert.deepEqual(t.history.answered, [10]);
  assert.deepEqual(t.history.lost, [11]);
  assert.equal(t.history.resolution_seconds, 1);
  assert.equal(t.open.answered, 0);
  assert.equal(t.open.p50, null, 'NaN goes out as null');
  const rejected = (await a.inject({ url: '/api/v1/console/target?name=bad' })).json();
  assert.equal(rejected.state, 'rejected');
  assert.equal(rejected.totals, null);
  assert.equal((await a.inject({ url: '/api/v1/console/target?name=nope' })).statusCode, 404);
  assert.equal((await a.inject({ url: '/api/v1/console/target' })).statusCode, 400);
  await a.close();
});

test('matrix: this node\'s row by a target label; windows validated; "all" uses the counters since start', async () => {
  const f = fixture();
  feed(f);
  f.history.observe(Date.now());
  const a = await app(f);
  const m = (await a.inject({ url: '/api/v1/console/matrix?rows=prober&cols=group&window=30s' })).json();
  assert.deepEqual(
    m.rows.map((r: { key: string }) => r.key),
    ['node-x'],
  );
  assert.deepEqual(m.cols, ['a', 'b']);
  assert.equal(m.cells[0][0].loss, 0);
  assert.ok(Math.abs(m.cells[0][1].loss - 33 / 63) < 1e-9);
  assert.equal(m.cells[0][1].targets, 3);
  assert.equal(m.window, '30s');
  assert.deepEqual(m.windows, ['1m', 'all']);
  assert.equal(m.mesh, false);
  assert.ok(m.labels.cols.includes('group') && m.labels.cols.includes('kind'));
  assert.deepEqual(m.labels.rows, ['prober', 'rack']);
  const byRack = (await a.inject({ url: '/api/v1/console/matrix?rows=rack&cols=kind&window=all' })).json();
  assert.deepEqual(
    byRack.rows.map((r: { key: string }) => r.key),
    ['r1'],
  );
  assert.deepEqual(byRack.cols, ['icmp']);
  assert.equal(byRack.cells[0][0].answered, 60);
  const local = (await a.inject({ url: '/api/v1/console/matrix/local?cols=group&window=1m' })).json();
  assert.equal(local.node, 'node-x');
  assert.deepEqual(local.cells.b.targets, 3);
  for (const bad of ['window=2h', 'window=500ms', 'window=5', 'cols=a-b', 'rows=%20x']) {
    const r = await a.inject({ url: `/api/v1/console/matrix?${bad}` });
    assert.equal(r.statusCode, 400, bad);
    assert.ok(r.json().message.length > 5);
  }
  await a.close();
});

test('capabilities: no on-demand tests or stream routes in this build', async () => {
  const a = await app(fixture());
  const c = (await a.inject({ url: '/api/v1/console/capabilities' })).json();
  assert.equal(c.tests, false);
  assert.equal(c.stream, false);
  assert.equal(c.history.points, 60);
  await a.close();
});

test('static: index revalidated, hashed assets immutable and pre-compressed, a strict CSP on every file', async (t) => {
  const assets = (() => {
    try {
      return readdirSync(join(CONSOLE_DIST_DIR, 'assets'));
    } catch {
      return [];
    }
  })();
  if (assets.length === 0) return t.skip('the console is not built (npm run build)');
  const a = await app(fixture());
  const index = await a.inject({ url: '/' });
  assert.equal(index.statusCode, 200);
  assert.match(index.headers['content-type'] as string, /text\/html/);
  assert.equal(index.headers['cache-control'], 'no-cache');
  assert.equal(index.headers['content-security-policy'], CONSOLE_CSP);
  assert.match(CONSOLE_CSP, /script-src 'self'/);
  assert.doesNotMatch(CONSOLE_CSP, /unsafe|https?:/);
  assert.ok(index.headers.etag);
  assert.equal((await a.inject({ url: '/', headers: { 'if-none-match': index.headers.etag } })).statusCode, 304);
  // Every asset the page refers to is served, from this origin.
  const refs = [...index.body.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1]);
  assert.ok(refs.some((r) => r.endsWith('.js')) && refs.some((r) => r.endsWith('.css')), refs.join(','));
  assert.doesNotMatch(index.body, /https?:\/\//, 'no external script, style or font');
  for (const ref of refs) {
    const r = await a.inject({ url: `/${ref}` });
    assert.equal(r.statusCode, 200, ref);
    assert.equal(r.headers['cache-control'], IMMUTABLE);
    assert.equal(r.headers['content-security-policy'], CONSOLE_CSP);
    const br = await a.inject({ url: `/${ref}`, headers: { 'accept-encoding': 'br' } });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.deepEqual(brotliDecompressSync(br.rawPayload), r.rawPayload);
  }
  assert.equal((await a.inject({ url: '/assets/nope.js' })).statusCode, 404);
  // The other endpoints are not shadowed by the static files.
  assert.equal((await a.inject({ url: '/api/v1/console/capabilities' })).statusCode, 200);
  await a.close();
});

test('static: a console that was never built shows the endpoints and says how to build it', async () => {
  const empty = mkdtempSync(join(tmpdir(), 'fp-console-empty-'));
  dirs.push(empty);
  const a = await app(fixture(), empty);
  const r = await a.inject({ url: '/' });
  assert.equal(r.statusCode, 200);
  assert.match(r.body, /npm run build/);
  assert.match(r.body, /href="\/metrics"/);
  assert.equal(r.headers['content-security-policy'], CONSOLE_CSP);
  await a.close();
});

/**
 * The HTTP app (build()) on a real loopback socket: a big JSON reply (an
 * /api/v1/targets of a large fleet) is delivered whole to a client that reads it,
 * and a client that stops reading it is dropped after web.write_timeout and
 * counted, like a scrape; at web.max_connections with every connection busy, a new
 * connection is refused until one frees. In-process, no privileges.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { Registry } from 'prom-client';
import { gunzipSync } from 'node:zlib';
import { build } from '../../src/http/app.js';
import type { TargetStatus } from '../../src/http/routes/api.js';
import { TargetStore } from '../../src/aggregate/store.js';
import { renderMetrics } from '../../src/metrics/scrape.js';
import { getRequest, openConnections } from '../../load-tests/abusive-clients.js';
import { httpRequest, sleep, waitFor } from '../helpers/exporter-process.js';

const N = 60_000;

function targets(): TargetStatus[] {
  return Array.from({ length: N }, (_, i) => ({
    name: `target-${i}.rack-${i % 40}.example.internal`,
    kind: 'icmp',
    address: `127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255 || 1}`,
    state: 'ok',
    worker: i % 2,
    labels: { rack: `r${i % 40}`, region: 'eu' },
  }));
}

test('a big API reply reaches a reading client whole and is dropped for a client that stops reading', { timeout: 60_000 }, async (t) => {
  const registry = new Registry();
  const store = new TargetStore();
  for (let s = 0; s < 100; s++) store.defineSlot(s, { name: `t${s}`, kind: 'icmp', address: '127.0.0.1', labels: {} });
  const all = targets();
  const app = await build({
    logger: false,
    telemetryPath: '/metrics',
    metrics: ({ gzip }) => renderMetrics(store, registry, { gzip }),
    readiness: () => ({ ready: true }),
    reload: () => Promise.resolve({ status: 'reloaded', applied: true, problems: [] }),
    api: { targets: () => all, status: () => ({}) },
    limits: { maxRequests: 4, maxConnections: 100, readTimeoutMs: 5000, writeTimeoutMs: 700, idleTimeoutMs: 5000 },
    registry,
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const port = Number(new URL(url).port);
  t.after(() => app.close());

  const whole = await httpRequest(`${url}/api/v1/targets`, { timeoutMs: 20_000 });
  assert.equal(whole.status, 200);
  assert.ok(whole.body.length > 8e6, `the reply is big: ${whole.body.length} bytes`);
  assert.equal(Number(whole.headers['content-length']), whole.body.length, 'sent with its length');
  assert.equal((JSON.parse(whole.text()) as { targets: unknown[] }).targets.length, N);

  const value = async (reason: string): Promise<number> => {
    const m = (await registry.getSingleMetric('fleetprobe_http_connections_dropped_total')?.get())?.values ?? [];
    return m.find((v) => v.labels.reason === reason)?.value ?? NaN;
  };
  assert.equal(await value('write_timeout'), 0);
  const stuck = await openConnections({ host: '127.0.0.1', port, count: 3, request: getRequest('/api/v1/targets', `127.0.0.1:${port}`) });
  t.after(() => stuck.close());
  await waitFor('the three non-readers dropped', async () => (await value('write_timeout')) === 3, 15_000, 100);

  // Small replies and scrapes are unaffected: /healthz as is, /metrics gzip streams whole.
  assert.equal((await httpRequest(`${url}/healthz`)).text(), 'ok\n');
  const gz = await httpRequest(`${url}/metrics`, { headers: { 'accept-encoding': 'gzip' }, timeoutMs: 20_000 });
  assert.equal(gz.status, 200);
  assert.match(gunzipSync(gz.body).toString('utf8'), /fleetprobe_probe_sent_total\{target="t99"/);
});

test('at web.max_connections with every connection busy, a new connection is refused until one frees', { timeout: 60_000 }, async (t) => {
  const registry = new Registry();
  const all = targets();
  const app = await build({
    logger: false,
    telemetryPath: '/metrics',
    metrics: ({ gzip }) => renderMetrics(new TargetStore(), registry, { gzip }),
    readiness: () => ({ ready: true }),
    reload: () => Promise.resolve({ status: 'reloaded', applied: true, problems: [] }),
    api: { targets: () => all, status: () => ({}) },
    limits: { maxRequests: 4, maxConnections: 2, readTimeoutMs: 5000, writeTimeoutMs: 4000, idleTimeoutMs: 5000 },
    registry,
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const port = Number(new URL(url).port);
  t.after(() => app.close());
  const dropped = async (reason: string): Promise<number> =>
    ((await registry.getSingleMetric('fleetprobe_http_connections_dropped_total')?.get())?.values ?? []).find((v) => v.labels.reason === reason)?.value ?? NaN;

  // Two clients that never read a big reply: both connections busy.
  const busy = await openConnections({ host: '127.0.0.1', port, count: 2, request: getRequest('/api/v1/targets', `127.0.0.1:${port}`) });
  t.after(() => busy.close());
  await waitFor(
    'both connections open',
    async () => {
      const g = (await registry.getSingleMetric('fleetprobe_http_connections')?.get())?.values[0]?.value;
      return g === 2;
    },
    5000,
    50,
  );
  // Their requests take a few ms to be read and answered (then they are busy, not idle).
  await sleep(1000);
  await assert.rejects(httpRequest(`${url}/healthz`, { timeoutMs: 5000 }), /socket hang up|ECONNRESET|EPIPE/);
  assert.equal(await dropped('max_connections'), 1);
  // The write timeout frees both; then the port answers again.
  await waitFor('the busy ones dropped', async () => (await dropped('write_timeout')) === 2, 10_000, 100);
  assert.equal((await httpRequest(`${url}/healthz`)).status, 200);
});

test(
  'a scrape client that stops reading at any point, even after the last byte left the body, loses its slot at the write timeout',
  { timeout: 60_000 },
  async (t) => {
    const registry = new Registry();
    // Bodies of 0.5 to 8.4 MB: some fit wholly in the kernel's buffers, some stop in the
    // middle, some with their last bytes still queued in the response.
    const sizes = Array.from({ length: 100 }, (_, i) => 512 * 1024 + i * 80 * 1024);
    let next = 0;
    const app = await build({
      logger: false,
      telemetryPath: '/metrics',
      metrics: () => ({ body: Readable.from([Buffer.alloc(sizes[next++ % sizes.length], 97)]), headers: { 'content-type': 'text/plain' } }),
      readiness: () => ({ ready: true }),
      reload: () => Promise.resolve({ status: 'reloaded', applied: true, problems: [] }),
      api: { targets: () => [], status: () => ({}) },
      limits: { maxRequests: 0, maxConnections: 200, readTimeoutMs: 5000, writeTimeoutMs: 1000, idleTimeoutMs: 60_000 },
      registry,
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const port = Number(new URL(url).port);
    t.after(() => app.close());
    const gauge = async (): Promise<number> => (await registry.getSingleMetric('promhttp_metric_handler_requests_in_flight')?.get())?.values[0]?.value ?? NaN;

    const stuck = await openConnections({ host: '127.0.0.1', port, count: sizes.length, parallel: 1, request: getRequest('/metrics', `127.0.0.1:${port}`) });
    t.after(() => stuck.close());
    await sleep(300);
    assert.ok((await gauge()) > 0, 'some scrapes wait on their clients');
    await waitFor('every scrape slot freed', async () => (await gauge()) === 0, 15_000, 100);
  },
);

/**
 * An on-demand test whose worker crashes mid-test ends `failed` at once (not at its
 * guard timer), with the reason, and frees its place; the replaced worker runs the next
 * test to the end. The crash is injected by test/fixtures/faulty-shard (the real shard
 * plus an uncaught exception), the one fault a real shard cannot be made to have.
 * udp against the exporter's own responder on loopback: no privilege needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFaultyExporter } from '../helpers/faulty-exporter.js';
import { httpRequest, waitFor } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';

interface View {
  state: string;
  error?: string;
  ended_at: string | null;
  result: { sent: number; received: number } | null;
}

test('a worker crash fails its running on-demand test at once; the next test runs on the replacement', { timeout: 60_000 }, async (t) => {
  const udp = await freePort();
  const fx = await startFaultyExporter(
    'fp-od-crash',
    { workers: 1, flush_interval: '100ms', targets: [], tests: { max_concurrent: 1 }, responder: { tcp_echo: null, http: null, udp_echo: `127.0.0.1:${udp}` } },
    { mode: 'none' },
    { restartBackoff: { minMs: 100, maxMs: 200, healthyAfterMs: 1000 } },
  );
  t.after(() => fx.stop());
  const url = fx.exporter.url;
  await waitFor('/readyz 200', async () => (await fx.readyz()).status === 200, 10_000, 50);
  const post = (body: unknown, q = '') =>
    httpRequest(`${url}/api/v1/tests${q}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), timeoutMs: 20_000 });
  const get = async (id: string): Promise<View> => JSON.parse((await httpRequest(`${url}/api/v1/tests/${id}`)).text()) as View;

  // 20 s at 20/s: the guard timer would fire only after ~30 s.
  const r = await post({ address: `127.0.0.1:${udp}`, kind: 'udp', count: 400, interval: '50ms' });
  assert.equal(r.status, 202, r.text());
  const id = (JSON.parse(r.text()) as { id: string }).id;
  await waitFor('the test to be under way', async () => (await get(id)).state === 'running', 5000);
  const t0 = Date.now();
  fx.plan({ mode: 'crash', times: 1 });
  const ended = await waitFor(
    'the test to end',
    async () => {
      const v = await get(id);
      return v.state !== 'running' && v;
    },
    10_000,
    50,
  );
  assert.equal(ended.state, 'failed');
  assert.match(ended.error ?? '', /worker running the test stopped/);
  assert.ok(Date.now() - t0 < 10_000, 'ended by the crash, not by the guard timer');
  assert.equal(fx.claims().length, 1, 'the fixture crashed the worker once');

  // The place is free again and the replaced worker runs a test to the end.
  const next = await waitFor(
    'a test on the replacement to finish',
    async () => {
      const a = await post({ address: `127.0.0.1:${udp}`, kind: 'udp', count: 10, interval: '20ms' }, '?wait=1');
      return a.status === 200 && (JSON.parse(a.text()) as View);
    },
    15_000,
    200,
  );
  assert.equal(next.state, 'done');
  assert.equal(next.result!.received, 10);
  const m = await fx.scrape();
  assert.equal(m.value('fleetprobe_ondemand_tests_total', { kind: 'udp', state: 'failed' }), 1);
  assert.equal(m.value('fleetprobe_ondemand_tests_total', { kind: 'udp', state: 'done' }), 1);
});

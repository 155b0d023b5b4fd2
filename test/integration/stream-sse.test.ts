/**
 * GET /api/v1/stream against the real exporter (a child process probing ICMP on
 * 127.0.0.0/8), with real HTTP clients: once and stream modes, selection by name and
 * label, re-selection after a reload, every refusal (400, 401, 404, 429) and the last
 * event on SIGTERM. Needs root (raw ICMP sockets).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { ExporterProcess, NEEDS_ROOT, tempDir, waitFor } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { SseClient, sseError } from '../helpers/sse-client.js';

const TOKEN = 'sse-test-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };

const dir = tempDir('fp-sse');
let exp: ExporterProcess;
let cfgPath: string;
const targets = [
  { name: 'a', address: '127.0.0.11', labels: { rack: 'r1' } },
  { name: 'b', address: '127.0.0.12', labels: { rack: 'r2' } },
  { name: 'c', address: '127.0.0.13', labels: { rack: 'r1' } },
];
function config(listen: string, extra: object[] = []): object {
  return {
    workers: 2,
    flush_interval: '100ms',
    web: { listen_address: listen },
    probe_defaults: { interval: '200ms', timeout: '1s' },
    api: { token_file: 'token', require_token_for_reads: true },
    stream: { max_clients: 3, state_interval: '1s' },
    targets: [...targets, ...extra],
  };
}

before(async () => {
  if (NEEDS_ROOT) return;
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  dir.file('token', `${TOKEN}\n`);
  cfgPath = dir.file('c.yaml', config(listen));
  exp = new ExporterProcess(['run', '--config', cfgPath], listen);
  await exp.waitReady(15_000);
});
after(async () => {
  await exp?.stop(3000);
  dir.cleanup();
});

const url = (q: string): string => `${exp.url}/api/v1/stream${q}`;

test('once: the state of each selected target, a sync, an end; then the connection closes', { skip: NEEDS_ROOT, timeout: 20_000 }, async () => {
  // Let a few probes land so the states have counts.
  // Both: they are probed on their own phases (and may be on different workers), so c's
  // third reply says nothing about a's.
  await waitFor(
    'probes of a and c',
    async () => {
      const m = await exp.scrape();
      return ['a', 'c'].every((target) => m.value('fleetprobe_probe_received_total', { target })! >= 3);
    },
    10_000,
  );
  const c = new SseClient(url('?target=c&target=a&mode=once'), AUTH);
  await c.response;
  assert.equal(c.status, 200);
  assert.match(String(c.headers['content-type']), /^text\/event-stream/);
  assert.equal(c.headers['cache-control'], 'no-cache, no-store');
  await c.closed;
  assert.deepEqual(
    c.events.map((e) => `${e.event}:${(e.json?.target as string | undefined) ?? ''}`),
    ['state:a', 'state:c', 'sync:', 'end:'],
  );
  assert.equal(c.events[3].json?.reason, 'done');
  const a = c.events[0].json!;
  assert.equal(a.kind, 'icmp');
  assert.equal(a.address, '127.0.0.11');
  assert.deepEqual(a.labels, { rack: 'r1' });
  assert.ok((a.sent as number) >= 3 && (a.received as number) >= 3, JSON.stringify(a));
  assert.equal(a.timeouts, 0);
  assert.equal(a.loss_ratio, 0);
  assert.ok((a.last_rtt_seconds as number) > 0 && (a.last_rtt_seconds as number) < 0.1);
  assert.ok(!Number.isNaN(Date.parse(a.time as string)));
});

test('stream by label: results of the selected targets only, each as it arrives, and periodic states', { skip: NEEDS_ROOT, timeout: 20_000 }, async () => {
  const c = new SseClient(url('?label=rack=r1'), AUTH);
  await c.response;
  assert.equal(c.status, 200);
  await c.until('initial states and sync', () => c.of('sync').length === 1, 5000);
  assert.deepEqual(
    c.of('state').map((e) => e.json!.target),
    ['a', 'c'],
  );
  await c.until(
    '10 results of a and of c, and a second state of each',
    () => {
      const r = c.of('result').map((e) => e.json!.target);
      const s = c.of('state').map((e) => e.json!.target);
      return (
        r.filter((t) => t === 'a').length >= 10 &&
        r.filter((t) => t === 'c').length >= 10 &&
        s.filter((t) => t === 'a').length >= 2 &&
        s.filter((t) => t === 'c').length >= 2
      );
    },
    10_000,
  );
  const results = c.of('result').map((e) => e.json!);
  assert.ok(
    results.every((r) => r.target === 'a' || r.target === 'c'),
    'b (rack r2) is not selected',
  );
  for (const r of results) {
    assert.equal(r.kind, 'icmp');
    assert.equal(r.outcome, 'reply', JSON.stringify(r));
    assert.ok((r.rtt_seconds as number) > 0 && (r.rtt_seconds as number) < 0.1);
    assert.equal(r.reason, null);
  }
  const m = await exp.scrape();
  assert.equal(m.value('fleetprobe_stream_clients', { transport: 'sse' }), 1);
  assert.ok(m.value('fleetprobe_stream_events_total', { transport: 'sse' })! >= results.length);
  c.close();
  await waitFor('the closed client to be gone', async () => (await exp.scrape()).value('fleetprobe_stream_clients', { transport: 'sse' }) === 0, 5000);
});

test('a reload re-resolves selections: a new target with the label joins the stream', { skip: NEEDS_ROOT, timeout: 25_000 }, async () => {
  const c = new SseClient(url('?label=rack=r1'), AUTH);
  await c.response;
  await c.until('sync', () => c.of('sync').length === 1, 5000);
  writeFileSync(cfgPath, JSON.stringify(config(exp.url.slice('http://'.length), [{ name: 'd', address: '127.0.0.14', labels: { rack: 'r1' } }])));
  exp.signal('SIGHUP');
  await c.until('results of the new target d', () => c.of('result').filter((e) => e.json!.target === 'd').length >= 3, 15_000);
  assert.ok(!c.of('result').some((e) => e.json!.target === 'b'));
  c.close();
});

test(
  'refusals: 401 without or with a wrong token, 400 listing every problem, 404 naming unknown targets, 429 beyond max_clients',
  { skip: NEEDS_ROOT, timeout: 20_000 },
  async () => {
    const noToken = await sseError(url('?target=a'));
    assert.equal(noToken.status, 401);
    assert.equal(noToken.json.error, 'missing_token');
    assert.match(String(noToken.headers['www-authenticate']), /^Bearer/);
    const wrong = await sseError(url('?target=a'), { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error, 'bad_token');

    const bad = await sseError(url('?mode=poll&label=rack&nope=1&target='), AUTH);
    assert.equal(bad.status, 400);
    assert.equal((bad.json.problems as string[]).length, 4, JSON.stringify(bad.json));

    const unknown = await sseError(url('?target=a&target=zz&target=yy'), AUTH);
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.json.unknown, ['zz', 'yy']);
    assert.match(unknown.json.message as string, /unknown targets: zz, yy/);
    const nothing = await sseError(url('?label=rack=r9'), AUTH);
    assert.equal(nothing.status, 404);
    assert.match(nothing.json.message as string, /no target matches labels rack=r9/);

    const open = [0, 1, 2].map(() => new SseClient(url('?target=b'), AUTH));
    for (const c of open) {
      await c.response;
      assert.equal(c.status, 200);
    }
    const over = await sseError(url('?target=b'), AUTH);
    assert.equal(over.status, 429);
    assert.equal(over.json.error, 'too_many_subscribers');
    for (const c of open) c.close();

    const m = await waitFor(
      'the clients to be gone',
      async () => {
        const x = await exp.scrape();
        return x.value('fleetprobe_stream_clients', { transport: 'sse' }) === 0 && x;
      },
      5000,
    );
    assert.equal(m.value('fleetprobe_stream_rejected_total', { transport: 'sse', reason: 'unauthorized' }), 2);
    assert.equal(m.value('fleetprobe_stream_rejected_total', { transport: 'sse', reason: 'invalid' }), 1);
    assert.equal(m.value('fleetprobe_stream_rejected_total', { transport: 'sse', reason: 'not_found' }), 2);
    assert.equal(m.value('fleetprobe_stream_rejected_total', { transport: 'sse', reason: 'limit' }), 1);
  },
);

test('SIGTERM: an open stream gets its last event and the process exits promptly', { skip: NEEDS_ROOT, timeout: 20_000 }, async () => {
  const c = new SseClient(url(''), AUTH);
  await c.response;
  await c.until('sync', () => c.of('sync').length === 1, 5000);
  const stopped = await exp.stop(8000);
  assert.equal(stopped.killed, false, exp.tail());
  assert.equal(stopped.code, 0, exp.tail());
  await c.closed;
  const last = c.events[c.events.length - 1];
  assert.equal(last.event, 'end');
  assert.equal(last.json?.reason, 'shutdown');
});

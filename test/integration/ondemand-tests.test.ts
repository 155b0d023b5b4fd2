/**
 * On-demand tests through the real CLI over real HTTP on loopback (no privilege:
 * udp and http probes against the exporter's own responder and a delaying UDP echo):
 *
 *  - a udp test to a new address behind a known 40 ms delay: every probe answered,
 *    RTT statistics at and just above the delay, jitter small, nothing reordered;
 *  - a udp test of a configured target at a rate of 200/s on the owning worker: every
 *    probe answered, and the scheduled target's counters move only at their own pace;
 *  - http with a large size: every body byte read, throughput reported;
 *  - limits: 400 listing every problem, 401 without the token, 429 beyond
 *    tests.max_concurrent; cancel; ?wait=1; the list; the self metrics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ExporterProcess, tempDir, waitFor, type HttpResponse } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import type { RttSummary } from '../../src/protocol/ondemand/stats.js';

const TOKEN = 'ondemand-test-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const DELAY_MS = 40;
const FIXTURE = fileURLToPath(new URL('../fixtures/delaying-udp-echo.js', import.meta.url));

type Rtt = RttSummary;
interface TestView {
  id: string;
  state: string;
  kind: string;
  target: string | null;
  tags: Record<string, string>;
  started_at: string;
  ended_at: string | null;
  error?: string;
  result: null | {
    sent: number;
    received: number;
    loss_ratio: number;
    rtt_seconds: Rtt | null;
    errors: Record<string, number>;
    timeouts: number;
    duplicates: number;
    jitter_seconds: number;
    reordered?: number;
    bytes_received?: number;
    throughput_bytes_per_second?: number;
  };
}

test('on-demand tests: RTT behind a known delay, a configured target at 200/s, http throughput, limits, cancel, metrics', { timeout: 120_000 }, async (t) => {
  const dir = tempDir('fp-ondemand');
  const port = await freePort();
  const udpEcho = await freePort();
  const httpPort = await freePort();
  const listen = `127.0.0.1:${port}`;
  // The delaying echo: one socket answering after DELAY_MS; lives at most 100 s.
  const delayer = spawn(process.execPath, [FIXTURE, String(DELAY_MS), '--', '100000'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const first = await new Promise<string>((resolve) => createInterface({ input: delayer.stdout }).once('line', resolve));
  const delayedPort = (JSON.parse(first) as { echo: number[] }).echo[0];

  const cfg = dir.file('fleetprobe.yaml', {
    workers: 2,
    flush_interval: '100ms',
    // A read timeout shorter than the tests: ?wait=1 holds a request that was read in full,
    // which the read timeout must not cut.
    web: { listen_address: listen, read_timeout: '1s' },
    api: { token: TOKEN },
    tests: { max_concurrent: 2, max_count: 5000, results_kept: 50 },
    probe_defaults: { kind: 'udp', interval: '100ms', timeout: '500ms' },
    targets: [{ name: 'sched-udp', address: `127.0.0.1:${udpEcho}` }],
    responder: { tcp_echo: null, udp_echo: `127.0.0.1:${udpEcho}`, http: `127.0.0.1:${httpPort}`, http_max_body_bytes: 16 * 1024 * 1024 },
  });
  const exp = new ExporterProcess(['run', '--config', cfg], listen);
  t.after(async () => {
    await exp.stop(3000);
    delayer.stdin.end();
    delayer.kill();
    dir.cleanup();
  });
  await exp.waitReady(20_000);

  const post = (body: unknown, query = '', headers: Record<string, string> = AUTH): Promise<HttpResponse> =>
    exp.request(`/api/v1/tests${query}`, { method: 'POST', headers, body: JSON.stringify(body), timeoutMs: 30_000 });
  const json = <T>(r: HttpResponse): T => JSON.parse(r.text()) as T;
  const get = async (id: string): Promise<TestView> => json<TestView>(await exp.request(`/api/v1/tests/${id}`));

  await t.test('udp behind a 40 ms delay: ?wait=1 answers with RTT statistics at the delay', async () => {
    const r = await post(
      { address: `127.0.0.1:${delayedPort}`, kind: 'udp', count: 50, interval: '10ms', timeout: '1s', tags: { ticket: 'NET-1' } },
      '?wait=1',
    );
    assert.equal(r.status, 200, r.text());
    const v = json<TestView>(r);
    assert.equal(v.state, 'done', r.text());
    assert.deepEqual(v.tags, { ticket: 'NET-1' });
    assert.ok(v.ended_at !== null && Date.parse(v.ended_at) >= Date.parse(v.started_at));
    const res = v.result!;
    assert.equal(res.sent, 50);
    assert.equal(res.received, 50, r.text());
    assert.equal(res.loss_ratio, 0);
    const rtt = res.rtt_seconds!;
    const d = DELAY_MS / 1000;
    // The echo waits DELAY_MS before answering: no RTT can be shorter; loopback adds
    // well under 30 ms even on a busy 2-core machine (a wide margin, not a timing goal).
    assert.ok(rtt.min >= d - 0.001, `min ${rtt.min}`);
    assert.ok(rtt.p50 >= d && rtt.p50 < d + 0.03, `p50 ${rtt.p50}`);
    assert.ok(rtt.min <= rtt.p50 && rtt.p50 <= rtt.p90 && rtt.p90 <= rtt.p99 && rtt.p99 <= rtt.max, JSON.stringify(rtt));
    assert.ok(rtt.avg >= rtt.min && rtt.avg <= rtt.max && rtt.stddev >= 0 && rtt.stddev < 0.03, JSON.stringify(rtt));
    assert.equal(res.reordered, 0);
    assert.equal(res.duplicates, 0);
    assert.ok(res.jitter_seconds >= 0 && res.jitter_seconds < 0.03, `jitter ${res.jitter_seconds}`);
  });

  await t.test('a configured target at 200/s: every probe answered, its scheduled counters untouched', async () => {
    const sentOf = async (): Promise<number> => (await exp.scrape()).value('fleetprobe_probe_sent_total', { target: 'sched-udp' }) ?? Number.NaN;
    await waitFor('scheduled probes to sched-udp', async () => (await sentOf()) > 5, 10_000);
    const before = await sentOf();
    const t0 = Date.now();
    const r = await post({ target: 'sched-udp', count: 400, rate: 200 }, '?wait=1');
    const elapsedS = (Date.now() - t0) / 1000;
    assert.equal(r.status, 200, r.text());
    const v = json<TestView>(r);
    assert.equal(v.state, 'done', r.text());
    assert.equal(v.target, 'sched-udp');
    assert.equal(v.result!.sent, 400);
    assert.equal(v.result!.received, 400, r.text());
    // The test's 400 probes must not show in the target's series: only its own ~10/s do
    // (plus a flush or two of lag). 400 more would be far above this bound.
    const after = await sentOf();
    assert.ok(after - before <= elapsedS * 10 + 30, `sched-udp sent ${after - before} during a ${elapsedS}s test`);
  });

  await t.test('http with a large size: the whole body read, throughput reported', async () => {
    const size = 8 * 1024 * 1024;
    const r = await post({ kind: 'http', url: `http://127.0.0.1:${httpPort}/v1/ping`, size, count: 3, interval: '500ms', timeout: '5s' }, '?wait=1');
    assert.equal(r.status, 200, r.text());
    const v = json<TestView>(r);
    assert.equal(v.state, 'done', r.text());
    assert.equal(v.result!.received, 3, r.text());
    assert.equal(v.result!.bytes_received, 3 * size);
    assert.ok(v.result!.throughput_bytes_per_second! > 0);
    // Throughput = bytes over the requests' total time, so it is at most bytes / (sum of RTTs).
    const rtt = v.result!.rtt_seconds!;
    assert.ok(Math.abs(v.result!.throughput_bytes_per_second! - (3 * size) / (rtt.avg * 3)) / v.result!.throughput_bytes_per_second! < 1e-6);
  });

  await t.test('400 lists every problem of a bad body', async () => {
    const r = await post({ address: '127.0.0.1', kind: 'icmp', count: 100_000, rate: 10, size: 5, tags: { a: 1 }, bogus: true });
    assert.equal(r.status, 400, r.text());
    const b = json<{ error: string; problems: Array<{ key: string }> }>(r);
    assert.equal(b.error, 'invalid_test');
    const keys = b.problems.map((p) => p.key).sort();
    for (const k of ['bogus', 'count', 'rate', 'size', 'tags.a']) assert.ok(keys.includes(k), `${k} in ${keys.join(',')}`);
    const unknown = await post({ target: 'no-such-target' });
    assert.equal(unknown.status, 400);
    assert.match(unknown.text(), /no configured target is named/);
    const notJson = await exp.request('/api/v1/tests', { method: 'POST', headers: AUTH, body: '{nope' });
    assert.equal(notJson.status, 400, notJson.text());
    // A new address obeys target validation: an address that is not one.
    const badAddr = await post({ address: 'not an address!', kind: 'icmp' });
    assert.equal(badAddr.status, 400);
    assert.ok(
      json<{ problems: Array<{ key: string }> }>(badAddr).problems.some((p) => p.key === 'address'),
      badAddr.text(),
    );
  });

  await t.test('401 without the token, for POST and DELETE', async () => {
    const r = await post({ target: 'sched-udp', count: 1 }, '', { 'content-type': 'application/json' });
    assert.equal(r.status, 401, r.text());
    const wrong = await post({ target: 'sched-udp', count: 1 }, '', { 'content-type': 'application/json', authorization: 'Bearer nope-nope-nope-nope' });
    assert.equal(wrong.status, 401);
    const del = await exp.request('/api/v1/tests/whatever', { method: 'DELETE' });
    assert.equal(del.status, 401);
  });

  let cancelledId = '';
  await t.test('429 beyond tests.max_concurrent, then cancel frees a place', async () => {
    const long = { address: `127.0.0.1:${udpEcho}`, kind: 'udp', count: 600, interval: '50ms' };
    const a = await post(long);
    const b = await post(long);
    assert.equal(a.status, 202, a.text());
    assert.equal(b.status, 202, b.text());
    const c = await post(long);
    assert.equal(c.status, 429, c.text());
    assert.equal(json<{ error: string }>(c).error, 'too_many_tests');
    const ida = json<{ id: string }>(a).id;
    const idb = json<{ id: string }>(b).id;
    assert.equal((await get(ida)).state, 'running');
    const del = await exp.request(`/api/v1/tests/${ida}`, { method: 'DELETE', headers: { authorization: AUTH.authorization } });
    assert.equal(del.status, 202, del.text());
    const ended = await waitFor(
      'the cancelled test to end',
      async () => {
        const v = await get(ida);
        return v.state !== 'running' && v;
      },
      10_000,
    );
    assert.equal(ended.state, 'cancelled');
    assert.ok(ended.result!.sent < 600, `cancelled after ${ended.result!.sent} probes`);
    cancelledId = ida;
    const again = await post({ ...long, count: 2 });
    assert.equal(again.status, 202, again.text());
    await exp.request(`/api/v1/tests/${idb}`, { method: 'DELETE', headers: { authorization: AUTH.authorization } });
    assert.equal((await exp.request('/api/v1/tests/00000000-0000-0000-0000-000000000000')).status, 404);
  });

  await t.test('the list and the metrics', async () => {
    const list = json<{ tests: TestView[] }>(await exp.request('/api/v1/tests'));
    assert.ok(list.tests.length >= 6, `${list.tests.length} tests`);
    assert.ok(list.tests.some((v) => v.id === cancelledId && v.state === 'cancelled'));
    const m = await waitFor(
      'every test to end',
      async () => {
        const l = json<{ tests: TestView[] }>(await exp.request('/api/v1/tests'));
        return l.tests.every((v) => v.state !== 'running') && exp.scrape();
      },
      15_000,
    );
    const ended = json<{ tests: TestView[] }>(await exp.request('/api/v1/tests')).tests;
    const count = (kind: string, state: string) => ended.filter((v) => v.kind === kind && v.state === state).length;
    assert.equal(m.value('fleetprobe_ondemand_tests_total', { kind: 'udp', state: 'done' }), count('udp', 'done'));
    assert.equal(m.value('fleetprobe_ondemand_tests_total', { kind: 'udp', state: 'cancelled' }), 2);
    assert.equal(m.value('fleetprobe_ondemand_tests_total', { kind: 'http', state: 'done' }), 1);
    assert.equal(m.value('fleetprobe_ondemand_tests_total', { kind: 'icmp', state: 'failed' }), 0, 'every kind x state exists at 0');
    const udpSent = ended.filter((v) => v.kind === 'udp').reduce((s, v) => s + (v.result?.sent ?? 0), 0);
    assert.equal(m.value('fleetprobe_ondemand_probes_total', { kind: 'udp' }), udpSent);
    assert.equal(m.value('fleetprobe_ondemand_probes_total', { kind: 'http' }), 3);
    // No outcome of a test reached the store as a record of an unknown slot.
    assert.equal(m.value('fleetprobe_batch_records_unknown_slot_total'), 0);
  });
});

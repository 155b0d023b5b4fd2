/**
 * Workers that fail are reported and replaced, and their targets carry on: the
 * Exporter runs in this process with the shard script swapped for
 * test/fixtures/faulty-shard (the real shard plus one injected fault: a busy loop, a
 * crash, a memory hoard, or a crash when a reload's update lands). The faults are
 * injected because a real shard cannot be made to fail on demand; everything else
 * (threads, raw sockets, piscina, the store, HTTP) is real. Needs root (ICMP).
 *
 * Counters are checked monotonic on every scrape (MonotonicGuard), so a counter that
 * dips even once while a worker is replaced fails the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NEEDS_ROOT, sleep, waitFor, type Metrics } from '../helpers/exporter-process.js';
import { startFaultyExporter, type FaultyExporter } from '../helpers/faulty-exporter.js';

const ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '::1'];
const TARGETS = ADDRESSES.map((address, i) => ({ name: `t${i}`, address }));
const FAST = { flush_interval: '100ms', probe_defaults: { interval: '50ms', timeout: '500ms' } };

const received = (m: Metrics, target: string): number => m.value('fleetprobe_probe_received_total', { target }) ?? 0;
const sent = (m: Metrics, target: string): number => m.value('fleetprobe_probe_sent_total', { target }) ?? 0;

/** Wait until every one of `targets` has `more` replies beyond what `base` showed. */
async function repliesGrow(fx: FaultyExporter, base: Metrics, targets: readonly string[], more: number, what: string, timeoutMs = 10_000): Promise<Metrics> {
  return waitFor(
    what,
    async () => {
      const m = await fx.scrape();
      return targets.every((n) => received(m, n) >= received(base, n) + more) && m;
    },
    timeoutMs,
    50,
  );
}

test('a worker stuck in a busy loop is detected, reported on /readyz, replaced, and its targets resume', { skip: NEEDS_ROOT, timeout: 60_000 }, async (t) => {
  const fx = await startFaultyExporter(
    'fp-hang',
    { workers: 2, ...FAST, workers_stall_timeout: '1s', targets: TARGETS },
    { mode: 'hang', afterBatches: 10, times: 1 },
  );
  t.after(() => fx.stop());
  await waitFor('/readyz 200', async () => (await fx.readyz()).status === 200, 10_000, 50);
  const before = await fx.scrape();

  // Poll /readyz quickly: the 503 lasts from the detection until the replacement's first batch.
  const notReady = await waitFor(
    '/readyz to name a stalled worker',
    async () => {
      const r = await fx.readyz();
      return r.status === 503 && /worker \d stalled/.test(r.text) && r;
    },
    15_000,
    20,
  );
  const claim = fx.claims()[0];
  assert.ok(claim !== undefined && claim.mode === 'hang', 'the fixture hung a worker');
  const hung = String(claim.worker);
  assert.match(notReady.text, new RegExp(`worker ${hung} stalled \\(no result batch for \\d+\\.\\d+s\\)`));

  const detected = fx.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith(`worker ${hung} stalled: no result batch`));
  assert.ok(detected, 'the stall is logged with the worker');
  // The clock starts at the worker's last batch, posted just before faultAt was stamped.
  assert.ok(detected.time >= claim.faultAt + 1000 - 20, `detected after the 1 s stall timeout, not before (${detected.time - claim.faultAt} ms)`);
  t.diagnostic(`stall detected ${detected.time - claim.faultAt} ms after the worker hung (workers_stall_timeout 1s)`);

  const m1 = await fx.scrape();
  assert.equal(m1.value('fleetprobe_worker_failures_total', { worker: hung, reason: 'stalled' }), 1);
  assert.equal(m1.value('fleetprobe_worker_restarts_total', { worker: hung }), 1);
  const placement = await fx.placement();
  const victims = TARGETS.filter((x) => String(placement.get(x.name)) === hung).map((x) => x.name);
  assert.ok(victims.length > 0, `worker ${hung} owned targets (placement: ${JSON.stringify([...placement])})`);
  assert.ok(
    victims.every((n) => received(before, n) > 0),
    'the victims were probed before the hang',
  );

  // The replacement thread probes the same targets, from where the counters were.
  const m2 = await repliesGrow(fx, m1, victims, 5, "the hung worker's targets to reply again");
  for (const n of victims) assert.ok(sent(m2, n) > sent(m1, n), `${n}: sent grows after the replacement`);
  await waitFor('/readyz 200 after the replacement', async () => (await fx.readyz()).status === 200, 5_000, 50);
  const status = await fx.status();
  const w = status.workers.find((x) => String(x.index) === hung)!;
  assert.equal(w.lastFailure, 'stalled');
  assert.equal(w.state, 'running');
  assert.equal(w.restarts, 1);

  // One stall only: the replacement runs normally (the fixture's one claim is taken).
  await sleep(1500);
  const m3 = await fx.scrape();
  assert.equal(m3.sum('fleetprobe_worker_failures_total'), 1, 'exactly one failure in all');
  assert.equal(m3.value('fleetprobe_workers', { state: 'running' }), 2);
  assert.ok(fx.guard.compared > 100, `monotonicity compared ${fx.guard.compared} series`);
});

test(
  'a worker that keeps crashing is restarted with a doubling backoff up to its cap, reported all along, then healthy again',
  { skip: NEEDS_ROOT, timeout: 60_000 },
  async (t) => {
    const CRASHES = 7;
    const fx = await startFaultyExporter(
      'fp-backoff',
      { workers: 2, ...FAST, targets: TARGETS },
      { mode: 'crash', worker: 0, afterBatches: 1, times: CRASHES },
      { restartBackoff: { minMs: 50, maxMs: 400, healthyAfterMs: 1500 } },
    );
    t.after(() => fx.stop());

    let maxGauge = 0;
    let readyzWhileDown: string | undefined;
    await waitFor(
      `${CRASHES} crashes of worker 0`,
      async () => {
        const [m, r] = await Promise.all([fx.scrape(), fx.readyz()]);
        maxGauge = Math.max(maxGauge, m.value('fleetprobe_worker_restart_backoff_seconds', { worker: '0' }) ?? 0);
        if (r.status === 503 && /worker 0 crashed; \d+ failure\(s\) in a row; restarting in/.test(r.text)) readyzWhileDown ??= r.text;
        return (m.value('fleetprobe_worker_failures_total', { worker: '0', reason: 'crashed' }) ?? 0) >= CRASHES;
      },
      30_000,
      20,
    );

    // The supervisor's own account: one log line per crash, with the count and the delay.
    const lines = fx.logs.filter((l) => l.component === 'supervisor' && typeof l.msg === 'string' && l.msg.startsWith('worker 0 crashed'));
    assert.deepEqual(
      lines.map((l) => l.failuresInARow),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.deepEqual(
      lines.map((l) => l.delayMs),
      [50, 100, 200, 400, 400, 400, 400],
      'doubling from 50 ms, capped at 400 ms',
    );
    assert.deepEqual(
      lines.map((l) => l.restarts),
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.match(String(lines[6].msg), /7 in a row, 7 restarts in all\); restarting its shard in 0\.40s/);

    // And the real timing: each replacement task started no sooner than its delay after the crash.
    const claims = fx.claims();
    assert.equal(claims.length, CRASHES);
    const restartedAfter: number[] = [];
    for (let k = 1; k < claims.length; k++) restartedAfter.push(claims[k].taskStartedAt - claims[k - 1].faultAt);
    const delays = [50, 100, 200, 400, 400, 400];
    restartedAfter.forEach((ms, k) =>
      assert.ok(ms >= delays[k] - 2, `restart ${k + 1} came ${ms} ms after crash ${k + 1}, before its ${delays[k]} ms backoff`),
    );
    t.diagnostic(`crash → next task start (ms): ${restartedAfter.join(', ')}`);

    assert.ok(Math.abs(maxGauge - 0.4) < 1e-9, `the backoff gauge showed the cap (max seen ${maxGauge})`);
    assert.ok(readyzWhileDown, '/readyz said worker 0 was down while it waited to restart');

    // The 8th task runs normally; after healthyAfterMs its backoff is reset.
    const m1 = await fx.scrape();
    const placement = await fx.placement();
    const victims = TARGETS.filter((x) => placement.get(x.name) === 0).map((x) => x.name);
    assert.ok(victims.length > 0, 'worker 0 owned targets');
    await repliesGrow(fx, m1, victims, 5, "worker 0's targets to reply again");
    await waitFor(
      'the backoff gauge to drop to 0 once worker 0 is healthy',
      async () => {
        const m = await fx.scrape();
        return m.value('fleetprobe_worker_restart_backoff_seconds', { worker: '0' }) === 0;
      },
      10_000,
      100,
    );
    assert.ok(fx.logs.some((l) => l.msg === 'worker healthy again; restart backoff reset' && l.worker === 0));
    const m2 = await fx.scrape();
    assert.equal(m2.value('fleetprobe_worker_restarts_total', { worker: '0' }), CRASHES);
    assert.equal(m2.value('fleetprobe_worker_restarts_total', { worker: '1' }), 0, 'the other worker was left alone');
    assert.equal((await fx.readyz()).status, 200);
    assert.ok(fx.guard.compared > 100, `monotonicity compared ${fx.guard.compared} series`);
  },
);

test('a worker that runs out of memory is ended at its heap limit, reported, and replaced', { skip: NEEDS_ROOT, timeout: 60_000 }, async (t) => {
  const fx = await startFaultyExporter(
    'fp-oom',
    { workers: 2, ...FAST, workers_heap_limit_mb: 64, targets: TARGETS },
    { mode: 'oom', afterBatches: 5, times: 1 },
  );
  t.after(() => fx.stop());
  // This process holds the worker threads: without a heap limit the hoarding thread would
  // grow to V8's default limit (about 4 GB on this machine) before it is stopped.
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  t.after(() => clearInterval(sampler));

  const m1 = await waitFor(
    'an out_of_memory failure',
    async () => {
      const m = await fx.scrape();
      return m.sum('fleetprobe_worker_failures_total', { reason: 'out_of_memory' }) >= 1 && m;
    },
    30_000,
    50,
  );
  const claim = fx.claims()[0];
  const victim = String(claim.worker);
  assert.equal(m1.value('fleetprobe_worker_failures_total', { worker: victim, reason: 'out_of_memory' }), 1);
  assert.equal(m1.value('fleetprobe_worker_restarts_total', { worker: victim }), 1);
  const line = fx.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith(`worker ${victim} ran out of memory`));
  assert.ok(line, 'logged as out of memory');
  assert.equal((line.err as { code?: string } | undefined)?.code, 'ERR_WORKER_OUT_OF_MEMORY');

  const placement = await fx.placement();
  const victims = TARGETS.filter((x) => String(placement.get(x.name)) === victim).map((x) => x.name);
  assert.ok(victims.length > 0, `worker ${victim} owned targets`);
  await repliesGrow(fx, m1, victims, 5, "the replaced worker's targets to reply again");
  await waitFor('/readyz 200 after the replacement', async () => (await fx.readyz()).status === 200, 5_000, 50);
  clearInterval(sampler);
  t.diagnostic(`peak RSS of the test process: ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
  assert.ok(peakRss < 1024 * 2 ** 20, `peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB stayed far below V8's default heap limit`);
  const m2 = await fx.scrape();
  assert.equal(m2.sum('fleetprobe_worker_failures_total'), 1);
});

test(
  'workers that crash while a reload applies targets are replaced with the new targets, and every target is probed',
  { skip: NEEDS_ROOT, timeout: 60_000 },
  async (t) => {
    const initial = TARGETS.slice(0, 4);
    const fx = await startFaultyExporter('fp-reload-crash', { workers: 2, ...FAST, targets: initial }, { mode: 'none' });
    t.after(() => fx.stop());
    await waitFor('/readyz 200', async () => (await fx.readyz()).status === 200, 10_000, 50);

    // 1. A reload adds targets; each worker crashes as the update reaches it.
    const more = [...TARGETS, ...['127.0.0.7', '127.0.0.8', '127.0.0.9'].map((address, i) => ({ name: `n${i}`, address }))];
    fx.plan({ mode: 'crash_on_update', times: 2 });
    fx.dir.file('c.yaml', { web: { listen_address: '127.0.0.1:0' }, workers: 2, ...FAST, log: { level: 'info' }, targets: more });
    const r1 = await fx.exporter.reload();
    assert.equal(r1.status, 'reloaded', JSON.stringify(r1.problems));
    const m1 = await waitFor(
      'both workers to crash on the update',
      async () => {
        const m = await fx.scrape();
        return m.sum('fleetprobe_worker_failures_total', { reason: 'crashed' }) >= 2 && m;
      },
      10_000,
      50,
    );
    assert.equal(fx.claims().length, 2);
    assert.deepEqual(new Set(fx.claims().map((c) => c.worker)), new Set([0, 1]), 'each worker crashed once');
    const all = more.map((x) => x.name);
    const m2 = await repliesGrow(fx, m1, all, 5, 'every target, old and new, to be probed by the replacements');

    // 2. A reload that changes `workers` restarts the pool; a new worker crashes at once.
    fx.plan({ mode: 'crash', afterBatches: 1, times: 3, startedAfter: Date.now() });
    fx.dir.file('c.yaml', { web: { listen_address: '127.0.0.1:0' }, workers: 3, ...FAST, log: { level: 'info' }, targets: more });
    const r2 = await fx.exporter.reload();
    assert.equal(r2.status, 'reloaded', JSON.stringify(r2.problems));
    await waitFor('a worker of the new pool to crash', () => fx.claims().length >= 3, 10_000, 50);
    await repliesGrow(fx, m2, all, 5, 'every target to be probed after the pool restart and the crash');
    await waitFor('/readyz 200', async () => (await fx.readyz()).status === 200, 5_000, 50);
    const m3 = await fx.scrape();
    assert.equal(m3.value('fleetprobe_workers', { state: 'configured' }), 3);
    assert.equal(m3.value('fleetprobe_workers', { state: 'running' }), 3);
    assert.equal(m3.sum('fleetprobe_worker_failures_total', { reason: 'crashed' }), 3);
    for (const n of all) assert.ok(sent(m3, n) > sent(m2, n), `${n} is still probed`);
    assert.ok(fx.guard.compared > 100, `monotonicity compared ${fx.guard.compared} series`);
  },
);

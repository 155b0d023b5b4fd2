/**
 * A worker thread that dies is replaced, and its targets carry on: the Exporter runs
 * in this process with the shard script swapped for test/fixtures/crashing-shard
 * (the real shard, plus one uncaught exception thrown from a timer in one worker
 * after a few batches). The fault is injected because a real shard has no way to
 * crash on demand. Needs root (raw ICMP sockets).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { pino } from 'pino';
import { Exporter } from '../../src/exporter.js';
import { NEEDS_ROOT, httpRequest, scrapeMetrics, sleep, tempDir, waitFor, type Metrics } from '../helpers/exporter-process.js';
import { MonotonicGuard } from '../helpers/monotonic.js';

const CRASHING_SHARD = fileURLToPath(new URL('../fixtures/crashing-shard.js', import.meta.url));
const TARGETS = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '::1'].map((address, i) => ({ name: `t${i}`, address }));

test('a worker thread killed by an uncaught exception is restarted and its targets keep counting', { skip: NEEDS_ROOT, timeout: 40_000 }, async (t) => {
  const dir = tempDir('fp-crash');
  const marker = join(dir.path, 'crashed');
  const savedEnv = { marker: process.env.FP_CRASH_MARKER, after: process.env.FP_CRASH_AFTER_BATCHES };
  // Worker threads copy process.env when they start, so set it before the pool exists.
  process.env.FP_CRASH_MARKER = marker;
  process.env.FP_CRASH_AFTER_BATCHES = '8';
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown): void => void uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  const cfg = dir.file('c.yaml', {
    workers: 2,
    flush_interval: '100ms',
    log: { level: 'silent' }, // start() applies the config's level to the injected logger
    web: { listen_address: '127.0.0.1:0' },
    probe_defaults: { interval: '50ms', timeout: '500ms' },
    targets: TARGETS,
  });
  const exporter = new Exporter({ argv: ['--config', cfg], logger: pino({ level: 'silent' }), shardFilename: CRASHING_SHARD });
  t.after(async () => {
    await exporter.stop();
    process.off('uncaughtException', onUncaught);
    if (savedEnv.marker === undefined) delete process.env.FP_CRASH_MARKER;
    else process.env.FP_CRASH_MARKER = savedEnv.marker;
    if (savedEnv.after === undefined) delete process.env.FP_CRASH_AFTER_BATCHES;
    else process.env.FP_CRASH_AFTER_BATCHES = savedEnv.after;
    dir.cleanup();
  });
  await exporter.start();
  const metrics = `${exporter.url}/metrics`;
  const guard = new MonotonicGuard();
  const scrape = guard.checking(() => scrapeMetrics(metrics));

  const api = JSON.parse((await httpRequest(`${exporter.url}/api/v1/targets`)).text()) as { targets: Array<{ name: string; worker: number }> };
  const workerOf = new Map(api.targets.map((x) => [x.name, x.worker]));
  assert.equal(workerOf.size, TARGETS.length);

  // Scrape often while the crash happens, so a counter that dips even briefly is caught.
  let atRestart: Metrics | undefined;
  const m1 = await waitFor(
    'one worker restart',
    async () => {
      const m = await scrape();
      if (m.sum('fleetprobe_worker_restarts_total') >= 1) return m;
      atRestart = m;
      return undefined;
    },
    15_000,
    50,
  );
  assert.ok(atRestart, 'scraped at least once before the crash');
  const crashed = [...m1.labelValues('fleetprobe_worker_restarts_total', 'worker')].find(
    (w) => m1.value('fleetprobe_worker_restarts_total', { worker: w }) === 1,
  );
  assert.ok(crashed !== undefined, 'the restarted worker is labelled');
  const victims = TARGETS.filter((x) => String(workerOf.get(x.name)) === crashed).map((x) => x.name);
  assert.ok(victims.length > 0, `worker ${crashed} owned targets (placement: ${JSON.stringify([...workerOf])})`);
  assert.ok(atRestart.sum('fleetprobe_probe_received_total', {}) > 0, 'probing happened before the crash');

  // The replacement must probe the same targets, from where the counters were.
  const m2 = await waitFor(
    "the crashed worker's targets to reply again",
    async () => {
      const m = await scrape();
      return (
        victims.every((n) => m.value('fleetprobe_probe_received_total', { target: n })! >= m1.value('fleetprobe_probe_received_total', { target: n })! + 5) && m
      );
    },
    10_000,
    50,
  );
  for (const n of victims) {
    assert.ok(
      m2.value('fleetprobe_probe_sent_total', { target: n })! > m1.value('fleetprobe_probe_sent_total', { target: n })!,
      `${n}: sent grows after the restart`,
    );
  }
  await waitFor('/readyz 200 after the restart', async () => (await httpRequest(`${exporter.url}/readyz`)).status === 200, 5_000);

  // One crash only: the marker keeps the replacement from crashing again.
  await sleep(1500);
  const m3 = await scrape();
  assert.equal(m3.sum('fleetprobe_worker_restarts_total'), 1, 'exactly one restart');
  assert.equal(m3.value('fleetprobe_workers', { state: 'running' }), 2);
  for (const x of TARGETS) assert.equal(m3.value('fleetprobe_probe_timeouts_total', { target: x.name }), 0, `${x.name}: no timeouts`);
  assert.ok(guard.compared > 100, `monotonicity compared ${guard.compared} series`);
  assert.deepEqual(uncaught, [], "the worker's exception did not reach the main thread");
});

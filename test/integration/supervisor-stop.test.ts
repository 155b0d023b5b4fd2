/**
 * supervisor.stop() with real worker threads: it waits for each worker's {stopped},
 * which the worker posts after its final batch on the same port, so the final batch is
 * merged before stop() resolves, however late it comes; and it still ends within its
 * bound when a worker is hung. UDP targets against an echo server of the test (no
 * privileges needed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { TargetStore } from '../../src/aggregate/store.js';
import { ShardSupervisor, type SupervisorLogger } from '../../src/pool/supervisor.js';
import { TargetSync } from '../../src/pool/target-sync.js';
import type { TargetSpec } from '../../src/targets/model.js';
import { TargetRegistry } from '../../src/targets/registry.js';
import type { Resolution } from '../../src/targets/resolve.js';
import type { FaultPlan } from '../fixtures/faulty-shard.js';
import { defaultOptions } from '../../src/kinds/index.js';

const SLOW_FINAL = fileURLToPath(new URL('../fixtures/slow-final-shard.js', import.meta.url));
const FAULTY = fileURLToPath(new URL('../fixtures/faulty-shard.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function echoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const s = dgram.createSocket('udp4');
  s.on('message', (m, r) => s.send(m, r.port, r.address));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return { port: s.address().port, close: () => new Promise<void>((r) => s.close(() => r())) };
}

function udpSpecs(n: number, port: number): TargetSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `u${i}`,
    kind: 'udp' as const,
    address: `127.0.0.1:${port}`,
    labels: {},
    intervalMs: 20,
    timeoutMs: 200,
    payloadSize: 32,
    lossWindow: 100,
    options: defaultOptions('udp', { timeoutMs: 150 }),
    source: 'test',
  }));
}
const resolve = (): Resolution => ({ status: 'ok', ip: '127.0.0.1', family: 4, addresses: ['127.0.0.1'] });

/** Log lines the supervisor writes (warn and up), for the assertions. */
function captureLogger(): { logger: SupervisorLogger; lines: Array<{ msg: string; [k: string]: unknown }> } {
  const lines: Array<{ msg: string }> = [];
  const logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string }) });
  return { logger, lines };
}

test('the final batch is merged before stop() resolves, even when it reaches the port long after the task returned', { timeout: 60_000 }, async (t) => {
  const echo = await echoServer();
  t.after(() => echo.close());
  process.env.FP_FINAL_DELAY_MS = '400';
  t.after(() => delete process.env.FP_FINAL_DELAY_MS);
  const store = new TargetStore();
  const registry = new TargetRegistry();
  const sync = new TargetSync(registry, store);
  const { logger, lines } = captureLogger();
  const supervisor = new ShardSupervisor({
    workers: 2,
    // No periodic batch during the test: everything the workers did travels in their final batch.
    flushIntervalMs: 60_000,
    cookie: 0x51a7f1a1,
    icmpIdentifierBase: process.pid & 0xffff,
    logger,
    filename: SLOW_FINAL,
    onBatch: (_w, buf) => store.applyBatch(buf),
  });
  sync.attach(supervisor);
  const specs = udpSpecs(6, echo.port);
  sync.apply(specs, resolve);
  await sleep(1000);
  assert.equal(store.batchesApplied, 0, 'no batch before the stop');

  await supervisor.stop(10_000);
  const snap = store.snapshot();
  for (const s of specs) {
    const slot = registry.slotOf(s.name)!;
    assert.ok(snap.sent[slot] >= 10, `${s.name} sent ${snap.sent[slot]}: its records arrived in the final batch`);
    assert.ok(
      snap.sent[slot] - snap.received[slot] <= 2,
      `${s.name}: sent ${snap.sent[slot]}, received ${snap.received[slot]} (only probes in flight at the stop are open)`,
    );
  }
  assert.deepEqual(
    supervisor.records.all().map((r) => r.batches),
    [1, 1],
    'exactly one batch per worker: the final one',
  );
  assert.deepEqual(
    lines.filter((l) => /did not confirm/.test(l.msg)),
    [],
    'no worker timed out',
  );
});

test("stop() ends within its bound when a worker is hung; the other worker's final batch still arrives", { timeout: 60_000 }, async (t) => {
  const echo = await echoServer();
  t.after(() => echo.close());
  const dir = mkdtempSync(join(tmpdir(), 'fp-stop-hang-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const planPath = join(dir, 'plan.json');
  writeFileSync(planPath, JSON.stringify({ mode: 'hang', worker: 0, afterBatches: 2, times: 1 } satisfies FaultPlan));
  const saved = process.env.FP_FAULT_PLAN;
  process.env.FP_FAULT_PLAN = planPath; // worker threads copy the environment when they start
  t.after(() => (saved === undefined ? delete process.env.FP_FAULT_PLAN : (process.env.FP_FAULT_PLAN = saved)));

  const store = new TargetStore();
  const registry = new TargetRegistry();
  const sync = new TargetSync(registry, store);
  const { logger, lines } = captureLogger();
  const supervisor = new ShardSupervisor({
    workers: 2,
    flushIntervalMs: 50,
    // Long enough that the watchdog leaves the hung worker alone during the test.
    stallTimeoutMs: 60_000,
    cookie: 0x51a7f1a2,
    icmpIdentifierBase: process.pid & 0xffff,
    logger,
    filename: FAULTY,
    onBatch: (_w, buf) => store.applyBatch(buf),
  });
  sync.attach(supervisor);
  sync.apply(udpSpecs(8, echo.port), resolve);
  for (let i = 0; i < 200 && !readdirSync(dir).some((f) => f.startsWith('fault-')); i++) await sleep(25);
  assert.ok(
    readdirSync(dir).some((f) => f.startsWith('fault-')),
    'worker 0 hung',
  );
  await sleep(300);
  const before = supervisor.records.get(1).batches;

  const STOP_MS = 800;
  const outcome = await Promise.race([supervisor.stop(STOP_MS).then(() => 'stopped' as const), sleep(15_000).then(() => 'still running' as const)]);
  assert.equal(outcome, 'stopped', 'stop() is bounded (its timeout, then at most about a second to end the threads)');
  assert.ok(supervisor.records.get(1).batches > before, "the healthy worker's final batch arrived");
  const late = lines.find((l) => /did not confirm their final batch/.test(l.msg));
  assert.ok(late, 'the hung worker is named in the log');
  assert.deepEqual(late.workers, [0]);
});

/**
 * Every worker thread starts with the old-generation limit (a leaking shard is ended and
 * replaced) and the small young generation (memory at 100,000 targets) the supervisor
 * gives it: read back from worker_threads.resourceLimits inside the thread.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ShardSupervisor, type SupervisorLogger } from '../../src/pool/supervisor.js';
import { DEFAULT_HEAP_LIMIT_MB, WORKER_YOUNG_GENERATION_MB } from '../../src/pool/failures.js';

const LIMITS_SHARD = fileURLToPath(new URL('../fixtures/limits-shard.js', import.meta.url));

test('worker threads run with the configured old and young generation limits', async (t) => {
  const seen: Record<string, unknown>[] = [];
  let got: () => void = () => {};
  const both = new Promise<void>((r) => (got = r));
  const log = (obj: object, msg?: string): void => {
    if (msg !== 'resource limits') return;
    seen.push(obj as Record<string, unknown>);
    if (seen.length === 2) got();
  };
  const logger: SupervisorLogger = { debug: log, info: log, warn: () => {}, error: () => {} };
  const supervisor = new ShardSupervisor({
    workers: 2,
    flushIntervalMs: 100,
    cookie: 0x11a1175,
    icmpIdentifierBase: process.pid & 0xffff,
    logger,
    filename: LIMITS_SHARD,
    onBatch: () => new Float64Array(16),
  });
  t.after(() => supervisor.stop(2000));
  supervisor.start([], 1);
  await both;
  for (const limits of seen) {
    assert.equal(limits.maxOldGenerationSizeMb, DEFAULT_HEAP_LIMIT_MB);
    assert.equal(limits.maxYoungGenerationSizeMb, WORKER_YOUNG_GENERATION_MB);
  }
});

/** The pure rules of replacing failed workers (src/pool/failures.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyExit, defaultStallTimeoutMs, restartDelayMs } from '../../src/pool/failures.js';

test('restart delay doubles per failure in a row and stops at the cap', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => restartDelayMs(n, 100, 10_000)),
    [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000],
  );
  assert.equal(restartDelayMs(0, 100, 10_000), 100, 'n < 1 is treated as the first failure');
  assert.equal(restartDelayMs(1000, 100, 10_000), 10_000, 'no overflow after many failures');
  assert.equal(restartDelayMs(3, 50, 120), 120);
});

test('a shard end is classified as stalled, out_of_memory, exited or crashed', () => {
  const oom = Object.assign(new Error('Worker terminated due to reaching memory limit: JS heap out of memory'), { code: 'ERR_WORKER_OUT_OF_MEMORY' });
  assert.equal(classifyExit(oom, false), 'out_of_memory');
  assert.equal(classifyExit(new Error('boom'), false), 'crashed');
  assert.equal(classifyExit('a thrown string', false), 'crashed');
  assert.equal(classifyExit(null, false), 'exited');
  assert.equal(classifyExit(new Error('The task has been aborted'), true), 'stalled', 'the watchdog aborted it');
  assert.equal(classifyExit(oom, true), 'stalled', 'a stall detected first wins');
});

test('the default stall timeout is ten flush intervals and at least 5 s', () => {
  assert.equal(defaultStallTimeoutMs(500), 5000);
  assert.equal(defaultStallTimeoutMs(100), 5000);
  assert.equal(defaultStallTimeoutMs(2000), 20_000);
});

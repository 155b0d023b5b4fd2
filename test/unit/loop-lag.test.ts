/** Event-loop delay arithmetic of the workers' LoopLagMonitor (workers/loop-lag.ts; src/protocol/loop-lag.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loopDelaySeconds } from '../../src/protocol/loop-lag.js';

test('loop delay is the excess of each sampling interval over the resolution, never negative', () => {
  const out = { max: -1, mean: -1 };
  // An idle loop: samples a hair above the 50 ms interval.
  loopDelaySeconds(20, 50.4e6, 50.1e6, 50, out);
  assert.ok(Math.abs(out.max - 0.0004) < 1e-12 && Math.abs(out.mean - 0.0001) < 1e-12, JSON.stringify(out));
  // A loop blocked for 300 ms once: that sample spans 350 ms.
  loopDelaySeconds(5, 350e6, 110e6, 50, out);
  assert.ok(Math.abs(out.max - 0.3) < 1e-12 && Math.abs(out.mean - 0.06) < 1e-12, JSON.stringify(out));
  // Timer rounding can make a sample a little shorter than the interval.
  loopDelaySeconds(3, 49.9e6, 49.95e6, 50, out);
  assert.deepEqual(out, { max: 0, mean: 0 });
  // No samples: perf_hooks reports max 0 and mean NaN.
  loopDelaySeconds(0, 0, Number.NaN, 50, out);
  assert.deepEqual(out, { max: 0, mean: 0 });
});

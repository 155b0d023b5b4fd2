/** Pooled connection attempts with one timer for their deadlines (workers/probes/attempt-pool.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AttemptPool } from '../../workers/probes/attempt-pool.js';
import { ManualTime } from '../helpers/manual-time.js';

interface Attempt {
  readonly id: number;
  label: string;
}

function setup() {
  const time = new ManualTime();
  const expired: Array<[string, number]> = [];
  let made = 0;
  const pool: AttemptPool<Attempt> = new AttemptPool(
    time,
    (id) => {
      made++;
      return { id, label: '' };
    },
    (a) => {
      expired.push([a.label, time.now()]);
      pool.release(a);
    },
  );
  return { time, pool, expired, made: () => made };
}

test('attempts past their deadline go to onExpired, earliest first; released ones never do', () => {
  const { time, pool, expired } = setup();
  const a = pool.acquire();
  const b = pool.acquire();
  const c = pool.acquire();
  a.label = 'a';
  b.label = 'b';
  c.label = 'c';
  pool.setDeadline(a, 300);
  pool.setDeadline(b, 100);
  pool.setDeadline(c, 200);
  assert.equal(time.pending, 1, 'one timer for every attempt');
  pool.release(c); // answered in time
  time.advanceTo(1000);
  assert.deepEqual(expired, [
    ['b', 100],
    ['a', 300],
  ]);
  assert.equal(time.pending, 0);
});

test('released attempts are reused, ids stable: the pool holds the most ever in flight at once', () => {
  const { time, pool, made } = setup();
  for (let round = 0; round < 50; round++) {
    const xs = [pool.acquire(), pool.acquire(), pool.acquire()];
    for (const x of xs) pool.setDeadline(x, time.t + 10);
    for (const x of xs) pool.release(x);
    time.advanceTo(time.t + 20);
  }
  assert.equal(made(), 3);
  const ids = new Set([pool.acquire().id, pool.acquire().id, pool.acquire().id, pool.acquire().id]);
  assert.deepEqual([...ids].sort(), [0, 1, 2, 3]);
});

test('close stops the timer: nothing expires afterwards', () => {
  const { time, pool, expired } = setup();
  pool.setDeadline(pool.acquire(), 10);
  pool.close();
  time.advanceTo(100);
  assert.deepEqual(expired, []);
  assert.equal(time.pending, 0);
});

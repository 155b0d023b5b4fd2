/**
 * The one timer over a deadline heap (workers/time/deadline-timer.ts), driven by the
 * manual clock: when it fires, how often it arms, and what it does around onDue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineTimer } from '../../workers/time/deadline-timer.js';
import { systemClock } from '../../workers/time/clock.js';
import { ManualTime } from '../helpers/manual-time.js';

/** A timer whose onDue pops every key due at the clock's now and records [key, now]. */
function setup() {
  const time = new ManualTime();
  const fired: Array<[number, number]> = [];
  let calls = 0;
  const timer: DeadlineTimer = new DeadlineTimer(time, () => {
    calls++;
    const h = timer.heap;
    while (h.size > 0 && h.peekDue() <= time.now()) fired.push([h.pop(), time.now()]);
  });
  return { time, fired, timer, calls: () => calls };
}

test('one timer for many keys, firing each at its deadline in deadline order', () => {
  const { time, fired, timer } = setup();
  for (const [k, due] of [
    [3, 30],
    [1, 10],
    [2, 20],
    [4, 20],
    [0, 40],
  ])
    timer.set(k, due);
  assert.equal(time.pending, 1, 'five keys, one timer');
  time.advanceTo(100);
  // Equal deadlines (keys 2 and 4) come in either order.
  assert.deepEqual(
    fired.map(([, t]) => t),
    [10, 20, 20, 30, 40],
  );
  assert.deepEqual(
    fired.map(([k]) => k).filter((k) => k !== 2 && k !== 4),
    [1, 3, 0],
  );
  assert.deepEqual(
    fired
      .slice(1, 3)
      .map(([k]) => k)
      .sort(),
    [2, 4],
  );
  assert.equal(time.pending, 0, 'nothing left: no timer');
  assert.equal(timer.armed, false);
});

test('moving a key to an earlier deadline re-arms the one timer for it', () => {
  const { time, fired, timer } = setup();
  timer.set(1, 100);
  timer.set(2, 200);
  const armedBefore = time.armed;
  timer.set(2, 50); // earlier than the armed 100
  assert.equal(time.armed, armedBefore + 1, 're-armed once');
  assert.equal(time.pending, 1, 'the old timer was cleared');
  time.advanceTo(60);
  assert.deepEqual(fired, [[2, 50]]);
  time.advanceTo(150);
  assert.deepEqual(fired, [
    [2, 50],
    [1, 100],
  ]);
});

test('a key added earlier than the armed deadline re-arms; one added later does not', () => {
  const { time, timer } = setup();
  timer.set(1, 100);
  const armed = time.armed;
  timer.set(2, 300);
  timer.set(3, 100);
  assert.equal(time.armed, armed, 'later or equal deadlines leave the timer alone');
  timer.set(4, 99);
  assert.equal(time.armed, armed + 1);
});

test('moving the earliest key later leaves the timer early; it fires, finds nothing due, and re-arms', () => {
  const { time, fired, timer, calls } = setup();
  timer.set(1, 100);
  timer.set(1, 500);
  assert.equal(timer.heap.dueOf(1), 500);
  time.advanceTo(100);
  assert.deepEqual(fired, []);
  assert.equal(calls(), 1, 'the early wake-up');
  assert.equal(time.pending, 1, 're-armed for 500');
  time.advanceTo(600);
  assert.deepEqual(fired, [[1, 500]]);
});

test('delete never touches the timer; a timer left without keys arms nothing after it fires', () => {
  const { time, fired, timer } = setup();
  timer.set(1, 100);
  timer.set(2, 200);
  const armed = time.armed;
  assert.equal(timer.delete(1), true);
  assert.equal(timer.delete(1), false);
  assert.equal(time.armed, armed, 'no clearTimeout + setTimeout per delete');
  assert.equal(time.pending, 1);
  time.advanceTo(150);
  assert.deepEqual(fired, []);
  timer.delete(2);
  time.advanceTo(1000);
  assert.deepEqual(fired, []);
  assert.equal(time.pending, 0);
});

test('keys moved inside onDue arm the timer once, after onDue returns', () => {
  const time = new ManualTime();
  const starts: number[] = [];
  const timer: DeadlineTimer = new DeadlineTimer(time, () => {
    const h = timer.heap;
    while (h.size > 0 && h.peekDue() <= time.now()) {
      const k = h.peekKey();
      starts.push(k);
      timer.set(k, h.peekDue() + 100); // reschedule every key one period on
    }
  });
  for (let k = 0; k < 50; k++) timer.set(k, 10);
  const armed = time.armed;
  time.advanceTo(10);
  assert.equal(starts.length, 50);
  assert.equal(time.armed, armed + 1, '50 keys moved, one setTimeout');
  assert.equal(time.pending, 1);
  time.advanceTo(110);
  assert.equal(starts.length, 100);
});

test('yieldTurn continues in the next turn (an immediate), with no timer armed meanwhile', () => {
  const time = new ManualTime();
  const seen: number[] = [];
  let budget = 0;
  const timer: DeadlineTimer = new DeadlineTimer(time, () => {
    budget = 3;
    const h = timer.heap;
    while (h.size > 0 && h.peekDue() <= time.now()) {
      if (budget-- === 0) {
        timer.yieldTurn();
        assert.equal(timer.armed, true);
        return;
      }
      seen.push(h.pop());
    }
  });
  for (let k = 0; k < 8; k++) timer.set(k, 5);
  let immediates = 0;
  const orig = time.setImmediate.bind(time);
  time.setImmediate = (fn) => {
    immediates++;
    return orig(fn);
  };
  time.advanceTo(5);
  assert.deepEqual(
    [...seen].sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  assert.equal(immediates, 2, '8 keys at 3 per turn: 3 turns, 2 yields');
  timer.set(99, 1); // a set while an immediate is pending must not arm a timer beside it
  timer.yieldTurn();
  assert.equal(time.pending, 1, 'only the immediate');
  time.advanceTo(6);
  assert.ok(seen.includes(99));
});

test('an exception from onDue still leaves the timer armed for the next deadline', () => {
  const time = new ManualTime();
  let n = 0;
  const timer: DeadlineTimer = new DeadlineTimer(time, () => {
    const h = timer.heap;
    while (h.size > 0 && h.peekDue() <= time.now()) {
      h.pop();
      if (n++ === 0) throw new Error('boom');
    }
  });
  timer.set(1, 10);
  timer.set(2, 20);
  assert.throws(() => time.advanceTo(10), /boom/);
  assert.equal(time.pending, 1, 're-armed for key 2');
  time.advanceTo(30);
  assert.equal(n, 2);
  assert.equal(timer.size, 0);
});

test('stop cancels the timer and the immediate, forgets every key, and arms nothing later', () => {
  const { time, fired, timer } = setup();
  timer.set(1, 10);
  timer.yieldTurn();
  timer.stop();
  assert.equal(time.pending, 0);
  assert.equal(timer.size, 0);
  timer.set(2, 5);
  timer.yieldTurn();
  assert.equal(time.pending, 0);
  time.advanceTo(100);
  assert.deepEqual(fired, []);
});

test('the system clock unrefs its timers: a pending probe timeout never keeps a thread alive', () => {
  const h = systemClock.setTimeout(() => assert.fail('cleared'), 60_000) as NodeJS.Timeout;
  try {
    assert.equal(h.hasRef(), false);
  } finally {
    systemClock.clearTimeout(h);
  }
  const t0 = systemClock.now();
  assert.ok(Math.abs(systemClock.originMs + t0 - Date.now()) < 1000, 'originMs + now() is epoch ms');
});

test('popDue hands out the due keys earliest first, then -1', () => {
  const time = new ManualTime();
  const timer = new DeadlineTimer(time, () => {});
  for (const [k, due] of [
    [5, 30],
    [6, 10],
    [7, 20],
    [8, 40],
  ])
    timer.set(k, due);
  const out: number[] = [];
  for (let k = timer.popDue(30); k >= 0; k = timer.popDue(30)) out.push(k);
  assert.deepEqual(out, [6, 7, 5]);
  assert.equal(timer.popDue(39.9), -1);
  assert.equal(timer.size, 1);
  timer.stop();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scheduler, nextDeadline, type SchedulerStats } from '../../workers/scheduler.js';
import { ManualTime } from '../helpers/manual-time.js';

function setup(maxStartsPerTurn = 256, originMs = 0, coalesceMs = 2) {
  const time = new ManualTime(originMs);
  const starts: Array<[number, number]> = [];
  const s = new Scheduler((slot) => starts.push([slot, time.now()]), undefined, { clock: time, maxStartsPerTurn, coalesceMs });
  return { time, starts, s };
}

const stats = (): SchedulerStats => ({ started: 0, lagMax: 0, lagSum: 0, lagCount: 0 });

test('nextDeadline is the first phase + k·interval at or after now', () => {
  assert.equal(nextDeadline(0, 0, 1000), 0);
  assert.equal(nextDeadline(1, 0, 1000), 1000);
  assert.equal(nextDeadline(1250, 300, 1000), 1300);
  assert.equal(nextDeadline(1300, 300, 1000), 1300);
  assert.equal(nextDeadline(1301, 300, 1000), 2300);
});

test('each target starts at its phase, then every interval', () => {
  const { time, starts, s } = setup();
  time.t = 5;
  s.set(7, 100, 30);
  s.set(8, 100, 60);
  time.advanceTo(350);
  assert.deepEqual(starts, [
    [7, 30],
    [8, 60],
    [7, 130],
    [8, 160],
    [7, 230],
    [8, 260],
    [7, 330],
  ]);
});

test('phases are taken against the epoch origin, so workers with different origins agree', () => {
  // Worker clock started at epoch 10_050 ms: phase 30 of a 100 ms interval is epoch 10_130 = local 80.
  const { time, starts, s } = setup(256, 10_050);
  s.set(1, 100, 30);
  time.advanceTo(200);
  assert.deepEqual(
    starts.map(([, t]) => t),
    [80, 180],
  );
});

test('1000 targets splayed over an interval start at most a few per millisecond', () => {
  const { time, starts, s } = setup();
  for (let slot = 0; slot < 1000; slot++) s.set(slot, 1000, (slot * 7919) % 1000);
  time.advanceTo(999);
  // Every first start, plus at most the two second starts the 2 ms coalescing window pulls in.
  assert.ok(starts.length >= 1000 && starts.length <= 1002, String(starts.length));
  const perMs = new Map<number, number>();
  for (const [, t] of starts) perMs.set(Math.floor(t), (perMs.get(Math.floor(t)) ?? 0) + 1);
  // One target per ms, started in turns that take what is due within the next 2 ms.
  assert.ok(Math.max(...perMs.values()) <= 3, 'no millisecond gets a burst');
  assert.equal(new Set(starts.map(([slot]) => slot)).size, 1000);
});

test('coalescing starts probes due within the window in one wake-up, never late, cadence unchanged', () => {
  const wakeups = (coalesceMs: number) => {
    const { time, starts, s } = setup(256, 0, coalesceMs);
    for (let slot = 0; slot < 1000; slot++) s.set(slot, 1000, slot);
    const turns = new Set<number>();
    const out: Array<[number, number]> = starts;
    time.advanceTo(1999);
    for (const [, t] of out) turns.add(t);
    return { turns: turns.size, starts: out, s };
  };
  const exact = wakeups(0);
  const coalesced = wakeups(2);
  assert.equal(exact.starts.length, 2000);
  assert.ok(coalesced.starts.length >= 2000 && coalesced.starts.length <= 2002, String(coalesced.starts.length));
  assert.ok(exact.turns >= 1900, `without coalescing every target wakes the loop (${exact.turns})`);
  assert.ok(coalesced.turns <= exact.turns / 2.5, `coalescing cuts wake-ups (${coalesced.turns} vs ${exact.turns})`);
  // Early by at most the window, and the second start of each target is one interval after
  // its first planned deadline (not after its early start).
  const byslot = new Map<number, number[]>();
  for (const [slot, t] of coalesced.starts) byslot.set(slot, [...(byslot.get(slot) ?? []), t]);
  for (const [slot, ts] of byslot) {
    assert.ok(ts.length === 2 || (ts.length === 3 && slot < 2), `slot ${slot}: ${ts.join(',')}`);
    assert.ok(ts[0] >= slot - 2 && ts[0] <= slot, `slot ${slot} first start ${ts[0]}`);
    assert.ok(ts[1] >= 1000 + slot - 2 && ts[1] <= 1000 + slot, `slot ${slot} second start ${ts[1]}`);
  }
  const st = stats();
  coalesced.s.drainStats(st);
  assert.equal(st.lagMax, 0, 'an early start is no lag');
});

test('one timer is armed at a time, for the earliest deadline', () => {
  const { time, s } = setup();
  for (let slot = 0; slot < 100; slot++) s.set(slot, 1000, 500 + slot);
  assert.equal(time.pending, 1, 'a single timer for 100 targets');
  s.set(1000, 1000, 10); // earlier: re-armed, still one timer
  assert.equal(time.pending, 1);
});

test('bursts are bounded per turn and continue after yielding', () => {
  const { time, starts, s } = setup(10);
  for (let slot = 0; slot < 35; slot++) s.set(slot, 1000, 100);
  let immediates = 0;
  const orig = time.setImmediate.bind(time);
  time.setImmediate = (fn) => {
    immediates++;
    return orig(fn);
  };
  time.advanceTo(100);
  assert.equal(starts.length, 35);
  assert.equal(immediates, 3, '35 starts at 10 per turn = 4 turns, 3 yields');
});

test('scheduling lag is measured as start time minus deadline and drained per batch', () => {
  const { time, s } = setup();
  s.set(1, 100, 10);
  s.set(2, 100, 20);
  time.advanceTo(100, 4); // every timer fires 4 ms late
  const st = s.drainStats(stats());
  assert.equal(st.started, 2);
  assert.equal(st.lagCount, 2);
  assert.ok(st.lagMax >= 0.004 - 1e-12 && st.lagMax <= 0.014 + 1e-9, `lagMax ${st.lagMax}`);
  assert.ok(st.lagSum >= 0.008 - 1e-12);
  assert.deepEqual(s.drainStats(stats()), { started: 0, lagMax: 0, lagSum: 0, lagCount: 0 });
});

test('a target that fell behind skips missed starts instead of bursting', () => {
  const { time, starts, s } = setup();
  s.set(1, 10, 0);
  time.advanceTo(0);
  assert.equal(starts.length, 1);
  // The thread is stalled for 95 ms: one catch-up start, then back on the grid.
  time.t = 95;
  time.advanceTo(95);
  time.advanceTo(120);
  assert.deepEqual(
    starts.map(([, t]) => t),
    [0, 95, 100, 110, 120],
  );
});

test('remove stops a target; re-set changes its interval', () => {
  const { time, starts, s } = setup();
  s.set(1, 100, 0);
  s.set(2, 100, 50);
  time.advanceTo(0);
  assert.equal(s.remove(2), true);
  assert.equal(s.remove(2), false);
  s.set(1, 40, 0);
  time.advanceTo(130);
  assert.deepEqual(starts, [
    [1, 0],
    [1, 40],
    [1, 80],
    [1, 120],
  ]);
  assert.equal(s.size, 1);
  assert.equal(s.has(2), false);
});

test('an exception from one start is reported and does not stop the others', () => {
  const time = new ManualTime();
  const started: number[] = [];
  const errors: number[] = [];
  const s = new Scheduler(
    (slot) => {
      if (slot === 1) throw new Error('boom');
      started.push(slot);
    },
    (slot) => errors.push(slot),
    { clock: time },
  );
  s.set(1, 100, 0);
  s.set(2, 100, 0);
  time.advanceTo(150);
  assert.deepEqual(started, [2, 2]);
  assert.deepEqual(errors, [1, 1]);
});

test('stop cancels every timer and ignores later sets', () => {
  const { time, s } = setup(1);
  for (let slot = 0; slot < 5; slot++) s.set(slot, 100, 0);
  time.t = 0;
  s.stop();
  assert.equal(time.pending, 0);
  s.set(9, 100, 0);
  assert.equal(time.pending, 0);
});

test('rejects a non-positive interval', () => {
  const { s } = setup();
  assert.throws(() => s.set(1, 0, 0), RangeError);
  assert.throws(() => s.set(1, Number.NaN, 0), RangeError);
});

test("onDue gets each target's tag with its slot; a changed target keeps the tag it was last set with", () => {
  const time = new ManualTime(0);
  const starts: string[] = [];
  const s = new Scheduler((slot, tag) => starts.push(`${slot}:${tag}`), undefined, { clock: time });
  s.set(3, 100, 10, 2);
  s.set(4, 100, 20); // default tag 0
  s.set(5, 100, 30, 255);
  time.advanceTo(50);
  s.set(3, 100, 60, 1); // re-tagged with its new phase
  s.remove(5);
  s.set(6, 100, 70, 7); // reuses 5's local index: its tag is 6's own
  time.advanceTo(130);
  assert.deepEqual(starts, ['3:2', '4:0', '5:255', '3:1', '6:7', '4:0']);
  assert.throws(() => s.set(9, 100, 0, 256), RangeError);
  assert.throws(() => s.set(9, 100, 0, -1), RangeError);
  assert.throws(() => s.set(9, 100, 0, 1.5), RangeError);
  assert.equal(s.has(9), false, 'a refused set() leaves no half-added target');
  s.stop();
});

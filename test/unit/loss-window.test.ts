import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LossWindows, MAX_LOSS_WINDOW } from '../../src/aggregate/loss-window.js';

/** Reference model: the plain array of the last N outcomes. */
function reference(outcomes: boolean[], n: number): { lost: number; completed: number; ratio: number } {
  const win = outcomes.slice(-n);
  const lost = win.filter((x) => x).length;
  return { lost, completed: win.length, ratio: win.length === 0 ? 0 : lost / win.length };
}

/** Deterministic pseudo-random generator (xorshift32) so failures reproduce. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

test('ratio is 0 before any probe completed', () => {
  const w = new LossWindows();
  w.configure(3, 100);
  assert.equal(w.ratio(3), 0);
  assert.equal(w.completedCount(3), 0);
  assert.equal(w.ratio(999_999), 0, 'unknown slot reads as 0');
});

for (const size of [1, 31, 32, 33, 100, 1000]) {
  test(`window of ${size} matches the reference model through several wraparounds`, () => {
    const w = new LossWindows(4);
    w.configure(2, size);
    const rand = rng(size * 7919);
    const history: boolean[] = [];
    const steps = size * 5 + 17;
    for (let i = 0; i < steps; i++) {
      const lost = rand() < 0.3;
      history.push(lost);
      w.record(2, lost);
      if (i % Math.max(1, Math.floor(size / 7)) === 0 || i === steps - 1) {
        const ref = reference(history, size);
        assert.equal(w.lostCount(2), ref.lost, `lost after ${i + 1}`);
        assert.equal(w.completedCount(2), ref.completed, `completed after ${i + 1}`);
        assert.equal(w.ratio(2), ref.ratio);
      }
    }
  });
}

test('window of 1 reflects only the latest probe', () => {
  const w = new LossWindows();
  w.configure(0, 1);
  w.record(0, true);
  assert.equal(w.ratio(0), 1);
  w.record(0, false);
  assert.equal(w.ratio(0), 0);
  w.record(0, true);
  assert.equal(w.ratio(0), 1);
  assert.equal(w.completedCount(0), 1);
});

test('a burst of losses leaves the window exactly N probes later', () => {
  const w = new LossWindows();
  w.configure(0, 100);
  for (let i = 0; i < 10; i++) w.record(0, true);
  for (let i = 0; i < 90; i++) w.record(0, false);
  assert.equal(w.ratio(0), 0.1);
  for (let i = 0; i < 9; i++) w.record(0, false);
  assert.equal(w.lostCount(0), 1);
  w.record(0, false);
  assert.equal(w.lostCount(0), 0);
  assert.equal(w.ratio(0), 0);
});

test('slots are independent, including slots of different window sizes sharing storage', () => {
  const w = new LossWindows(2);
  const sizes = [1, 100, 1000, 33, 64, 7];
  sizes.forEach((s, slot) => w.configure(slot, s));
  const hist: boolean[][] = sizes.map(() => []);
  const rand = rng(42);
  for (let i = 0; i < 5000; i++) {
    const slot = Math.floor(rand() * sizes.length);
    const lost = rand() < 0.5;
    hist[slot].push(lost);
    w.record(slot, lost);
  }
  sizes.forEach((s, slot) => {
    const ref = reference(hist[slot], s);
    assert.equal(w.lostCount(slot), ref.lost, `slot ${slot}`);
    assert.equal(w.completedCount(slot), ref.completed, `slot ${slot}`);
  });
});

test('records for an unconfigured or released slot are ignored', () => {
  const w = new LossWindows();
  w.record(5, true);
  assert.equal(w.completedCount(5), 0);
  w.configure(5, 10);
  w.record(5, true);
  w.release(5);
  w.record(5, true);
  assert.equal(w.completedCount(5), 0);
  assert.equal(w.windowSize(5), 0);
});

test('reset forgets history but keeps the size; reconfigure changes the size', () => {
  const w = new LossWindows();
  w.configure(0, 10);
  for (let i = 0; i < 15; i++) w.record(0, true);
  w.reset(0);
  assert.equal(w.completedCount(0), 0);
  assert.equal(w.windowSize(0), 10);
  w.record(0, false);
  assert.equal(w.ratio(0), 0, 'old lost bits were cleared');
  w.configure(0, 50);
  assert.equal(w.windowSize(0), 50);
  for (let i = 0; i < 50; i++) w.record(0, i < 25);
  assert.equal(w.ratio(0), 0.5);
});

test('released runs are reused by a slot needing the same size (memory does not creep)', () => {
  const w = new LossWindows(4);
  w.configure(0, 1000);
  w.configure(1, 1000);
  const used = w.bitWordsUsed;
  assert.equal(used, 64);
  w.release(0);
  w.configure(7, 1000);
  assert.equal(w.bitWordsUsed, used);
  // Reused storage starts clean even though slot 0 left bits set.
  w.release(7);
  w.configure(2, 1000);
  assert.equal(w.completedCount(2), 0);
});

test("reused storage does not leak the previous owner's lost bits", () => {
  const w = new LossWindows(4);
  w.configure(0, 64);
  for (let i = 0; i < 64; i++) w.record(0, true);
  w.release(0);
  w.configure(1, 64); // takes slot 0's run
  for (let i = 0; i < 64; i++) w.record(1, false);
  assert.equal(w.lostCount(1), 0);
  for (let i = 0; i < 64; i++) w.record(1, false);
  assert.equal(w.lostCount(1), 0, 'lost count never goes negative or picks up stale bits');
});

test('slot and bit storage grow on demand and keep existing windows intact', () => {
  const w = new LossWindows(1);
  w.configure(0, 100);
  for (let i = 0; i < 40; i++) w.record(0, i % 4 === 0);
  for (let s = 1; s <= 5000; s += 97) w.configure(s, 1000);
  assert.equal(w.lostCount(0), 10);
  assert.equal(w.completedCount(0), 40);
  w.record(4851, true);
  assert.equal(w.ratio(4851), 1);
});

test('window size is validated', () => {
  const w = new LossWindows();
  assert.throws(() => w.configure(0, 0), RangeError);
  assert.throws(() => w.configure(0, 1.5), RangeError);
  assert.throws(() => w.configure(0, MAX_LOSS_WINDOW + 1), RangeError);
  assert.throws(() => w.configure(-1, 10), RangeError);
  w.configure(0, MAX_LOSS_WINDOW);
  assert.equal(w.windowSize(0), MAX_LOSS_WINDOW);
});

test('ratiosInto writes every slot ratio, 0 for slots without data', () => {
  const w = new LossWindows(2);
  w.configure(0, 4);
  w.configure(2, 4);
  w.record(0, true);
  w.record(0, false);
  w.record(2, true);
  const out = new Float64Array(5).fill(-1);
  w.ratiosInto(out, 5);
  assert.deepEqual(Array.from(out), [0.5, 0, 1, 0, 0]);
});

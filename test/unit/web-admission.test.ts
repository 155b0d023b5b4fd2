import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionTable } from '../../src/http/connection-table.js';
import { ScrapeGate, type ScrapeSlot } from '../../src/http/scrape-gate.js';

test('connection table: admits up to the cap, then closes the longest-idle connection for a new one', () => {
  const t = new ConnectionTable<string>(3);
  for (const c of ['a', 'b', 'c']) assert.deepEqual(t.open(c), { admitted: true, evicted: null });
  assert.equal(t.size, 3);
  // All three are idle (accepted, nothing asked yet): the oldest goes first.
  assert.deepEqual(t.open('d'), { admitted: true, evicted: 'a' });
  assert.equal(t.size, 3);
  assert.deepEqual(t.open('e'), { admitted: true, evicted: 'b' });
});

test('connection table: busy connections are never evicted; all busy refuses the new one', () => {
  const t = new ConnectionTable<string>(2);
  t.open('a');
  t.open('b');
  t.requestStarted('a');
  t.requestStarted('b');
  assert.deepEqual(t.open('c'), { admitted: false });
  assert.equal(t.size, 2, 'a refused connection is not tracked');
  t.requestEnded('b');
  assert.deepEqual(t.open('c'), { admitted: true, evicted: 'b' });
  assert.equal(t.idleCount, 1, 'c is idle, a still busy');
});

test('connection table: a connection idle again after a response is the newest idle one', () => {
  const t = new ConnectionTable<string>(3);
  t.open('a');
  t.open('b');
  t.open('c');
  // a answers a request and goes back to idle: now b is the longest idle.
  t.requestStarted('a');
  t.requestEnded('a');
  assert.deepEqual(t.open('d'), { admitted: true, evicted: 'b' });
  assert.deepEqual(t.open('e'), { admitted: true, evicted: 'c' });
  assert.deepEqual(t.open('f'), { admitted: true, evicted: 'a' });
});

test('connection table: pipelined requests keep a connection busy until the last response ends', () => {
  const t = new ConnectionTable<string>(1);
  t.open('a');
  t.requestStarted('a');
  t.requestStarted('a');
  t.requestEnded('a');
  assert.deepEqual(t.open('b'), { admitted: false }, 'one response still in progress');
  t.requestEnded('a');
  assert.deepEqual(t.open('b'), { admitted: true, evicted: 'a' });
  // Extra ends and events for unknown connections change nothing.
  t.requestEnded('b');
  t.requestEnded('zz');
  t.requestStarted('zz');
  assert.equal(t.size, 1);
  assert.equal(t.idleCount, 1);
});

test('connection table: close is idempotent, frees room, and 0 means no cap', () => {
  const t = new ConnectionTable<string>(1);
  t.open('a');
  t.requestStarted('a');
  t.close('a');
  t.close('a');
  assert.equal(t.size, 0);
  assert.deepEqual(t.open('b'), { admitted: true, evicted: null });
  assert.deepEqual(t.open('b'), { admitted: true, evicted: null }, 'opening a tracked connection again is a no-op');

  const u = new ConnectionTable<number>(0);
  for (let i = 0; i < 10_000; i++) {
    u.open(i);
    u.requestStarted(i);
  }
  assert.equal(u.size, 10_000);
  assert.throws(() => new ConnectionTable(-1), RangeError);
  assert.throws(() => new ConnectionTable(1.5), RangeError);
});

/** A scrape slot whose client-wait the test sets by hand. */
class FakeSlot implements ScrapeSlot {
  evicted = 0;
  constructor(public since: number | null = null) {}
  waitingSince(): number | null {
    return this.since;
  }
  evict(): void {
    this.evicted++;
  }
}

function clock(start = 0): { now: () => number; set(t: number): void } {
  let t = start;
  return { now: () => t, set: (v) => (t = v) };
}

test('scrape gate: admits up to max, refuses beyond while every slot is being read', () => {
  const c = clock(10_000);
  const g = new ScrapeGate(2, 1000, 100, c.now);
  const a = new FakeSlot();
  const b = new FakeSlot();
  assert.deepEqual(g.admit(a), { admitted: true, evicted: null });
  assert.deepEqual(g.admit(b), { admitted: true, evicted: null });
  assert.deepEqual(g.admit(new FakeSlot()), { admitted: false });
  // Waiting, but not for a whole stallMs yet.
  a.since = 9_001;
  b.since = 9_500;
  assert.deepEqual(g.admit(new FakeSlot()), { admitted: false });
  assert.equal(a.evicted + b.evicted, 0);
  assert.equal(g.inFlight, 2);
  g.release(a);
  g.release(a);
  assert.equal(g.inFlight, 1);
  assert.equal(g.admit(new FakeSlot()).admitted, true);
});

test('scrape gate: a new scrape takes the slot of the longest-stalled one', () => {
  const c = clock(10_000);
  const g = new ScrapeGate(3, 1000, 0, c.now);
  const a = new FakeSlot(8_000);
  const b = new FakeSlot(7_000); // stalled longest
  const d = new FakeSlot(null); // reading
  for (const s of [a, b, d]) g.admit(s);
  const n = new FakeSlot();
  assert.deepEqual(g.admit(n), { admitted: true, evicted: b });
  assert.equal(b.evicted, 1);
  assert.equal(g.inFlight, 3);
  // b is gone from the gate: its later release is harmless, and it is not chosen again.
  g.release(b);
  assert.deepEqual(g.admit(new FakeSlot()), { admitted: true, evicted: a });
  // d reads, n and the last one are not waiting: refused.
  assert.deepEqual(g.admit(new FakeSlot()), { admitted: false });
  assert.equal(d.evicted, 0);
});

test('scrape gate: exactly stallMs of waiting is enough; takeovers are spaced by evictionIntervalMs', () => {
  const c = clock(10_000);
  const g = new ScrapeGate(2, 1000, 100, c.now);
  const a = new FakeSlot(9_000);
  const b = new FakeSlot(8_000);
  g.admit(a);
  g.admit(b);
  assert.deepEqual(g.admit(new FakeSlot()), { admitted: true, evicted: b });
  // a is stalled too, but the last takeover was 0 ms ago.
  assert.deepEqual(g.admit(new FakeSlot()), { admitted: false });
  c.set(10_099);
  assert.deepEqual(g.admit(new FakeSlot()), { admitted: false });
  c.set(10_100);
  assert.deepEqual(g.admit(new FakeSlot()), { admitted: true, evicted: a });
});

test('scrape gate: max 0 is no limit; bad max is refused', () => {
  const g = new ScrapeGate(0, 1000, 100);
  for (let i = 0; i < 1000; i++) assert.equal(g.admit(new FakeSlot(0)).admitted, true);
  assert.equal(g.inFlight, 1000);
  assert.throws(() => new ScrapeGate(-1, 1000, 100), RangeError);
});

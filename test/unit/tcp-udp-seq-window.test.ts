import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeqMatch, SeqWindow, windowCapacity } from '../../workers/probes/tcp-udp-seq-window.js';

test('window capacity is a power of two with room for twice the probes in flight', () => {
  assert.equal(windowCapacity(1000, 500), 32);
  assert.equal(windowCapacity(10, 1000), 256); // 100 in flight → ≥202
  assert.equal(windowCapacity(1, 60_000), 1 << 16); // capped
  for (const [i, t] of [[1000, 1000], [100, 5000], [3, 7]]) {
    const c = windowCapacity(i, t);
    assert.equal(c & (c - 1), 0);
    assert.ok(c >= 2 * Math.ceil(t / i) + 2);
  }
});

test('first reply to an in-flight probe is a reply with its RTT, the second a duplicate', () => {
  const w = new SeqWindow(32);
  const s = w.open(100);
  assert.equal(s, 1);
  assert.equal(w.inflight, 1);
  assert.equal(w.match(s, 103.5), SeqMatch.Reply);
  assert.equal(w.rttMs, 3.5);
  assert.equal(w.inflight, 0);
  assert.equal(w.match(s, 110), SeqMatch.Duplicate);
  assert.equal(w.rttMs, 10);
});

test('a reply after the timeout is late, and a further copy a duplicate', () => {
  const w = new SeqWindow(32);
  const s = w.open(0);
  assert.equal(w.expire(0), 1);
  assert.equal(w.inflight, 0);
  assert.equal(w.match(s, 1500), SeqMatch.Late);
  assert.equal(w.rttMs, 1500);
  assert.equal(w.match(s, 1600), SeqMatch.Duplicate);
});

test('sequences never sent, not yet sent or forgotten are unknown', () => {
  const w = new SeqWindow(32, 1);
  assert.equal(w.match(1, 0), SeqMatch.Unknown); // nothing sent yet
  for (let i = 0; i < 40; i++) w.open(i);
  assert.equal(w.match(0, 50), SeqMatch.Unknown); // below firstSeq
  assert.equal(w.match(41, 50), SeqMatch.Unknown); // future
  assert.equal(w.match(8, 50), SeqMatch.Unknown); // overwritten (40 - 32 = 8 is gone)
  assert.equal(w.match(9, 50), SeqMatch.Reply);
  assert.equal(w.match(-5, 50), SeqMatch.Unknown);
  assert.equal(w.match(1.5, 50), SeqMatch.Unknown);
});

test('expire times out exactly the probes sent at or before the cutoff, oldest first', () => {
  const w = new SeqWindow(32);
  const a = w.open(0);
  const b = w.open(10);
  const c = w.open(20);
  assert.equal(w.match(b, 15), SeqMatch.Reply);
  assert.equal(w.expire(-1), 0);
  assert.equal(w.oldestSentAt(), 0);
  assert.equal(w.expire(10), 1); // a timed out; b was answered
  assert.equal(w.oldestSentAt(), 20);
  assert.equal(w.match(a, 30), SeqMatch.Late);
  assert.equal(w.expire(100), 1); // c
  assert.ok(Number.isNaN(w.oldestSentAt()));
  assert.equal(w.match(c, 200), SeqMatch.Late);
});

test('failAll fails every probe in flight once; their replies are unknown', () => {
  const w = new SeqWindow(32);
  const a = w.open(0);
  const b = w.open(1);
  w.open(2);
  w.match(b, 3);
  assert.equal(w.failAll(), 2);
  assert.equal(w.inflight, 0);
  assert.equal(w.failAll(), 0);
  assert.equal(w.expire(1e9), 0);
  assert.equal(w.match(a, 5), SeqMatch.Unknown);
  const d = w.open(10); // sequences continue after a failure
  assert.equal(d, 4);
  assert.equal(w.match(d, 11), SeqMatch.Reply);
});

test('fail marks one in-flight probe; a second fail or an answered probe is refused', () => {
  const w = new SeqWindow(32);
  const a = w.open(0);
  const b = w.open(0);
  w.match(b, 1);
  assert.equal(w.fail(a), true);
  assert.equal(w.fail(a), false);
  assert.equal(w.fail(b), false);
  assert.equal(w.fail(99), false);
  assert.equal(w.inflight, 0);
});

test('overrunning the ring evicts the oldest in-flight probe and says so', () => {
  const w = new SeqWindow(4);
  for (let i = 0; i < 4; i++) {
    w.open(i);
    assert.equal(w.evicted, 0);
  }
  w.open(4);
  assert.equal(w.evicted, 1);
  assert.equal(w.inflight, 4);
  assert.equal(w.expire(1e9), 4);
});

test('books balance over a long random run: sent = replies + timeouts + failures + in flight', () => {
  const w = new SeqWindow(64);
  let sent = 0, replies = 0, timeouts = 0, failed = 0, evicted = 0;
  const seqs: number[] = [];
  let now = 0;
  for (let i = 0; i < 50000; i++) {
    now += Math.random() * 3;
    const r = Math.random();
    if (r < 0.4) {
      seqs.push(w.open(now));
      sent++;
      evicted += w.evicted;
    } else if (r < 0.8 && seqs.length) {
      const s = seqs[Math.floor(Math.random() * seqs.length)];
      if (w.match(s, now) === SeqMatch.Reply) replies++;
    } else if (r < 0.95) {
      timeouts += w.expire(now - 50);
    } else if (seqs.length) {
      if (w.fail(seqs[seqs.length - 1])) failed++;
    }
    if (seqs.length > 200) seqs.splice(0, 100);
  }
  assert.equal(sent, replies + timeouts + failed + evicted + w.inflight);
});

test('constructor rejects a capacity that is not a power of two', () => {
  assert.throws(() => new SeqWindow(30));
  assert.throws(() => new SeqWindow(1));
});

/**
 * The in-flight window and its books (workers/inflight-window.ts), shared by the icmp,
 * udp and tcp_echo probers: what an answer means (reply, late, duplicate, unknown),
 * timeouts from the one timer, failures, ring wrap-around and 32-bit sequence wrap.
 * Includes, rewritten for the shared window, every case of the tcp/udp window it
 * replaces (tcp-udp-seq-window.test.ts) and of udp's 32-bit sequence unwrap.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TIMEOUT_MAX_INTERVALS } from '../../src/kinds/timing.js';
import { AfterFailure, ECHO_RING, InflightWindow, Outcome } from '../../workers/inflight-window.js';
import { RING as ICMP_RING } from '../../workers/probes/icmp.js';
import { SlotIndex } from '../../workers/slot-index.js';
import { RecordingSink } from '../fixtures/recording-sink.js';
import { ManualTime } from '../helpers/manual-time.js';

/** The shared recording sink, read as event strings ('sent 10', 'error 10 3') and RTTs in order. */
class Books extends RecordingSink {
  get events(): string[] {
    return this.calls.map((c) => (c.kind === 'error' ? `error ${c.slot} ${c.code}` : `${c.kind} ${c.slot}`));
  }
  get rtts(): number[] {
    return this.calls.filter((c) => c.kind === 'reply' || c.kind === 'late').map((c) => c.value);
  }
}

/** A window over `targets` slots (slot 10 + k at local k), each with `timeoutMs`. */
function setup(ring = 32, timeoutMs = 1000, targets = 1) {
  const time = new ManualTime();
  const index = new SlotIndex(4);
  const books = new Books();
  const w = new InflightWindow(index, books, time, ring);
  for (let k = 0; k < targets; k++) w.start(index.add(10 + k), timeoutMs);
  /** Answer `seq` of local 0 at the clock's now, as the udp and tcp_echo probers do. */
  const answer = (seq: number, local = 0): Outcome => {
    const e = w.find(local, seq);
    return e < 0 ? Outcome.Unknown : w.answer(e, time.now() - w.sentAt(e));
  };
  return { time, index, books, w, answer };
}

test('ring sizes: a target fits if every probe in flight and the one being sent have an entry', () => {
  assert.equal(InflightWindow.fits(16, 1000, 15_000), true);
  assert.equal(InflightWindow.fits(16, 1000, 15_001), false);
  assert.equal(InflightWindow.fits(16, 100, 100 * 16), false);
  assert.equal(InflightWindow.fits(32, 10, 310), true);
  assert.equal(InflightWindow.fits(32, 10, 311), false);
  assert.equal(InflightWindow.fits(16, 0, 10), false);
  assert.equal(InflightWindow.fits(16, 10, 0), false);
  // Every target the config accepts fits the icmp ring (which does not grow) and the
  // echo ring, which is twice that (late answers are remembered for as long again).
  assert.equal(InflightWindow.fits(ICMP_RING, 1, TIMEOUT_MAX_INTERVALS), true);
  assert.equal(InflightWindow.fits(ICMP_RING, 1000, TIMEOUT_MAX_INTERVALS * 1000), true);
  assert.equal(ECHO_RING, 2 * (TIMEOUT_MAX_INTERVALS + 1));
  for (const bad of [0, 1, 30, 3, 1 << 17]) assert.throws(() => setup(bad), RangeError, String(bad));
});

test('admit grows the ring of every target for a timeout of many intervals, keeping what each ring holds', () => {
  const time = new ManualTime();
  const index = new SlotIndex(4);
  const books = new Books();
  const w = new InflightWindow(index, books, time, 4, 1 << 10);
  for (let k = 0; k < 3; k++) w.start(index.add(10 + k), 100);
  // Target 0: seqs 1..4 (1 answered, 2 timed out, 3 and 4 pending); target 2: seq 1 pending.
  for (let k = 0; k < 4; k++) w.open(0, k === 1 ? 0 : 50);
  w.open(2, 60);
  time.t = 51;
  assert.equal(w.answer(w.find(0, 1), 51), Outcome.Reply);
  time.advanceTo(100); // seq 2 (sent at 0) times out
  assert.equal(books.count('timeout'), 1);
  assert.equal(w.admit(10, 100), true, 'fits 4: ceil(100/10) + 1 = 11 > 4 → grows');
  assert.equal(w.ring, 32, '2 × 11 → 32');
  assert.equal(w.admit(1, 10_000), false, 'grown as far as maxRing, still too small');
  assert.equal(w.ring, 1 << 10);
  assert.equal(w.admit(1, 1000), true);
  // Everything moved with its sequence.
  assert.equal(w.answer(w.find(0, 1), 1), Outcome.Duplicate);
  time.t = 120;
  assert.equal(w.answer(w.find(0, 2), 120), Outcome.Late);
  assert.equal(w.pending(0), 2);
  assert.equal(w.pending(2), 1);
  time.advanceTo(149);
  assert.equal(books.count('timeout'), 1, 'pending deadlines kept (150, 160)');
  time.advanceTo(160);
  assert.equal(books.count('timeout'), 4);
  assert.deepEqual(
    books.events.filter((e) => e.startsWith('timeout')),
    ['timeout 10', 'timeout 10', 'timeout 10', 'timeout 12'],
  );
  // Sequences go on; a ring this large remembers far back.
  for (let k = 0; k < 100; k++) w.open(0, 200);
  assert.equal(w.find(0, 1) >= 0, true);
  // A window that may not grow only answers whether a target fits.
  const fixed = new InflightWindow(new SlotIndex(), books, time, 16);
  assert.equal(fixed.admit(100, 1500), true);
  assert.equal(fixed.admit(100, 1501), false);
  assert.equal(fixed.ring, 16);
  assert.throws(() => new InflightWindow(new SlotIndex(), books, time, 16, 8), RangeError);
});

test('open books Sent; the first answer is a Reply with its RTT, the second a Duplicate', () => {
  const { time, books, w, answer } = setup();
  time.t = 100;
  const e = w.open(0, 100);
  assert.equal(w.seqAt(e), 1);
  assert.equal(w.localOf(e), 0);
  assert.equal(w.pending(0), 1);
  time.t = 103.5;
  assert.equal(answer(1), Outcome.Reply);
  assert.equal(w.pending(0), 0);
  time.t = 110;
  assert.equal(answer(1), Outcome.Duplicate);
  assert.deepEqual(books.events, ['sent 10', 'reply 10', 'duplicate 10']);
  assert.deepEqual(books.rtts, [0.0035]);
  assert.deepEqual(w.books, { sent: 1, replies: 1, timeouts: 0, errors: 0, duplicates: 1, late: 0 });
});

test('the timer books Timeout at the deadline; an answer after it is Late, a further copy a Duplicate', () => {
  const { time, books, w, answer } = setup(32, 500);
  w.open(0, 0);
  time.advanceTo(499);
  assert.deepEqual(books.events, ['sent 10']);
  time.advanceTo(500);
  assert.deepEqual(books.events, ['sent 10', 'timeout 10']);
  time.t = 1500;
  assert.equal(answer(1), Outcome.Late);
  assert.equal(answer(1), Outcome.Duplicate);
  assert.deepEqual(books.events, ['sent 10', 'timeout 10', 'late 10', 'duplicate 10']);
  assert.deepEqual(books.rtts, [1.5]);
});

test('an answer slower than the timeout that beats the timer is Timeout + Late, judged on the RTT given', () => {
  const { time, books, w } = setup(16, 500);
  const e = w.open(0, 0);
  time.t = 700; // the timer has not run (no advanceTo)
  assert.equal(w.answer(e, 700), Outcome.Late);
  assert.deepEqual(books.events, ['sent 10', 'timeout 10', 'late 10']);
  time.advanceTo(2000);
  assert.equal(books.count('timeout'), 1, 'not booked twice');
  // The RTT decides, not the clock: icmp's kernel RTT can be in time when the loop read it late.
  const e2 = w.open(0, 2000);
  time.t = 2700;
  assert.equal(w.answer(e2, 0.2), Outcome.Reply);
  assert.equal(w.answer(e2, 0.2), Outcome.Duplicate);
  assert.equal(w.answer(e2, 500), Outcome.Duplicate);
});

test('sequences never sent, not yet sent, forgotten or not uint32 are Unknown and book nothing', () => {
  const { time, books, w, answer } = setup(32);
  assert.equal(answer(1), Outcome.Unknown, 'nothing sent yet');
  for (let k = 0; k < 40; k++) w.open(0, k);
  time.t = 50;
  assert.equal(answer(0), Outcome.Unknown, 'below the first sequence');
  assert.equal(answer(41), Outcome.Unknown, 'future');
  assert.equal(answer(8), Outcome.Unknown, 'overwritten: 40 - 32 = 8 is gone');
  assert.equal(answer(9), Outcome.Reply);
  for (const bad of [-5, 1.5, NaN, 2 ** 32 + 9, 2 ** 40]) assert.equal(w.find(0, bad), -1, String(bad));
  assert.equal(books.count('reply'), 1);
  assert.equal(books.count('duplicate') + books.count('late'), 0);
});

test('the timer times out exactly the probes whose deadline passed, oldest first, and skips answered ones', () => {
  const { time, books, w, answer } = setup(32, 100);
  w.open(0, 0);
  time.t = 10;
  w.open(0, 10);
  time.t = 20;
  w.open(0, 20);
  time.t = 15;
  assert.equal(answer(2), Outcome.Reply);
  time.advanceTo(99);
  assert.equal(books.count('timeout'), 0);
  time.advanceTo(110);
  assert.equal(books.count('timeout'), 1, 'seq 1 timed out; seq 2 was answered');
  assert.equal(w.pending(0), 1);
  time.t = 130;
  assert.equal(answer(1), Outcome.Late);
  time.advanceTo(1000);
  assert.equal(books.count('timeout'), 2);
  assert.equal(answer(3), Outcome.Late);
  assert.equal(time.pending, 0, 'no timer left when nothing is in flight');
});

test('one timer serves every probe of every target', () => {
  const { time, books, w } = setup(32, 1000, 200);
  for (let local = 0; local < 200; local++) w.open(local, local);
  assert.equal(time.pending, 1);
  time.advanceTo(1199);
  assert.equal(books.count('timeout'), 200);
  assert.deepEqual(books.events.filter((e) => e.startsWith('timeout')).slice(0, 3), ['timeout 10', 'timeout 11', 'timeout 12']);
});

test('failAll fails every probe in flight once (Unknown after: their answers are dropped); sequences go on', () => {
  const { time, books, w, answer } = setup();
  w.open(0, 0);
  w.open(0, 1);
  w.open(0, 2);
  time.t = 3;
  answer(2);
  assert.equal(w.failAll(0, 7, AfterFailure.Unknown), 2);
  assert.equal(w.pending(0), 0);
  assert.equal(w.failAll(0, 7, AfterFailure.Unknown), 0);
  time.advanceTo(1e6);
  assert.equal(books.count('timeout'), 0, 'a failed probe never times out');
  assert.equal(answer(1), Outcome.Unknown);
  assert.equal(answer(3), Outcome.Unknown);
  const e = w.open(0, time.t);
  assert.equal(w.seqAt(e), 4);
  assert.equal(answer(4), Outcome.Reply);
  assert.deepEqual(
    books.events.filter((x) => x.startsWith('error')),
    ['error 10 7', 'error 10 7'],
  );
});

test('fail books one Error for a pending probe only; after it an answer is a Duplicate (icmp) or Unknown', () => {
  const { books, w, answer } = setup();
  const a = w.open(0, 0);
  const b = w.open(0, 0);
  const c = w.open(0, 0);
  assert.equal(answer(2), Outcome.Reply);
  assert.equal(w.fail(a, 3), true);
  assert.equal(w.fail(a, 3), false, 'already failed');
  assert.equal(w.fail(b, 3), false, 'already answered');
  assert.equal(w.pending(0), 1);
  assert.equal(answer(1), Outcome.Duplicate, 'answer to a probe that failed with an ICMP error');
  assert.equal(w.fail(c, 4, AfterFailure.Unknown), true);
  assert.equal(answer(3), Outcome.Unknown, 'answer to a probe that never left');
  assert.deepEqual(books.events, ['sent 10', 'sent 10', 'sent 10', 'reply 10', 'error 10 3', 'duplicate 10', 'error 10 4']);
  assert.equal(w.pending(0), 0);
});

test('overrunning the ring books Timeout for the probe still pending in the reused entry', () => {
  const { books, w, answer } = setup(4, 1000);
  for (let k = 0; k < 4; k++) w.open(0, k);
  assert.equal(books.count('timeout'), 0);
  w.open(0, 4);
  assert.equal(books.count('timeout'), 1, 'seq 1 evicted: counted lost rather than lost from the books');
  assert.equal(w.pending(0), 4);
  assert.equal(answer(1), Outcome.Unknown, 'its entry now holds seq 5');
  assert.equal(answer(5), Outcome.Reply);
});

test('ring wrap-around: each entry is reused every `ring` probes and matches only its current sequence', () => {
  const { time, books, w, answer } = setup(16, 50);
  for (let k = 0; k < 100; k++) {
    time.advanceTo(k * 100);
    const e = w.open(0, time.t);
    assert.equal(w.seqAt(e), k + 1);
    assert.equal(e, (k + 1) % 16, 'entry = seq mod ring');
    time.t = k * 100 + 1;
    assert.equal(answer(k + 1), Outcome.Reply);
    if (k >= 16) assert.equal(answer(k + 1 - 16), Outcome.Unknown, 'the entry moved on');
    if (k >= 15) assert.equal(answer(k + 1 - 15), Outcome.Duplicate, 'still remembered');
  }
  assert.equal(books.count('reply'), 100);
  assert.equal(books.count('timeout'), 0);
});

test('32-bit sequences wrap: the probes on both sides of 2^32 are told apart', () => {
  const { time, books, w, answer } = setup(32, 1000);
  w.start(0, 1000, 0xfffffffe);
  const seqs: number[] = [];
  for (let k = 0; k < 5; k++) seqs.push(w.seqAt(w.open(0, k)));
  assert.deepEqual(seqs, [0xfffffffe, 0xffffffff, 0, 1, 2]);
  time.t = 10;
  assert.equal(answer(0xffffffff), Outcome.Reply);
  assert.equal(answer(1), Outcome.Reply);
  assert.equal(answer(0), Outcome.Reply);
  assert.equal(answer(3), Outcome.Unknown, 'not sent yet');
  assert.equal(answer(0xfffffffd), Outcome.Unknown, 'never sent (before the first)');
  assert.equal(answer(0xffffffff), Outcome.Duplicate);
  // What udp's unwrap used to decide: the latest sequence sent with those 32 bits.
  for (let k = 0; k < 40; k++) w.open(0, 20 + k);
  time.t = 100;
  assert.equal(answer(0xfffffffe), Outcome.Unknown, 'a full ring ago: gone');
  assert.equal(answer(42 - 32 + 1), Outcome.Reply);
  assert.equal(books.count('reply'), 4);
});

test("forget drops a target's probes without booking them; a target started on its local index continues past its sequences", () => {
  const { time, index, books, w, answer } = setup(32, 100);
  w.open(0, 0);
  w.open(0, 0);
  w.forget(0);
  assert.equal(w.pending(0), 0);
  time.advanceTo(1000);
  assert.deepEqual(books.events, ['sent 10', 'sent 10'], 'no timeout for forgotten probes');
  assert.equal(time.pending, 0);
  // The slot goes, another takes its local index: the old sequences mean nothing there,
  // and its own never repeat them (an answer names its probe by slot and sequence only).
  index.remove(10);
  const local = index.add(77);
  assert.equal(local, 0);
  w.start(local, 100);
  assert.equal(answer(2), Outcome.Unknown);
  assert.equal(w.seqAt(w.open(local, time.t)), 3);
  assert.equal(answer(1), Outcome.Unknown, "the forgotten target's first probe");
  assert.equal(answer(2), Outcome.Unknown, "the forgotten target's second probe");
  assert.equal(answer(3), Outcome.Reply);
  assert.deepEqual(books.events.slice(2), ['sent 77', 'reply 77']);
});

test("a target restarted in place, or started on another local index, begins past every forgotten target's sequences", () => {
  const { time, index, w, answer } = setup(32, 1000, 2);
  for (let k = 0; k < 5; k++) w.open(0, 0); // local 0 sends 1..5
  w.open(1, 0); // local 1 sends 1
  // Local 0's target goes; local 1's is then changed in place (upsert): its new life
  // starts past 5, the furthest any forgotten target went, not at its own 2.
  w.forget(0);
  w.start(1, 1000);
  assert.equal(w.seqAt(w.open(1, 0)), 6);
  time.t = 1;
  assert.equal(answer(1, 1), Outcome.Unknown, "the replaced target's probe");
  assert.equal(answer(6, 1), Outcome.Reply);
  // A target forgotten behind that point does not move it back.
  const l2 = index.add(50);
  w.start(l2, 1000, 2);
  w.forget(l2);
  w.start(l2, 1000);
  assert.equal(w.seqAt(w.open(l2, 1)), 6, "from 6 (local 0's), not after the forgotten 2's 1");
});

test('the first sequence of a new target follows forgotten ones across the 2^32 wrap (serial order)', () => {
  const { index, w } = setup(32, 1000);
  // Walk the next first sequence up to near 2^32, less than 2^31 at a time.
  for (const first of [0x70000000, 0xe0000000]) {
    w.start(0, 1000, first);
    w.open(0, 0);
    w.forget(0);
  }
  w.start(0, 1000, 0xfffffffe);
  const sent = [0, 1, 2].map(() => w.seqAt(w.open(0, 0)));
  assert.deepEqual(sent, [0xfffffffe, 0xffffffff, 0]);
  w.forget(0);
  const l = index.add(60);
  w.start(l, 1000);
  assert.equal(w.seqAt(w.open(l, 0)), 1, 'past 0, across the wrap');
  // More than half the sequence space ahead counts as behind (serial order): no jump.
  const far = index.add(61);
  w.start(far, 1000, 0x90000000);
  w.forget(far);
  const l3 = index.add(62);
  w.start(l3, 1000);
  assert.equal(w.seqAt(w.open(l3, 0)), 1);
});

test('the window grows with the index: rings and deadlines of many targets', () => {
  const time = new ManualTime();
  const index = new SlotIndex(4);
  const books = new Books();
  const w = new InflightWindow(index, books, time, 16);
  for (let s = 0; s < 500; s++) {
    const i = index.add(s * 3);
    w.start(i, 100);
    w.open(i, 0);
  }
  time.t = 5;
  for (let i = 0; i < 500; i += 2) assert.equal(w.answer(w.find(i, 1), 5), Outcome.Reply);
  time.advanceTo(200);
  assert.equal(books.count('reply'), 250);
  assert.equal(books.count('timeout'), 250);
  assert.ok(books.events.includes(`timeout ${499 * 3}`));
});

test('close stops the timer: nothing is booked afterwards', () => {
  const { time, books, w } = setup(32, 100);
  w.open(0, 0);
  w.close();
  time.advanceTo(1000);
  assert.equal(time.pending, 0);
  assert.deepEqual(books.events, ['sent 10']);
});

test('books balance over a long random run: sent = replies + timeouts + errors + in flight', () => {
  let s = 12345;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const { time, books, w, answer } = setup(64, 50, 3);
  const sent: number[][] = [[], [], []];
  for (let i = 0; i < 50_000; i++) {
    time.advanceTo(time.t + rnd() * 3);
    const local = Math.floor(rnd() * 3);
    const r = rnd();
    if (r < 0.4) {
      sent[local].push(w.seqAt(w.open(local, time.t)));
    } else if (r < 0.85 && sent[local].length) {
      answer(sent[local][Math.floor(rnd() * sent[local].length)], local);
    } else if (sent[local].length) {
      const e = w.find(local, sent[local][sent[local].length - 1]);
      if (e >= 0) w.fail(e, 1, rnd() < 0.5 ? AfterFailure.Unknown : AfterFailure.Duplicate);
    }
    if (sent[local].length > 200) sent[local].splice(0, 100);
  }
  const inFlight = w.pending(0) + w.pending(1) + w.pending(2);
  const b = w.books;
  assert.equal(b.sent, books.count('sent'));
  // Each probe has exactly one of reply / timeout / error (a Late comes after its Timeout).
  assert.equal(b.sent, b.replies + b.timeouts + b.errors + inFlight);
  assert.ok(b.late > 0 && b.duplicates > 0 && b.timeouts > 0 && b.errors > 0);
});

test("the deadlines' key space is the index capacity times the ring, exactly, as the index grows", () => {
  const time = new ManualTime();
  const index = new SlotIndex(4);
  const books = new Books();
  const w = new InflightWindow(index, books, time, ICMP_RING);
  index.reserve(50_000);
  assert.equal(w.deadlineKeyCapacity, 50_000 * ICMP_RING); // not 2^20 (doubling from 64)
  for (let k = 0; k < 50_001; k++) w.start(index.add(k), 1000);
  assert.equal(w.deadlineKeyCapacity, index.capacity * ICMP_RING);
  // A probe of the last target (key past the reserved space) is booked as before.
  const e = w.open(50_000, 0);
  assert.ok(e >= 50_000 * ICMP_RING);
  time.advanceTo(1001);
  assert.ok(books.calls.some((c) => c.kind === 'timeout' && c.slot === 50_000));
});

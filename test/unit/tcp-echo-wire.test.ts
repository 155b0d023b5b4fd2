import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeEchoFrame, encodeEchoFrame } from '../../src/protocol/echo-frame.js';
import { readEchoSeq, writeEchoFrame } from '../../workers/probes/tcp-echo-wire.js';

/** The exact Unix-ns value writeEchoFrame must produce, computed with BigInt. */
function expectedNanos(unixMs: number): bigint {
  let secs = Math.floor(unixMs / 1000);
  let sub = Math.round((unixMs - secs * 1000) * 1e6);
  if (sub >= 1e9) {
    secs += 1;
    sub -= 1e9;
  }
  return BigInt(secs) * 1_000_000_000n + BigInt(sub);
}

test('echo frame written without BigInt decodes with the protocol decoder', () => {
  const buf = Buffer.alloc(16);
  const cases: [number, number][] = [
    [0, 0],
    [1, 1_700_000_000_000.5],
    [2 ** 32 - 1, 1_754_000_123_456.789],
    [2 ** 32, 999.999999],
    [Number.MAX_SAFE_INTEGER, 4_102_444_800_000.001], // year 2100
    [12345, 1_700_000_000_999.9998], // the double nearest below the next millisecond
  ];
  for (const [seq, ms] of cases) {
    writeEchoFrame(buf, 0, seq, ms);
    const f = decodeEchoFrame(buf);
    assert.equal(f.seq, BigInt(seq), `seq ${seq}`);
    assert.equal(f.unixNanos, expectedNanos(ms), `time ${ms}`);
  }
});

test('echo frame time is exact to the nanosecond over many random instants', () => {
  const buf = Buffer.alloc(16);
  for (let i = 0; i < 20000; i++) {
    const ms = Math.floor(Math.random() * 4e12) + Math.floor(Math.random() * 1e6) / 1e6;
    writeEchoFrame(buf, 0, i, ms);
    assert.equal(decodeEchoFrame(buf).unixNanos, expectedNanos(ms));
  }
});

test('readEchoSeq reads frames written by the BigInt encoder, at any offset', () => {
  const buf = Buffer.alloc(48);
  encodeEchoFrame(7n, 1n, buf, 0);
  encodeEchoFrame(2n ** 40n + 3n, 2n, buf, 16);
  encodeEchoFrame(BigInt(Number.MAX_SAFE_INTEGER), 3n, buf, 32);
  assert.equal(readEchoSeq(buf, 0), 7);
  assert.equal(readEchoSeq(buf, 16), 2 ** 40 + 3);
  assert.equal(readEchoSeq(buf, 32), Number.MAX_SAFE_INTEGER);
});

test('readEchoSeq returns -1 for a sequence beyond 2^53 (never one we sent)', () => {
  const buf = Buffer.alloc(16);
  encodeEchoFrame(2n ** 53n, 0n, buf);
  assert.equal(readEchoSeq(buf, 0), -1);
  encodeEchoFrame(2n ** 64n - 1n, 0n, buf);
  assert.equal(readEchoSeq(buf, 0), -1);
});

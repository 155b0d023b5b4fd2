import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeUdpProbe,
  encodeUdpProbe,
  udpPayloadSize,
  UdpProbeHeader,
  UDP_HEADER_BYTES,
  UDP_MAX_PAYLOAD,
  UDP_MIN_PAYLOAD,
} from '../../workers/probes/udp-codec.js';

test('udp probe header round-trips cookie, slot, seq and send time', () => {
  const buf = Buffer.alloc(64);
  encodeUdpProbe(buf, 0xdeadbeef, 123456, 0xfffffffe, 1.7e12 + 0.125);
  const h = new UdpProbeHeader();
  assert.equal(decodeUdpProbe(buf, h), true);
  assert.equal(h.cookie, 0xdeadbeef);
  assert.equal(h.slot, 123456);
  assert.equal(h.seq32, 0xfffffffe);
  assert.equal(h.unixMs, 1.7e12 + 0.125);
  assert.ok(
    buf.subarray(UDP_HEADER_BYTES).every((b) => b === 0),
    'padding untouched',
  );
});

test('udp probe header: byte layout is big-endian as documented', () => {
  const buf = Buffer.alloc(20);
  encodeUdpProbe(buf, 0x01020304, 0x05060708, 0x090a0b0c, 1);
  assert.deepEqual([...buf.subarray(0, 12)], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.equal(buf.readDoubleBE(12), 1);
});

test('udp probe: a full 53-bit sequence is carried as its low 32 bits', () => {
  const buf = Buffer.alloc(20);
  encodeUdpProbe(buf, 1, 1, 2 ** 32 + 7, 0);
  const h = new UdpProbeHeader();
  decodeUdpProbe(buf, h);
  assert.equal(h.seq32, 7);
});

test('udp probe: datagrams shorter than the header are rejected', () => {
  const h = new UdpProbeHeader();
  assert.equal(decodeUdpProbe(Buffer.alloc(UDP_HEADER_BYTES - 1), h), false);
  assert.equal(decodeUdpProbe(Buffer.alloc(0), h), false);
  assert.equal(decodeUdpProbe(Buffer.alloc(UDP_HEADER_BYTES), h), true);
});

test('udp payload size is clamped to [20, 65507]', () => {
  assert.equal(udpPayloadSize(0), UDP_MIN_PAYLOAD);
  assert.equal(udpPayloadSize(19), 20);
  assert.equal(udpPayloadSize(56), 56);
  assert.equal(udpPayloadSize(56.7), 56);
  assert.equal(udpPayloadSize(1e6), UDP_MAX_PAYLOAD);
  assert.equal(udpPayloadSize(Number.NaN), UDP_MIN_PAYLOAD);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DropReason, ErrorReason } from '../../src/protocol/events.js';
import {
  ICMP_HEADER_BYTES,
  PacketKind,
  ParsedPacket,
  PAYLOAD_MAX,
  PAYLOAD_MIN,
  effectivePayloadSize,
  fillPadding,
  internetChecksum,
  paddingSum,
  writeEchoRequest,
  parseIPv4,
  parseIPv6Into,
  unreach4Reason,
  unreach6Reason,
} from '../../workers/probes/icmp-codec.js';
import { defaults, echoReply4, echoReply6, echoRequest, error4, error6, icmp4, ipv4, viewOf } from '../helpers/icmp-packets.js';

function parse(b: Buffer, family: 4 | 6, length = b.length): ParsedPacket {
  const p = new ParsedPacket();
  p.parse(b, viewOf(b), length, family);
  return p;
}

function assertDrop(b: Buffer, family: 4 | 6, reason: number, length = b.length): void {
  const p = parse(b, family, length);
  assert.equal(p.kind, PacketKind.Drop);
  assert.equal(p.drop, reason);
}

test('v4 echo request: type 8, identifier, seq16, payload fields and a valid checksum', () => {
  const b = echoRequest({ payloadSize: 56 });
  assert.equal(b.length, 64);
  assert.equal(b[0], 8);
  assert.equal(b.readUInt16BE(4), defaults.identifier);
  assert.equal(b.readUInt16BE(6), defaults.seq16);
  assert.equal(b.readUInt32BE(8), defaults.cookie);
  assert.equal(b.readUInt32BE(12), defaults.slot);
  assert.equal(b.readUInt32BE(16), defaults.seq);
  assert.equal(b.readDoubleBE(20), defaults.sendTime);
  assert.equal(internetChecksum(b, 0, b.length), 0, 'checksum verifies');
});

test('v6 echo request: type 128, checksum left to the kernel', () => {
  const b = echoRequest({ family: 6 });
  assert.equal(b[0], 128);
  assert.equal(b.readUInt16BE(2), 0);
});

test('payload is raised to carry our fields, odd sizes checksum correctly', () => {
  assert.equal(effectivePayloadSize(0), PAYLOAD_MIN);
  assert.equal(echoRequest({ payloadSize: 4 }).length, 8 + PAYLOAD_MIN);
  const odd = echoRequest({ payloadSize: 33 });
  assert.equal(odd.length, 41);
  assert.equal(internetChecksum(odd, 0, odd.length), 0);
});

test('v4 echo reply round trip, including an IP header with options', () => {
  for (const ihlWords of [5, 6, 15]) {
    const req = echoRequest({ family: 4, seq: 0xfffffffe, slot: 0xffffffff, sendTime: 98765.4321 });
    const rep = Buffer.from(req);
    rep[0] = 0;
    rep.writeUInt16BE(0, 2);
    rep.writeUInt16BE(internetChecksum(rep, 0, rep.length), 2);
    const b = ipv4(rep, '127.0.0.2', '127.0.0.1', { ihlWords });
    const p = parse(b, 4);
    assert.equal(p.kind, PacketKind.Reply, `ihl ${ihlWords}`);
    assert.equal(p.identifier, defaults.identifier);
    assert.equal(p.seq16, defaults.seq16);
    assert.equal(p.hasPayload, true);
    assert.equal(p.cookie, defaults.cookie);
    assert.equal(p.slot, 0xffffffff);
    assert.equal(p.seq, 0xfffffffe);
    assert.equal(p.sendTime, 98765.4321);
    assert.equal(p.addrOffset, 12, 'source address of the outer IP header');
    assert.deepEqual([...b.subarray(12, 16)], [127, 0, 0, 2]);
  }
});

test('v6 echo reply round trip', () => {
  const p = parse(echoReply6({ seq: 99, slot: 5 }), 6);
  assert.equal(p.kind, PacketKind.Reply);
  assert.equal(p.seq, 99);
  assert.equal(p.slot, 5);
  assert.equal(p.addrOffset, -1, 'v6 source comes from recvfrom');
});

test('v4 unreachable codes map to reasons; the quoted request is decoded', () => {
  const cases: Array<[number, number, number]> = [
    [3, 0, ErrorReason.net_unreachable],
    [3, 1, ErrorReason.host_unreachable],
    [3, 2, ErrorReason.protocol_unreachable],
    [3, 3, ErrorReason.port_unreachable],
    [3, 4, ErrorReason.packet_too_big],
    [3, 9, ErrorReason.admin_prohibited],
    [3, 10, ErrorReason.admin_prohibited],
    [3, 13, ErrorReason.admin_prohibited],
    [3, 5, ErrorReason.unreachable_other],
    [11, 0, ErrorReason.ttl_exceeded],
    [11, 1, ErrorReason.ttl_exceeded],
  ];
  for (const [type, code, reason] of cases) {
    const p = parse(error4(type, code, { seq16: 0xbeef }, '192.0.2.9', '127.0.0.1', 1000), 4);
    assert.equal(p.kind, PacketKind.Error, `${type}/${code}`);
    assert.equal(p.error, reason, `${type}/${code}`);
    assert.equal(p.identifier, defaults.identifier);
    assert.equal(p.seq16, 0xbeef);
    assert.equal(p.hasPayload, true);
    assert.equal(p.slot, defaults.slot);
  }
});

test('v4 error quoting only 8 bytes: matched by identifier and seq16, no payload', () => {
  const b = error4(3, 1, { seq16: 513 }, '192.0.2.77', '127.0.0.1', 8);
  const p = parse(b, 4);
  assert.equal(p.kind, PacketKind.Error);
  assert.equal(p.hasPayload, false);
  assert.equal(p.seq16, 513);
  assert.deepEqual([...b.subarray(p.addrOffset, p.addrOffset + 4)], [192, 0, 2, 77], 'address = quoted destination');
});

test('v6 error types and codes map to reasons and decode the quoted request', () => {
  const cases: Array<[number, number, number]> = [
    [1, 0, ErrorReason.net_unreachable],
    [1, 1, ErrorReason.admin_prohibited],
    [1, 3, ErrorReason.host_unreachable],
    [1, 4, ErrorReason.port_unreachable],
    [1, 2, ErrorReason.unreachable_other],
    [1, 6, ErrorReason.unreachable_other],
    [2, 0, ErrorReason.packet_too_big],
    [3, 0, ErrorReason.ttl_exceeded],
  ];
  for (const [type, code, reason] of cases) {
    const b = error6(type, code, { seq: 11 });
    const p = parse(b, 6);
    assert.equal(p.kind, PacketKind.Error, `${type}/${code}`);
    assert.equal(p.error, reason);
    assert.equal(p.seq, 11);
    assert.equal(b.readUInt16BE(p.addrOffset), 0x2001);
  }
  const short = parse(error6(1, 4, {}, '2001:db8::9', 8), 6);
  assert.equal(short.kind, PacketKind.Error);
  assert.equal(short.hasPayload, false);
});

test('reason tables cover unknown codes', () => {
  assert.equal(unreach4Reason(255), ErrorReason.unreachable_other);
  assert.equal(unreach6Reason(255), ErrorReason.unreachable_other);
});

test('malformed v4 packets are dropped with a reason, never thrown', () => {
  const good = echoReply4();
  assertDrop(Buffer.alloc(0), 4, DropReason.short);
  assertDrop(good.subarray(0, 19), 4, DropReason.short);
  const v6inv4 = Buffer.from(good);
  v6inv4[0] = 0x65;
  assertDrop(v6inv4, 4, DropReason.garbage);
  const badIhl = Buffer.from(good);
  badIhl[0] = 0x44;
  assertDrop(badIhl, 4, DropReason.garbage);
  assertDrop(ipv4(icmp4(0, 0, Buffer.alloc(24)), '127.0.0.1', '127.0.0.1', { protocol: 17 }), 4, DropReason.wrong_type);
  // Truncated by the receive length (the IP header claims more).
  assertDrop(good, 4, DropReason.short, good.length - 1);
  // Total length too small for an ICMP header.
  const tiny = Buffer.from(good);
  tiny.writeUInt16BE(24, 2);
  assertDrop(tiny, 4, DropReason.short);
  // Echo request (our own, seen on loopback) and other types.
  assertDrop(ipv4(echoRequest(), '127.0.0.1', '127.0.0.1'), 4, DropReason.wrong_type);
  assertDrop(ipv4(icmp4(5, 0, Buffer.alloc(28)), '127.0.0.1', '127.0.0.1'), 4, DropReason.wrong_type);
  // Corrupted checksum.
  const corrupt = Buffer.from(good);
  corrupt[corrupt.length - 1] ^= 0xff;
  assertDrop(corrupt, 4, DropReason.garbage);
  // Reply too short to carry our payload.
  assertDrop(ipv4(icmp4(0, 0, Buffer.alloc(PAYLOAD_MIN - 1)), '127.0.0.1', '127.0.0.1'), 4, DropReason.short);
});

test('malformed v4 errors are dropped with a reason', () => {
  // Quote shorter than an IP header.
  assertDrop(ipv4(icmp4(3, 1, Buffer.alloc(10)), '127.0.0.1', '127.0.0.1'), 4, DropReason.short);
  // Quoted datagram is not IPv4.
  const notV4 = Buffer.alloc(28);
  notV4[0] = 0x60;
  assertDrop(ipv4(icmp4(3, 1, notV4), '127.0.0.1', '127.0.0.1'), 4, DropReason.garbage);
  // Quoted inner IHL < 5.
  const badInner = Buffer.alloc(28);
  badInner[0] = 0x43;
  badInner[9] = 1;
  assertDrop(ipv4(icmp4(3, 1, badInner), '127.0.0.1', '127.0.0.1'), 4, DropReason.garbage);
  // Error about a UDP datagram (somebody's traceroute).
  const udp = ipv4(Buffer.alloc(8), '127.0.0.1', '192.0.2.1', { protocol: 17 });
  assertDrop(ipv4(icmp4(3, 3, udp), '127.0.0.1', '127.0.0.1'), 4, DropReason.foreign_identifier);
  // Quote cut inside the ICMP header.
  assertDrop(error4(3, 1, {}, '192.0.2.9', '127.0.0.1', 4), 4, DropReason.short);
  // Quoted ICMP that is not an echo request (an echo reply).
  const quotedReply = echoReply4({}, '127.0.0.1', '192.0.2.9').subarray(0, 28);
  assertDrop(ipv4(icmp4(3, 1, quotedReply), '127.0.0.1', '127.0.0.1'), 4, DropReason.foreign_identifier);
});

test('malformed v6 packets are dropped with a reason', () => {
  assertDrop(Buffer.alloc(7), 6, DropReason.short);
  assertDrop(echoReply6().subarray(0, 8 + PAYLOAD_MIN - 1), 6, DropReason.short);
  assertDrop(echoRequest({ family: 6 }), 6, DropReason.wrong_type);
  const nd = Buffer.alloc(32);
  nd[0] = 135;
  assertDrop(nd, 6, DropReason.wrong_type);
  assertDrop(error6(1, 0).subarray(0, 47), 6, DropReason.short);
  const notV6 = error6(1, 0);
  notV6[8] = 0x45;
  assertDrop(notV6, 6, DropReason.garbage);
  assertDrop(error6(1, 0, {}, '2001:db8::9', 1000, 17), 6, DropReason.foreign_identifier);
  assertDrop(error6(1, 0, {}, '2001:db8::9', 4), 6, DropReason.short);
  const quotedNotEcho = error6(1, 0);
  quotedNotEcho[48] = 129;
  assertDrop(quotedNotEcho, 6, DropReason.foreign_identifier);
});

test('random garbage never throws and always yields a decision', () => {
  let s = 12345;
  const rnd = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) & 0xff;
  const p = new ParsedPacket();
  for (let n = 0; n < 5000; n++) {
    const b = Buffer.alloc(n % 200);
    for (let i = 0; i < b.length; i++) b[i] = rnd();
    if (n % 3 === 0 && b.length > 0) b[0] = 0x45;
    for (const fam of [4, 6] as const) {
      const k = p.parse(b, viewOf(b), b.length, fam);
      assert.ok(k === PacketKind.Drop || k === PacketKind.Reply || k === PacketKind.Error);
    }
  }
});

test('parseIPv4 accepts dotted quads only', () => {
  assert.equal(parseIPv4('127.0.0.1'), 0x7f000001);
  assert.equal(parseIPv4('255.255.255.255'), 0xffffffff);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1..2.3', 'a.b.c.d', '1.2.3.4 ', '::1']) {
    assert.equal(parseIPv4(bad), -1, bad);
  }
});

test('parseIPv6Into handles compressed, full and embedded-IPv4 forms', () => {
  const out = new Uint8Array(16);
  const hex = () => Buffer.from(out).toString('hex');
  assert.ok(parseIPv6Into('::1', out, 0));
  assert.equal(hex(), '00000000000000000000000000000001');
  assert.ok(parseIPv6Into('::', out, 0));
  assert.equal(hex(), '0'.repeat(32));
  assert.ok(parseIPv6Into('2001:DB8::a:1', out, 0));
  assert.equal(hex(), '20010db80000000000000000000a0001');
  assert.ok(parseIPv6Into('fe80::', out, 0));
  assert.equal(hex(), 'fe800000000000000000000000000000');
  assert.ok(parseIPv6Into('1:2:3:4:5:6:7:8', out, 0));
  assert.equal(hex(), '00010002000300040005000600070008');
  assert.ok(parseIPv6Into('::ffff:127.0.0.1', out, 0));
  assert.equal(hex(), '00000000000000000000ffff7f000001');
  for (const bad of ['', ':', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', '1:2:3:4:5:6:7:8::', '1:', '127.0.0.1', '::1%lo']) {
    assert.equal(parseIPv6Into(bad, out, 0), false, bad);
  }
});

test('ping socket (dgram) IPv4 replies: no IP header, address from recvfrom, only echo replies', () => {
  const withHeader = echoReply4({ seq: 7, slot: 3, identifier: 0x4242 });
  const bare = withHeader.subarray((withHeader[0] & 0x0f) * 4); // what a ping socket hands over
  const p = new ParsedPacket();
  assert.equal(p.parse(bare, viewOf(bare), bare.length, 4, true), PacketKind.Reply);
  assert.deepEqual([p.seq, p.slot, p.identifier, p.addrOffset], [7, 3, 0x4242, -1]);
  // The same bytes read as a raw socket's packet are garbage (no IPv4 header).
  assert.equal(new ParsedPacket().parse(bare, viewOf(bare), bare.length, 4, false), PacketKind.Drop);
  // Not an echo reply, or too short for our payload: dropped with a reason.
  const request = Buffer.from(bare);
  request[0] = 8;
  const q = new ParsedPacket();
  assert.equal(q.parse(request, viewOf(request), request.length, 4, true), PacketKind.Drop);
  assert.equal(q.drop, DropReason.wrong_type);
  const short = new ParsedPacket();
  assert.equal(short.parse(bare, viewOf(bare), 12, 4, true), PacketKind.Drop);
  assert.equal(short.drop, DropReason.short);
  assert.equal(short.parse(bare, viewOf(bare), 4, 4, true), PacketKind.Drop);
  assert.equal(short.drop, DropReason.short);
});

test('writeEchoRequest: the checksum from our 28 bytes + paddingSum equals a full recompute, for every payload size and sampled fields', () => {
  const buf = Buffer.alloc(ICMP_HEADER_BYTES + PAYLOAD_MAX);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  fillPadding(buf);
  let seed = 0x9e3779b9;
  const rand = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const sizes: number[] = [];
  for (let s = 0; s <= 600; s++) sizes.push(s); // below PAYLOAD_MIN (raised to it), every small size, odd and even
  sizes.push(1400, 1471, 9000, 65_000, PAYLOAD_MAX - 1, PAYLOAD_MAX);
  const edge = [0, 1, 0xffff, 0xfffe, 0x8000];
  for (const size of sizes) {
    for (let k = 0; k < 12; k++) {
      const id = k < edge.length ? edge[k] : rand() & 0xffff;
      const seq16 = k < edge.length ? edge[(k + 2) % edge.length] : rand() & 0xffff;
      const cookie = k === 0 ? 0xffffffff : rand();
      const slot = k === 1 ? 0xffffffff : rand();
      const seq = k === 2 ? 0 : rand();
      const sendTime = k === 3 ? 0 : rand() * 1000 + rand() / 0x100000000;
      const len = writeEchoRequest(buf, view, 4, id, seq16, cookie, slot, seq, sendTime, size);
      const written = buf.readUInt16BE(2);
      // A correct checksum makes the message sum to zero; and it equals a recompute with the field zeroed.
      assert.equal(internetChecksum(buf, 0, len), 0, `size ${size} fields ${k}`);
      buf.writeUInt16BE(0, 2);
      assert.equal(written, internetChecksum(buf, 0, len));
      buf.writeUInt16BE(written, 2);
    }
  }
});

test('paddingSum is the plain sum of the padding words', () => {
  const buf = Buffer.alloc(ICMP_HEADER_BYTES + 2000);
  fillPadding(buf);
  for (let size = 0; size <= 2000 - ICMP_HEADER_BYTES; size++) {
    let sum = 0;
    const end = ICMP_HEADER_BYTES + Math.max(PAYLOAD_MIN, size);
    let i = ICMP_HEADER_BYTES + PAYLOAD_MIN;
    for (; i + 1 < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
    if (i < end) sum += buf[i] << 8;
    assert.equal(paddingSum(Math.max(PAYLOAD_MIN, size)), sum, `size ${size}`);
  }
});

/**
 * Builders of real ICMP packets as a raw socket would deliver them, shared by the
 * codec, BPF and prober unit tests. (Not a test file itself.)
 */
import { fillPadding, internetChecksum, writeEchoRequest, ICMP_HEADER_BYTES, PAYLOAD_MIN } from '../../workers/probes/icmp-codec.js';

export interface EchoFields {
  family: 4 | 6;
  identifier: number;
  seq16: number;
  cookie: number;
  slot: number;
  seq: number;
  sendTime: number;
  payloadSize: number;
}

export const defaults: EchoFields = {
  family: 4,
  identifier: 0x1234,
  seq16: 7,
  cookie: 0xc0ffee01,
  slot: 42,
  seq: 3,
  sendTime: 1234.5,
  payloadSize: 56,
};

/** The echo request exactly as the prober sends it (ICMP header onwards). */
export function echoRequest(f: Partial<EchoFields> = {}): Buffer {
  const o = { ...defaults, ...f };
  const buf = Buffer.alloc(ICMP_HEADER_BYTES + Math.max(PAYLOAD_MIN, o.payloadSize));
  fillPadding(buf);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const len = writeEchoRequest(buf, view, o.family, o.identifier, o.seq16, o.cookie, o.slot, o.seq, o.sendTime, o.payloadSize);
  return buf.subarray(0, len);
}

function ip4(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

/** An IPv4 header (+ options to reach ihlWords*4 bytes) around an ICMP message. */
export function ipv4(icmp: Buffer, src: string, dst: string, opts: { ihlWords?: number; protocol?: number } = {}): Buffer {
  const ihl = (opts.ihlWords ?? 5) * 4;
  const h = Buffer.alloc(ihl);
  h[0] = 0x40 | (ihl / 4);
  h.writeUInt16BE(ihl + icmp.length, 2);
  h[8] = 64;
  h[9] = opts.protocol ?? 1;
  ip4(src).copy(h, 12);
  ip4(dst).copy(h, 16);
  for (let i = 20; i < ihl; i++) h[i] = 1; // NOP options
  h.writeUInt16BE(internetChecksum(h, 0, ihl), 10);
  return Buffer.concat([h, icmp]);
}

/** ICMPv4 message of a type/code with a body; the checksum is computed. */
export function icmp4(type: number, code: number, rest: Buffer, word = 0): Buffer {
  const b = Buffer.alloc(8 + rest.length);
  b[0] = type;
  b[1] = code;
  b.writeUInt32BE(word >>> 0, 4);
  rest.copy(b, 8);
  b.writeUInt16BE(internetChecksum(b, 0, b.length), 2);
  return b;
}

/** The echo reply a v4 host sends for our request: same id/seq/payload, type 0. */
export function echoReply4(f: Partial<EchoFields> = {}, src = '127.0.0.1', dst = '127.0.0.1'): Buffer {
  const req = echoRequest({ ...f, family: 4 });
  const rep = Buffer.from(req);
  rep[0] = 0;
  rep.writeUInt16BE(0, 2);
  rep.writeUInt16BE(internetChecksum(rep, 0, rep.length), 2);
  return ipv4(rep, src, dst);
}

/** A v4 ICMP error (type/code) from `router`, quoting our request to `target` (quoteBytes of it). */
export function error4(type: number, code: number, f: Partial<EchoFields> = {}, target = '192.0.2.9', router = '127.0.0.1', quoteBytes = 8): Buffer {
  const req = echoRequest({ ...f, family: 4 });
  const original = ipv4(req, '127.0.0.1', target);
  const quoted = original.subarray(0, 20 + Math.min(quoteBytes, req.length));
  return ipv4(icmp4(type, code, quoted), router, '127.0.0.1');
}

function ip6(a: string): Buffer {
  // Only the short forms the tests use: "::1" and "2001:db8::N".
  const b = Buffer.alloc(16);
  if (a === '::1') b[15] = 1;
  else {
    const m = /^2001:db8::([0-9a-f]+)$/.exec(a);
    if (!m) throw new Error(`test helper cannot encode ${a}`);
    b.writeUInt16BE(0x2001, 0);
    b.writeUInt16BE(0x0db8, 2);
    b.writeUInt16BE(parseInt(m[1], 16), 14);
  }
  return b;
}

/** The echo reply as a v6 raw socket delivers it (from the ICMPv6 header; checksum by the kernel). */
export function echoReply6(f: Partial<EchoFields> = {}): Buffer {
  const rep = Buffer.from(echoRequest({ ...f, family: 6 }));
  rep[0] = 129;
  return rep;
}

/** A v6 ICMP error quoting the IPv6 header + our request (quoteBytes of it). */
export function error6(type: number, code: number, f: Partial<EchoFields> = {}, target = '2001:db8::9', quoteBytes = 1000, nextHeader = 58): Buffer {
  const req = echoRequest({ ...f, family: 6 });
  const inner = Buffer.alloc(40);
  inner[0] = 0x60;
  inner.writeUInt16BE(req.length, 4);
  inner[6] = nextHeader;
  inner[7] = 64;
  ip6('::1').copy(inner, 8);
  ip6(target).copy(inner, 24);
  const quoted = Buffer.concat([inner, req.subarray(0, Math.min(quoteBytes, req.length))]);
  const head = Buffer.alloc(8);
  head[0] = type;
  head[1] = code;
  return Buffer.concat([head, quoted]);
}

export function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

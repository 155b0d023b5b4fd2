/**
 * ICMP / ICMPv6 echo codec (pure; no sockets).
 *
 * Echo request we send (both families):
 *   0 type (8 | 128)  1 code 0  2..3 checksum  4..5 identifier  6..7 seq16
 *   8.. payload (payloadSize bytes, at least PAYLOAD_MIN):
 *     +0  uint32 cookie     per-process random (ShardSettings.cookie)
 *     +4  uint32 slot       global target slot
 *     +8  uint32 seq        per-target probe sequence number (full width)
 *     +12 float64 sendTime  performance.now() of the sending worker, ms
 *     +20 padding           fixed pattern
 *   All multi-byte fields big-endian.
 *
 * seq16 is a per-prober counter, not the per-target sequence: it is what lets us
 * match an ICMPv4 error that quotes only 8 bytes of our request (RFC 792) to the
 * probe that caused it, via (identifier, seq16).
 *
 * Checksums: v4 we compute; for ICMPv6 raw sockets Linux always computes (and
 * verifies on receive) the checksum at offset 2 itself (RFC 3542 §3.1; setting
 * IPV6_CHECKSUM on an ICMPv6 socket is refused), so we leave it zero.
 *
 * What a raw socket hands us:
 *   v4: the whole IP datagram, IP header first (IHL varies with options).
 *   v6: from the ICMPv6 header; the IPv6 header is not included, the source
 *       address comes from recvfrom().
 * ICMP errors quote the original datagram: v4 the inner IP header + at least 8
 * bytes (Linux quotes up to 576 bytes total), v6 as much as fits in 1280 bytes.
 *
 * Parsing never throws: every malformed or foreign packet yields a DropReason.
 */
import { DropReason, ErrorReason } from '../../src/protocol/events.js';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP6_DEST_UNREACH = 1;
export const ICMP6_PACKET_TOO_BIG = 2;
export const ICMP6_TIME_EXCEEDED = 3;
export const ICMP6_ECHO_REQUEST = 128;
export const ICMP6_ECHO_REPLY = 129;

export const ICMP_HEADER_BYTES = 8;
export const IPV4_MIN_HEADER = 20;
export const IPV6_HEADER_BYTES = 40;
/** Our fields in the payload. */
export const PAYLOAD_MIN = 20;
/** Largest payload we build (fits a v4 datagram with a 60-byte IP header). */
export const PAYLOAD_MAX = 65_535 - 60 - ICMP_HEADER_BYTES;
const PAD_BYTE = 0x5a;

/** Payload size actually used for a configured size (raised to carry our fields). */
export function effectivePayloadSize(configured: number): number {
  return Math.max(PAYLOAD_MIN, configured | 0);
}

/**
 * Internet checksum (RFC 1071) of buf[start, end), plus `partial`: the unfolded sum of
 * more 16-bit words that belong to the same message (the sum is order-free), e.g. a
 * fixed padding's (paddingSum).
 */
export function internetChecksum(buf: Uint8Array, start: number, end: number, partial = 0): number {
  let sum = partial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (i < end) sum += buf[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * Sum (RFC 1071, unfolded) of the padding fillPadding writes over buf[28, 8 + payloadSize),
 * in closed form: the checksum of an echo request then reads only its first 28 bytes
 * (our fields) instead of every byte of the payload. The padding starts at an even
 * offset, so its 16-bit words are PAD_BYTE pairs and an odd tail is PAD_BYTE << 8.
 */
export function paddingSum(payloadSize: number): number {
  const n = payloadSize - PAYLOAD_MIN;
  if (n <= 0) return 0;
  return (n >>> 1) * ((PAD_BYTE << 8) | PAD_BYTE) + (n & 1 ? PAD_BYTE << 8 : 0);
}

/** Fill the padding of a send buffer once; writeEchoRequest only touches the first 28 bytes. */
export function fillPadding(buf: Uint8Array): void {
  buf.fill(PAD_BYTE, ICMP_HEADER_BYTES + PAYLOAD_MIN);
}

/**
 * Write an echo request into buf[0, 8 + payloadSize) and return its length.
 * The padding must have been filled by fillPadding (the checksum covers it).
 */
export function writeEchoRequest(
  buf: Uint8Array,
  view: DataView,
  family: 4 | 6,
  identifier: number,
  seq16: number,
  cookie: number,
  slot: number,
  seq: number,
  sendTime: number,
  payloadSize: number,
): number {
  const payload = effectivePayloadSize(payloadSize);
  const len = ICMP_HEADER_BYTES + payload;
  buf[0] = family === 4 ? ICMP_ECHO_REQUEST : ICMP6_ECHO_REQUEST;
  buf[1] = 0;
  view.setUint16(2, 0);
  view.setUint16(4, identifier & 0xffff);
  view.setUint16(6, seq16 & 0xffff);
  view.setUint32(8, cookie >>> 0);
  view.setUint32(12, slot >>> 0);
  view.setUint32(16, seq >>> 0);
  view.setFloat64(20, sendTime);
  // The 28 bytes written here, plus the padding's sum (fixed by its length).
  if (family === 4) view.setUint16(2, internetChecksum(buf, 0, ICMP_HEADER_BYTES + PAYLOAD_MIN, paddingSum(payload)));
  return len;
}

export const enum PacketKind {
  Drop = 0,
  Reply = 1,
  Error = 2,
}

/**
 * The result of parsing one packet; one instance is reused for every packet so the
 * receive path allocates nothing.
 */
export class ParsedPacket {
  kind: PacketKind = PacketKind.Drop;
  /** DropReason when kind == Drop. */
  drop = 0;
  /** ErrorReason when kind == Error. */
  error = 0;
  identifier = 0;
  seq16 = 0;
  /** Whether our payload fields (cookie, slot, seq, sendTime) were present. */
  hasPayload = false;
  cookie = 0;
  slot = 0;
  seq = 0;
  sendTime = 0;
  /**
   * Offset in the packet of the address to compare with the target: v4 reply → IP
   * source; errors → the quoted request's destination. -1: v6 reply, the address is
   * the recvfrom() source.
   */
  addrOffset = -1;

  private dropWith(reason: number): PacketKind {
    this.kind = PacketKind.Drop;
    this.drop = reason;
    return PacketKind.Drop;
  }

  /**
   * Parse a packet from an ICMP socket of the given family. `dgram`: it came from a ping
   * socket, which hands over IPv4 replies without their IP header (as IPv6 always is).
   * Never throws.
   */
  parse(buf: Uint8Array, view: DataView, length: number, family: 4 | 6, dgram = false): PacketKind {
    this.hasPayload = false;
    this.addrOffset = -1;
    this.error = 0;
    const len = Math.min(length, buf.length);
    if (family === 4) return dgram ? this.parse4Dgram(buf, view, len) : this.parse4(buf, view, len);
    return this.parse6(buf, view, len);
  }

  /**
   * An IPv4 ping socket's packet: the ICMP message alone, an echo reply (the kernel
   * checked its checksum and delivers nothing else); the address is recvfrom()'s source.
   */
  private parse4Dgram(buf: Uint8Array, view: DataView, len: number): PacketKind {
    if (len < ICMP_HEADER_BYTES) return this.dropWith(DropReason.short);
    if (buf[0] !== ICMP_ECHO_REPLY) return this.dropWith(DropReason.wrong_type);
    this.identifier = view.getUint16(4);
    this.seq16 = view.getUint16(6);
    if (len - ICMP_HEADER_BYTES < PAYLOAD_MIN) return this.dropWith(DropReason.short);
    this.readPayload(view, ICMP_HEADER_BYTES);
    this.kind = PacketKind.Reply;
    return PacketKind.Reply;
  }

  private parse4(buf: Uint8Array, view: DataView, len: number): PacketKind {
    if (len < IPV4_MIN_HEADER) return this.dropWith(DropReason.short);
    if (buf[0] >> 4 !== 4) return this.dropWith(DropReason.garbage);
    const ihl = (buf[0] & 0x0f) * 4;
    if (ihl < IPV4_MIN_HEADER) return this.dropWith(DropReason.garbage);
    if (buf[9] !== 1) return this.dropWith(DropReason.wrong_type);
    const total = view.getUint16(2);
    if (total < ihl + ICMP_HEADER_BYTES) return this.dropWith(DropReason.short);
    if (total > len) return this.dropWith(DropReason.short);
    const end = total; // ignore anything past the datagram (link padding)
    const o = ihl;
    const type = buf[o];
    if (type !== ICMP_ECHO_REPLY && type !== ICMP_DEST_UNREACH && type !== ICMP_TIME_EXCEEDED) {
      return this.dropWith(DropReason.wrong_type);
    }
    if (internetChecksum(buf, o, end) !== 0) return this.dropWith(DropReason.garbage);
    if (type === ICMP_ECHO_REPLY) {
      this.identifier = view.getUint16(o + 4);
      this.seq16 = view.getUint16(o + 6);
      this.addrOffset = 12;
      if (end - o - ICMP_HEADER_BYTES < PAYLOAD_MIN) return this.dropWith(DropReason.short);
      this.readPayload(view, o + ICMP_HEADER_BYTES);
      this.kind = PacketKind.Reply;
      return PacketKind.Reply;
    }
    // Error: outer ICMP header, then the quoted IP header and at least 8 bytes of ours.
    const code = buf[o + 1];
    this.error = type === ICMP_TIME_EXCEEDED ? ErrorReason.ttl_exceeded : unreach4Reason(code);
    const inner = o + ICMP_HEADER_BYTES;
    if (end - inner < IPV4_MIN_HEADER) return this.dropWith(DropReason.short);
    if (buf[inner] >> 4 !== 4) return this.dropWith(DropReason.garbage);
    const innerIhl = (buf[inner] & 0x0f) * 4;
    if (innerIhl < IPV4_MIN_HEADER) return this.dropWith(DropReason.garbage);
    // An error about someone else's UDP/TCP datagram (traceroute, ...) is not ours.
    if (buf[inner + 9] !== 1) return this.dropWith(DropReason.foreign_identifier);
    const q = inner + innerIhl;
    if (end - q < ICMP_HEADER_BYTES) return this.dropWith(DropReason.short);
    if (buf[q] !== ICMP_ECHO_REQUEST) return this.dropWith(DropReason.foreign_identifier);
    this.identifier = view.getUint16(q + 4);
    this.seq16 = view.getUint16(q + 6);
    this.addrOffset = inner + 16;
    if (end - q - ICMP_HEADER_BYTES >= PAYLOAD_MIN) this.readPayload(view, q + ICMP_HEADER_BYTES);
    this.kind = PacketKind.Error;
    return PacketKind.Error;
  }

  private parse6(buf: Uint8Array, view: DataView, len: number): PacketKind {
    if (len < ICMP_HEADER_BYTES) return this.dropWith(DropReason.short);
    const type = buf[0];
    if (type === ICMP6_ECHO_REPLY) {
      this.identifier = view.getUint16(4);
      this.seq16 = view.getUint16(6);
      if (len - ICMP_HEADER_BYTES < PAYLOAD_MIN) return this.dropWith(DropReason.short);
      this.readPayload(view, ICMP_HEADER_BYTES);
      this.kind = PacketKind.Reply;
      return PacketKind.Reply;
    }
    if (type !== ICMP6_DEST_UNREACH && type !== ICMP6_PACKET_TOO_BIG && type !== ICMP6_TIME_EXCEEDED) {
      return this.dropWith(DropReason.wrong_type);
    }
    const code = buf[1];
    this.error = type === ICMP6_PACKET_TOO_BIG ? ErrorReason.packet_too_big : type === ICMP6_TIME_EXCEEDED ? ErrorReason.ttl_exceeded : unreach6Reason(code);
    const inner = ICMP_HEADER_BYTES;
    if (len - inner < IPV6_HEADER_BYTES) return this.dropWith(DropReason.short);
    if (buf[inner] >> 4 !== 6) return this.dropWith(DropReason.garbage);
    // Next header must be ICMPv6 directly (we send no extension headers).
    if (buf[inner + 6] !== 58) return this.dropWith(DropReason.foreign_identifier);
    const q = inner + IPV6_HEADER_BYTES;
    if (len - q < ICMP_HEADER_BYTES) return this.dropWith(DropReason.short);
    if (buf[q] !== ICMP6_ECHO_REQUEST) return this.dropWith(DropReason.foreign_identifier);
    this.identifier = view.getUint16(q + 4);
    this.seq16 = view.getUint16(q + 6);
    this.addrOffset = inner + 24;
    if (len - q - ICMP_HEADER_BYTES >= PAYLOAD_MIN) this.readPayload(view, q + ICMP_HEADER_BYTES);
    this.kind = PacketKind.Error;
    return PacketKind.Error;
  }

  private readPayload(view: DataView, p: number): void {
    this.hasPayload = true;
    this.cookie = view.getUint32(p);
    this.slot = view.getUint32(p + 4);
    this.seq = view.getUint32(p + 8);
    this.sendTime = view.getFloat64(p + 12);
  }
}

/** ICMPv4 destination unreachable code → ErrorReason. */
export function unreach4Reason(code: number): number {
  switch (code) {
    case 0:
      return ErrorReason.net_unreachable;
    case 1:
      return ErrorReason.host_unreachable;
    case 2:
      return ErrorReason.protocol_unreachable;
    case 3:
      return ErrorReason.port_unreachable;
    case 4:
      return ErrorReason.packet_too_big;
    case 9:
    case 10:
    case 13:
      return ErrorReason.admin_prohibited;
    default:
      return ErrorReason.unreachable_other;
  }
}

/** ICMPv6 destination unreachable code → ErrorReason. */
export function unreach6Reason(code: number): number {
  switch (code) {
    case 0:
      return ErrorReason.net_unreachable;
    case 1:
      return ErrorReason.admin_prohibited;
    case 3:
      return ErrorReason.host_unreachable;
    case 4:
      return ErrorReason.port_unreachable;
    default:
      return ErrorReason.unreachable_other;
  }
}

/** Parse a dotted-quad IPv4 literal to a uint32, or -1. */
export function parseIPv4(s: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      if (++dots > 3) return -1;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // no leading zeros (octal ambiguity)
      part = part * 10 + (c - 48);
      if (part > 255 || ++digits > 3) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/**
 * Parse an IPv6 literal (RFC 4291 text forms, incl. "::" and an embedded dotted
 * quad; no zone) into out[off, off+16). Returns false on anything else. No allocation.
 */
export function parseIPv6Into(s: string, out: Uint8Array, off: number): boolean {
  const n = s.length;
  if (n < 2 || n > 45) return false;
  let groups = 0; // 16-bit groups written
  let gap = -1; // group index where "::" was
  let i = 0;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === n) {
      out.fill(0, off, off + 16);
      return true;
    }
  }
  while (i < n) {
    if (groups === 8) return false;
    // Look ahead: an embedded IPv4 quad takes the last 32 bits.
    let j = i;
    let hex = 0;
    let digits = 0;
    let isQuad = false;
    while (j < n) {
      const c = s.charCodeAt(j);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else if (c === 46) {
        isQuad = true;
        break;
      } else break;
      hex = hex * 16 + d;
      digits++;
      j++;
    }
    if (isQuad) {
      if (groups > 6) return false;
      const v4 = parseIPv4(s.slice(i));
      if (v4 < 0) return false;
      out[off + groups * 2] = (v4 >>> 24) & 0xff;
      out[off + groups * 2 + 1] = (v4 >>> 16) & 0xff;
      out[off + groups * 2 + 2] = (v4 >>> 8) & 0xff;
      out[off + groups * 2 + 3] = v4 & 0xff;
      groups += 2;
      break;
    }
    if (digits === 0 || digits > 4) return false;
    out[off + groups * 2] = hex >> 8;
    out[off + groups * 2 + 1] = hex & 0xff;
    groups++;
    i = j;
    if (i === n) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i < n && s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = groups;
      i++;
    } else if (i === n) {
      return false; // trailing single colon
    }
  }
  if (gap < 0) return groups === 8;
  if (groups > 7) return false;
  // Move the groups after the gap to the end and zero the gap.
  const tail = groups - gap;
  for (let k = tail - 1; k >= 0; k--) {
    out[off + (8 - tail + k) * 2] = out[off + (gap + k) * 2];
    out[off + (8 - tail + k) * 2 + 1] = out[off + (gap + k) * 2 + 1];
  }
  out.fill(0, off + gap * 2, off + (8 - tail) * 2);
  return true;
}

import { varintSize } from '../values/varint.js';
/**
 * A minimal protobuf (proto3 wire format) writer into one growing Buffer: varints,
 * zigzag varints, doubles, strings, raw bytes, and length-delimited messages whose
 * length is written when they end (the content is shifted right by the size of the
 * length's varint: one memmove per message, no second sizing pass).
 *
 * Why not protobufjs' Writer: it builds a linked list of operation objects (one per
 * field) before it writes a byte, so 100,000 targets × ~30 fields cost millions of
 * short-lived objects per scrape; here a field is a few byte stores, and the label
 * pairs of a target come as bytes pre-encoded once per definition (label-arena.ts).
 */

/** Wire types. */
export const VARINT = 0;
export const FIXED64 = 1;
export const LEN = 2;

export class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Room for n more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Unsigned varint, 0 <= v < 2^53 (integral). */
  varint(v: number): void {
    this.ensure(10);
    const buf = this.buf;
    let p = this.pos;
    if (v < 0x80) {
      buf[p] = v;
      this.pos = p + 1;
      return;
    }
    while (v >= 0x80) {
      buf[p++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[p++] = v;
    this.pos = p;
  }

  /** Zigzag varint (sint32/sint64) of an integer |v| < 2^52. */
  svarint(v: number): void {
    this.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** A string field (tag, length, UTF-8 bytes). */
  string(field: number, s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.tag(field, LEN);
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** Raw bytes (already encoded fields). */
  raw(src: Uint8Array, start = 0, n = src.length - start): void {
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    if (n <= 16) for (let i = start, end = start + n; i < end; i++) buf[p++] = src[i];
    else {
      buf.set(src.subarray(start, start + n), p);
      p += n;
    }
    this.pos = p;
  }

  /**
   * Start a length-delimited field (its tag now, its length at end()); returns the mark
   * for end(). One byte is reserved for the length: most messages here (a value, a
   * bucket, a span) are shorter than 128 bytes, and end() then writes it in place
   * without moving the content.
   */
  begin(field: number): number {
    this.tag(field, LEN);
    return this.beginFrame();
  }

  /** Start a length-prefixed message with no tag (the delimited stream's frames). */
  beginFrame(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** End the message started at `mark`: its length goes in front of it (the content moves when the length needs more than the reserved byte). */
  end(mark: number): void {
    const start = mark + 1;
    const len = this.pos - start;
    const buf0 = this.buf;
    if (len < 0x80) {
      buf0[mark] = len;
      return;
    }
    const extra = varintSize(len) - 1;
    this.ensure(extra);
    const buf = this.buf;
    buf.copyWithin(start + extra, start, this.pos);
    let p = mark;
    let v = len;
    while (v >= 0x80) {
      buf[p++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[p] = v;
    this.pos += extra;
  }

  /**
   * Copy src[start, start + n): a byte loop up to 256 bytes (a target's label pairs),
   * because both set(subarray) and Buffer.copy allocate a view object per call
   * (Buffer.copy does so inside node:buffer), which profiled at a fifth of the time.
   */
  copyFrom(src: Uint8Array, start: number, n: number): void {
    this.ensure(n);
    if (n <= 256) {
      const buf = this.buf;
      let p = this.pos;
      for (let i = start, end = start + n; i < end; i++) buf[p++] = src[i];
      this.pos = p;
    } else {
      this.buf.set(src.subarray(start, start + n), this.pos);
      this.pos += n;
    }
  }

  /** The bytes written so far, copied out; the writer starts over (keeping its buffer). */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    return out;
  }
}

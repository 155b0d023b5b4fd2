/**
 * An append-only byte writer that hands out chunks of exactly `chunkBytes`
 * (the last one shorter). The exposition serializer writes precomputed UTF-8
 * pieces (family prefixes, cached label fragments, `le` suffixes) and numbers
 * straight into a Buffer: building the text as JS strings instead costs one
 * cons-string per piece, and most of the time then goes to the garbage
 * collector (measured: 2-4x slower).
 *
 * Pieces that straddle a chunk boundary are split, so chunks are always full;
 * a consumer may keep every chunk it receives (each is a fresh Buffer).
 *
 * Numbers are written exactly as formatNumber() prints them: integers below
 * 2^53 digit by digit (no string), anything else via formatNumber().
 */
import { formatNumber } from './format.js';

/** Digits of the largest integer written without a string: 2^53 - 1 has 16. */
const UINT_ROOM = 16;

export class ChunkWriter {
  private buf: Buffer;
  private pos = 0;
  /** Full chunks not yet taken by the consumer. */
  private readonly ready: Buffer[] = [];
  private readonly scratch = Buffer.allocUnsafe(UINT_ROOM);

  constructor(private readonly chunkBytes: number) {
    if (!(chunkBytes >= 1)) throw new RangeError(`chunk size must be >= 1, got ${chunkBytes}`);
    this.buf = Buffer.allocUnsafe(chunkBytes);
  }

  /** True when at least one full chunk is waiting. */
  get hasFullChunk(): boolean {
    return this.ready.length > 0;
  }

  /** Take the full chunks (and, if `all`, the partial current one), oldest first. */
  take(all = false): Buffer[] {
    if (all && this.pos > 0) {
      this.ready.push(this.buf.subarray(0, this.pos));
      this.buf = Buffer.allocUnsafe(this.chunkBytes);
      this.pos = 0;
    }
    return this.ready.splice(0, this.ready.length);
  }

  bytes(b: Uint8Array): void {
    const n = b.length;
    let p = this.pos;
    if (p + n > this.buf.length) {
      this.splitCopy(b, n);
      return;
    }
    const buf = this.buf;
    // set() is a memcpy behind a fixed call cost of tens of ns; a JS byte loop wins only
    // for the tiniest pieces. Measured on the 10k-target icmp exposition (30.8 MB): with
    // the loop up to 256 bytes, 76 ms; up to 16 bytes, 35 ms (labels go through memcpy).
    if (n <= 16) for (let i = 0; i < n; i++) buf[p++] = b[i];
    else {
      buf.set(b, p);
      p += n;
    }
    this.pos = p;
  }

  /** Copy src[start, start + n) (a range of a shared arena: no subarray per call when short). */
  range(src: Uint8Array, start: number, n: number): void {
    let p = this.pos;
    if (p + n > this.buf.length) {
      this.splitCopy(src.subarray(start, start + n), n);
      return;
    }
    const buf = this.buf;
    if (n <= 16) for (let i = start, end = start + n; i < end; i++) buf[p++] = src[i];
    else {
      buf.set(src.subarray(start, start + n), p);
      p += n;
    }
    this.pos = p;
  }

  /**
   * Block writers (exposition.ts) write many small pieces with local variables instead
   * of one method call per piece, which is most of the cost of a line: they check
   * `room`, write into `buffer` from `position` with the put* functions below, and
   * `commit` the end. Only within the current chunk: when a block does not fit, the
   * caller writes it piece by piece with the methods above, which split across chunks.
   */
  get room(): number {
    return this.buf.length - this.pos;
  }

  get buffer(): Buffer {
    return this.buf;
  }

  get position(): number {
    return this.pos;
  }

  commit(end: number): void {
    this.pos = end;
  }

  byte(c: number): void {
    if (this.pos === this.buf.length) this.spill();
    this.buf[this.pos++] = c;
  }

  /** A number in Prometheus text form (see formatNumber). */
  number(v: number): void {
    if (v >= 0 && v < 9007199254740992 && Math.floor(v) === v) {
      if (this.pos + UINT_ROOM <= this.buf.length) this.pos = writeUint(this.buf, this.pos, v);
      else this.splitCopy(this.scratch, writeUint(this.scratch, 0, v));
      return;
    }
    const s = formatNumber(v); // ASCII only: digits, '.', 'e', '+', '-', 'NaN', 'Inf'
    if (this.pos + s.length <= this.buf.length) {
      const buf = this.buf;
      let p = this.pos;
      for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
      this.pos = p;
    } else {
      this.splitCopy(Buffer.from(s, 'latin1'), s.length);
    }
  }

  /** Copy b[0..n) across as many chunks as it takes. */
  private splitCopy(b: Uint8Array, n: number): void {
    let i = 0;
    while (i < n) {
      if (this.pos === this.buf.length) this.spill();
      const k = Math.min(n - i, this.buf.length - this.pos);
      this.buf.set(b.subarray(i, i + k), this.pos);
      this.pos += k;
      i += k;
    }
  }

  private spill(): void {
    this.ready.push(this.buf);
    this.buf = Buffer.allocUnsafe(this.chunkBytes);
    this.pos = 0;
  }
}

/** Room a block writer reserves for one number written with putNumber (when fitsNumber). */
export const NUMBER_ROOM = 24;

/** True when putNumber writes `v` in at most NUMBER_ROOM bytes (everything but integers ≥ 1e21, written out in full). */
export function fitsNumber(v: number): boolean {
  return !(v >= 1e21 || v <= -1e21) || !Number.isInteger(v);
}

/** Copy `b` to buf[p..] (a byte loop for short pieces: set() has a fixed cost of tens of ns); returns the end. */
export function putBytes(buf: Uint8Array, p: number, b: Uint8Array): number {
  const n = b.length;
  if (n <= 16) {
    for (let i = 0; i < n; i++) buf[p++] = b[i];
    return p;
  }
  buf.set(b, p);
  return p + n;
}

/** Copy src[start, start + n) to buf[p..]; returns the end. */
export function putRange(buf: Uint8Array, p: number, src: Uint8Array, start: number, n: number): number {
  if (n <= 16) {
    for (let i = start, end = start + n; i < end; i++) buf[p++] = src[i];
    return p;
  }
  buf.set(src.subarray(start, start + n), p);
  return p + n;
}

/** A number as formatNumber prints it at buf[p..] (at most NUMBER_ROOM bytes when fitsNumber(v)); returns the end. */
export function putNumber(buf: Buffer, p: number, v: number): number {
  if (v >= 0 && v < 9007199254740992 && Math.floor(v) === v) return writeUint(buf, p, v);
  const s = formatNumber(v);
  for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
  return p;
}

/** Write an integer 0 <= v < 2^53 (at most 16 digits) at buf[p..]; returns the end. */
export function writeUint(buf: Buffer, p: number, v: number): number {
  if (v < 10) {
    buf[p] = 48 + v;
    return p + 1;
  }
  let digits: number;
  if (v < 100) digits = 2;
  else if (v < 1000) digits = 3;
  else if (v < 10000) digits = 4;
  else if (v < 100000) digits = 5;
  else if (v < 1000000) digits = 6;
  else {
    digits = 7;
    for (let t = v; t >= 10000000; t = Math.floor(t / 10)) digits++;
  }
  const end = p + digits;
  let q = end;
  if (v < 2147483648) {
    let x = v | 0;
    while (x >= 10) {
      const d = (x / 10) | 0;
      buf[--q] = 48 + (x - d * 10);
      x = d;
    }
    buf[--q] = 48 + x;
  } else {
    let x = v;
    while (x >= 10) {
      const d = Math.floor(x / 10);
      buf[--q] = 48 + (x - d * 10);
      x = d;
    }
    buf[--q] = 48 + x;
  }
  return end;
}

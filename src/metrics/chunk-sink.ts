/**
 * Where a streaming serializer writes: a buffer cut into fixed-size chunks as it fills.
 *
 * The writer asks for room for a whole record (room(n)), writes it at `pos` with the
 * proto-wire primitives, and sets `pos` past it; once `pos` reaches `chunkBytes`,
 * cut() hands out every whole chunk as a view of the buffer (no copy) and moves the
 * few bytes past the last whole chunk to a fresh buffer. So every chunk but the last
 * is exactly `chunkBytes` long (a record may be split between two chunks, as a byte
 * stream allows), each byte is written once, and the writer holds one buffer of
 * `chunkBytes + slack` bytes whatever the size of the output.
 *
 * A record longer than the slack (a target with kilobytes of labels) grows the current
 * buffer to fit; the next buffer is of the usual size again.
 */
import { viewOf } from './proto-wire.js';

export const DEFAULT_SINK_SLACK = 16 * 1024;

export class ChunkSink {
  buf: Buffer;
  /** A DataView of `buf` (proto-wire copyBytes), replaced with it. */
  view: DataView;
  pos = 0;
  private readonly capacity: number;

  constructor(
    readonly chunkBytes: number,
    slack = DEFAULT_SINK_SLACK,
  ) {
    if (!Number.isInteger(chunkBytes) || chunkBytes < 1) throw new RangeError(`chunk size must be a positive integer, got ${chunkBytes}`);
    this.capacity = chunkBytes + slack;
    this.buf = Buffer.allocUnsafe(this.capacity);
    this.view = viewOf(this.buf);
  }

  /** Make room for n more bytes at `pos`. */
  room(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(this.pos + n);
  }

  private grow(need: number): void {
    const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = viewOf(next);
  }

  /** Append bytes built elsewhere (e.g. a small family from a ProtoWriter); cut() when `full` after it. */
  append(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** True when at least one whole chunk is written (cut() has something to give). */
  get full(): boolean {
    return this.pos >= this.chunkBytes;
  }

  /** Every whole chunk written so far, in order; the bytes after them start the next. */
  cut(): Buffer[] {
    const size = this.chunkBytes;
    const whole = Math.floor(this.pos / size);
    if (whole === 0) return [];
    const out: Buffer[] = new Array<Buffer>(whole);
    const buf = this.buf;
    for (let i = 0; i < whole; i++) out[i] = buf.subarray(i * size, (i + 1) * size);
    const rest = this.pos - whole * size; // < chunkBytes
    this.buf = Buffer.allocUnsafe(this.capacity);
    this.view = viewOf(this.buf);
    if (rest > 0) buf.copy(this.buf, 0, whole * size, this.pos);
    this.pos = rest;
    return out;
  }

  /** The end of the output: every chunk not cut yet, the last one shorter; the sink is then empty. */
  finish(): Buffer[] {
    const out = this.cut();
    if (this.pos > 0) out.push(this.buf.subarray(0, this.pos));
    this.buf = Buffer.allocUnsafe(0);
    this.view = viewOf(this.buf);
    this.pos = 0;
    return out;
  }
}

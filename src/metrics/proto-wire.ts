/**
 * Protobuf wire-format primitives that write at a position in a byte array and return
 * the position after what they wrote, plus the sizes of what they write: the pieces
 * of a writer that knows every length before it writes (protobuf-exposition.ts sizes
 * a family first, then writes each byte once, in place).
 *
 * Plain functions on (buf, p) rather than methods on a writer object: TurboFan inlines
 * them into the caller's loop and keeps `p` in a register, where a writer's `this.pos`
 * is a field load and store per call. The caller makes room first (ChunkSink.room):
 * nothing here checks bounds (past the end, a typed array drops the store and a DataView
 * throws: a wrong size shows in the tests, never as memory corruption).
 */
export { varintSize } from '../values/varint.js';

/** Zigzag (sint32/sint64) of an integer |v| < 2^52. */
export function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

/** Unsigned varint, 0 <= v < 2^53 (integral). */
export function putVarint(buf: Uint8Array, p: number, v: number): number {
  if (v < 0x80) {
    buf[p] = v;
    return p + 1;
  }
  if (v < 0x4000) {
    buf[p] = (v & 0x7f) | 0x80;
    buf[p + 1] = v >>> 7;
    return p + 2;
  }
  // Above 2^32 the bit operators would truncate: divide instead.
  while (v >= 0x80) {
    buf[p++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[p] = v;
  return p + 1;
}

/**
 * A little-endian IEEE 754 double (protobuf `double`, wire type FIXED64) at p, through a
 * DataView of the output (viewOf): one unaligned 8-byte store once optimized, where
 * Buffer#writeDoubleLE stores into a scratch Float64Array and copies its 8 bytes one by
 * one (after its argument checks). The bits are the double's either way, NaN payloads too.
 */
export function putDouble(view: DataView, p: number, v: number): number {
  view.setFloat64(p, v, true);
  return p + 8;
}

/** A DataView over exactly the bytes of `a` (for copyBytes). */
export function viewOf(a: Uint8Array): DataView {
  return new DataView(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Copy src[start, start + n) to buf at p; bufView and srcView are viewOf(buf) and
 * viewOf(src). Runs up to 128 bytes (a target's label pairs, an extra label pair: the
 * copy every Metric makes) go 4 bytes at a time through the DataViews, which neither
 * allocate nor need alignment; `set(subarray)` allocates a view per call (garbage
 * for the collector, 1.3 million per scrape at 100,000 targets) and a plain byte loop
 * costs about twice as much per byte. Longer runs go to the native copy.
 */
export function copyBytes(buf: Uint8Array, bufView: DataView, p: number, src: Uint8Array, srcView: DataView, start: number, n: number): number {
  const end = start + n;
  if (n > 128) {
    buf.set(src.subarray(start, end), p);
    return p + n;
  }
  let a = start;
  for (; a + 8 <= end; a += 8, p += 8) {
    bufView.setUint32(p, srcView.getUint32(a, true), true);
    bufView.setUint32(p + 4, srcView.getUint32(a + 4, true), true);
  }
  for (; a < end; a++) buf[p++] = src[a];
  return p;
}

/** Copy src[start, start + n) to buf at p (headers: not per Metric). */
export function putBytes(buf: Uint8Array, p: number, src: Uint8Array, start: number, n: number): number {
  buf.set(src.subarray(start, start + n), p);
  return p + n;
}

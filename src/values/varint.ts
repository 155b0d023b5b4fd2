/**
 * Bytes of a protobuf varint of 0 <= v < 2^53, integral (the label arena and the
 * protobuf writers all size them). Compares before it divides: the sizes asked for
 * per scrape (lengths, counts) are nearly all below 2^28.
 */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  let n = 5;
  v = Math.floor(v / 0x800000000);
  while (v > 0) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

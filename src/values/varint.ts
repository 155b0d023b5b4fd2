/** Bytes of a protobuf varint of 0 <= v < 2^53 (the label arena and the protobuf writer both size them). */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

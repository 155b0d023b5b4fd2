/**
 * The tcp_ping_prometheus echo frame: exactly 16 bytes,
 *   bytes 0..7   uint64 big-endian sequence number
 *   bytes 8..15  uint64 big-endian send time, Unix nanoseconds
 * The responder echoes each frame unchanged; the prober matches on the sequence.
 * Kept wire compatible so a fleetprobe prober works against any server that echoes
 * these frames and a fleetprobe responder against any client that sends them.
 */
export const ECHO_FRAME_BYTES = 16;

export function encodeEchoFrame(seq: bigint, unixNanos: bigint, out: Buffer = Buffer.allocUnsafe(ECHO_FRAME_BYTES), offset = 0): Buffer {
  out.writeBigUInt64BE(BigInt.asUintN(64, seq), offset);
  out.writeBigUInt64BE(BigInt.asUintN(64, unixNanos), offset + 8);
  return out;
}

export interface EchoFrame {
  seq: bigint;
  unixNanos: bigint;
}

/** Decode the frame at `offset`; the caller guarantees 16 bytes are there. */
export function decodeEchoFrame(buf: Buffer, offset = 0): EchoFrame {
  return { seq: buf.readBigUInt64BE(offset), unixNanos: buf.readBigUInt64BE(offset + 8) };
}

/** Current Unix time in nanoseconds (wall clock, as the wire format wants). */
export function unixNanosNow(): bigint {
  // performance.timeOrigin + now() keeps sub-millisecond precision that Date.now() lacks.
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
}

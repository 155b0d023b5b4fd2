/**
 * The UDP echo probe payload (RFC 862: the server returns the datagram unchanged, so
 * everything needed to match the reply travels in it):
 *
 *   bytes 0..3    uint32 BE  cookie     per-process random value (ShardSettings.cookie)
 *   bytes 4..7    uint32 BE  slot       target slot of the sender
 *   bytes 8..11   uint32 BE  seq        low 32 bits of the target's sequence number
 *   bytes 12..19  float64 BE send time  Unix milliseconds (informational, for packet captures;
 *                                       RTT is measured against the locally kept send time)
 *   bytes 20..    zero padding up to payloadSize
 *
 * Pure functions, no I/O.
 */

export const UDP_HEADER_BYTES = 20;
export const UDP_MIN_PAYLOAD = UDP_HEADER_BYTES;
/** Largest UDP payload over IPv4 (65535 - 20 IP - 8 UDP). */
export const UDP_MAX_PAYLOAD = 65507;

/** Clamp a configured payload size into what the codec and UDP allow. */
export function udpPayloadSize(configured: number): number {
  if (!Number.isFinite(configured)) return UDP_MIN_PAYLOAD;
  return Math.min(UDP_MAX_PAYLOAD, Math.max(UDP_MIN_PAYLOAD, Math.floor(configured)));
}

/** Write the header into `buf` (whose padding the caller zeroed once). */
export function encodeUdpProbe(buf: Buffer, cookie: number, slot: number, seq: number, unixMs: number): void {
  buf.writeUInt32BE(cookie >>> 0, 0);
  buf.writeUInt32BE(slot >>> 0, 4);
  buf.writeUInt32BE(seq >>> 0, 8);
  buf.writeDoubleBE(unixMs, 12);
}

/** Decoded header fields; one reusable instance per reader, so decoding allocates nothing. */
export class UdpProbeHeader {
  cookie = 0;
  slot = 0;
  seq32 = 0;
  unixMs = 0;
}

/** Decode into `out`; false when the datagram is too short to be ours. */
export function decodeUdpProbe(msg: Buffer, out: UdpProbeHeader): boolean {
  if (msg.length < UDP_HEADER_BYTES) return false;
  out.cookie = msg.readUInt32BE(0);
  out.slot = msg.readUInt32BE(4);
  out.seq32 = msg.readUInt32BE(8);
  out.unixMs = msg.readDoubleBE(12);
  return true;
}

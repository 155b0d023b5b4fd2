/**
 * The tcp_ping_prometheus echo frame (see src/protocol/echo-frame.ts for the layout),
 * written and read without BigInt so the per-probe path allocates nothing.
 *
 * Sequence numbers stay below 2^53 (a safe integer), so the 64-bit field is split into
 * two uint32 halves. The Unix-nanosecond timestamp does not fit a double exactly
 * (~1.7e18 > 2^53); it is assembled exactly from whole seconds and the sub-second
 * nanoseconds: s * 1e9 = (s * 1953125) * 2^9, and s * 1953125 < 2^53, so the high and
 * low words can be computed without rounding.
 */
import { ECHO_FRAME_BYTES } from '../../src/protocol/echo-frame.js';

export { ECHO_FRAME_BYTES };

const TWO32 = 4294967296;
const TWO23 = 8388608;

/** Write one frame at `offset`: `seq` (safe integer ≥ 0), time `unixMs` (ms since the epoch, fractional). */
export function writeEchoFrame(buf: Buffer, offset: number, seq: number, unixMs: number): void {
  buf.writeUInt32BE(Math.floor(seq / TWO32) >>> 0, offset);
  buf.writeUInt32BE(seq >>> 0, offset + 4);
  let secs = Math.floor(unixMs / 1000);
  let subNs = Math.round((unixMs - secs * 1000) * 1e6);
  if (subNs >= 1e9) {
    secs += 1;
    subNs -= 1e9;
  }
  if (secs < 0) {
    secs = 0;
    subNs = 0;
  }
  const a = secs * 1953125; // exact: < 2^53 for any time before the year 2^53/1953125/3.15e7 ≈ 146,000
  const aHi = Math.floor(a / TWO23);
  let lo = (a - aHi * TWO23) * 512 + subNs; // < 2^32 + 2^30
  let hi = aHi;
  if (lo >= TWO32) {
    lo -= TWO32;
    hi += 1;
  }
  buf.writeUInt32BE(hi >>> 0, offset + 8);
  buf.writeUInt32BE(lo >>> 0, offset + 12);
}

/** Sequence of the frame at `offset`, or -1 when it is beyond 2^53 (never one of ours). */
export function readEchoSeq(buf: Buffer, offset: number): number {
  const hi = buf.readUInt32BE(offset);
  if (hi >= 0x200000) return -1;
  return hi * TWO32 + buf.readUInt32BE(offset + 4);
}

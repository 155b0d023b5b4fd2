/**
 * One-byte RTT codes for the history rings: a log scale from 1 µs to 100 s in 254
 * steps, so a stored percentile costs one byte instead of four or eight. Pure.
 *
 *   code 0        no value (no answered probe in the period)
 *   code 1        ≤ 1 µs
 *   code 1..255   RTT_CODE_MIN × (RTT_CODE_MAX / RTT_CODE_MIN)^((code − 1) / 254)
 *   code 255      ≥ 100 s
 *
 * Neighbouring codes are a factor 10^(8/254) ≈ 1.075 apart, so a decoded value is
 * within ±3.7% of the encoded one (inside the range). That is finer than the RTT
 * histogram the percentiles come from (default buckets double), so quantising
 * costs nothing a graph could show.
 */

export const RTT_CODE_MIN_SECONDS = 1e-6;
export const RTT_CODE_MAX_SECONDS = 100;
/** Codes 1..255 cover the range; 0 means "no value". */
export const RTT_CODE_NONE = 0;
export const RTT_CODE_COUNT = 256;
const STEPS = 254;
const LOG_MIN = Math.log(RTT_CODE_MIN_SECONDS);
const LOG_SPAN = Math.log(RTT_CODE_MAX_SECONDS / RTT_CODE_MIN_SECONDS);

/** Decoded value of every code (index 0 is NaN). */
const DECODED: Float64Array = (() => {
  const t = new Float64Array(RTT_CODE_COUNT);
  t[0] = NaN;
  for (let c = 1; c < RTT_CODE_COUNT; c++) t[c] = Math.exp(LOG_MIN + ((c - 1) / STEPS) * LOG_SPAN);
  return t;
})();

/** Seconds → code; NaN and negative values (no value) → 0. */
export function encodeRtt(seconds: number): number {
  if (!(seconds >= 0)) return RTT_CODE_NONE;
  if (seconds <= RTT_CODE_MIN_SECONDS) return 1;
  if (seconds >= RTT_CODE_MAX_SECONDS) return 255;
  return 1 + Math.round(((Math.log(seconds) - LOG_MIN) / LOG_SPAN) * STEPS);
}

/** Code → seconds (NaN for 0). */
export function decodeRtt(code: number): number {
  return DECODED[code & 0xff];
}

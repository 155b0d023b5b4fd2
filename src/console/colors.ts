/**
 * Cell colours of the matrix: green for no loss through yellow to red, on a log scale
 * (0.1% is already visible, 20% and more is full red); RTT on a log scale between the
 * matrix's own smallest and largest p99. Grey: no data.
 */

const NO_DATA = '#e0e0e0';

function hue(t: number): string {
  const h = 120 * (1 - Math.min(1, Math.max(0, t)));
  return `hsl(${h.toFixed(0)}, 70%, ${(48 + 10 * (1 - Math.abs(t - 0.5) * 2)).toFixed(0)}%)`;
}

export function lossColor(loss: number | null): string {
  if (loss === null) return NO_DATA;
  if (loss <= 0) return hue(0);
  const lo = Math.log10(0.001);
  const hi = Math.log10(0.2);
  return hue(0.15 + 0.85 * ((Math.log10(Math.max(loss, 0.001)) - lo) / (hi - lo)));
}

export function rttColor(v: number | null, min: number, max: number): string {
  if (v === null || !(v > 0)) return NO_DATA;
  if (!(max > min)) return hue(0);
  return hue((Math.log(v) - Math.log(min)) / (Math.log(max) - Math.log(min)));
}

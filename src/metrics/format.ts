/**
 * Number formatting for the Prometheus text format 0.0.4, as prom-client writes
 * numbers (JavaScript's shortest round-trip decimal), with two differences:
 * NaN is written `NaN` (prom-client writes `Nan`, which Prometheus only accepts
 * because Go's ParseFloat is case-insensitive), and integers too large for
 * plain notation (>= 1e21) are written out in full rather than as `1e+21`.
 */
export function formatNumber(v: number): string {
  if (v === 0) return '0';
  if (v !== v) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if ((v >= 1e21 || v <= -1e21) && Number.isInteger(v)) return BigInt(v).toString();
  return '' + v;
}

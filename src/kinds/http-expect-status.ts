/**
 * The http kind's expect_status: which status codes count as success. The one parser
 * of it: the configuration checks with it, and the main thread ships its result (a
 * list of inclusive ranges) to the http prober, which only expands the ranges into its
 * lookup table (workers/probes/http-status.ts).
 *
 * Accepted spellings: "2xx" (the default), "2xx,3XX", "200,204", "200-299", a number
 * (200), or a list of any of these ([200, 204] or ["2xx", 301]).
 */

/** Inclusive [from, to] status ranges, each within 100..599. */
export type StatusRanges = ReadonlyArray<readonly [number, number]>;

/** "2xx", "200", "200-299", or a comma list of those → ranges, or why not. */
export function parseExpectStatus(v: unknown): Array<[number, number]> | string {
  if (typeof v === 'number') v = String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'number' || typeof x === 'string')) v = v.join(',');
  if (typeof v !== 'string' || v.trim() === '') return 'must be like "2xx", "200", "200-399" or a comma list of those';
  const ranges: Array<[number, number]> = [];
  for (const part of v.split(',').map((p) => p.trim())) {
    let m: RegExpExecArray | null;
    if ((m = /^([1-5])xx$/i.exec(part))) ranges.push([Number(m[1]) * 100, Number(m[1]) * 100 + 99]);
    else if ((m = /^(\d{3})$/.exec(part))) ranges.push([Number(m[1]), Number(m[1])]);
    else if ((m = /^(\d{3})-(\d{3})$/.exec(part)) && Number(m[1]) <= Number(m[2])) ranges.push([Number(m[1]), Number(m[2])]);
    else return `"${part}" is not a status ("200"), class ("2xx") or range ("200-299")`;
    const last = ranges[ranges.length - 1];
    if (last[0] < 100 || last[1] > 599) return `"${part}" is outside 100-599`;
  }
  return ranges;
}

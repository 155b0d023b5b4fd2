/**
 * History series → chart data, x in seconds. uPlot breaks a line at null and draws
 * across undefined: a missing period (no batch arrived) is a null, so the line
 * breaks there; a period without a value (no answered probe, e.g. a target probed
 * less often than the resolution) is undefined, so the line goes on past it.
 */
import type { Series } from './types';

export interface ChartData {
  x: number[];
  cols: (number | null | undefined)[][];
}

/**
 * Columns picked from a history series, oldest first, with a null row wherever a
 * period is missing (the workers delivered nothing during it), plus an optional
 * final point for the open period.
 */
export function seriesToChart(s: Series | null, pick: ((s: Series, i: number) => number | null)[], open?: { x: number; values: (number | null)[] }): ChartData {
  const x: number[] = [];
  const cols: (number | null | undefined)[][] = pick.map(() => []);
  if (s !== null) {
    const step = s.resolutionMs / 1000;
    for (let i = 0; i < s.end.length; i++) {
      const t = s.end[i] / 1000;
      if (i > 0 && t - x[x.length - 1] > step * 1.5) {
        x.push(x[x.length - 1] + step);
        for (const c of cols) c.push(null);
      }
      x.push(t);
      pick.forEach((f, k) => cols[k].push(f(s, i) ?? undefined));
    }
  }
  if (open && (x.length === 0 || open.x > x[x.length - 1])) {
    x.push(open.x);
    open.values.forEach((v, k) => cols[k].push(v ?? undefined));
  }
  return { x, cols };
}

export function lossOf(answered: number, lost: number): number | null {
  const n = answered + lost;
  return n > 0 ? lost / n : null;
}

/** History series → chart data: x in seconds, gaps (missing periods) as nulls so lines break. */
import type { Series } from './types';

export interface ChartData {
  x: number[];
  cols: (number | null)[][];
}

/**
 * Columns picked from a history series, oldest first, with a null row wherever a
 * period is missing (the workers delivered nothing during it), plus an optional
 * final point for the open period.
 */
export function seriesToChart(s: Series | null, pick: ((s: Series, i: number) => number | null)[], open?: { x: number; values: (number | null)[] }): ChartData {
  const x: number[] = [];
  const cols: (number | null)[][] = pick.map(() => []);
  if (s !== null) {
    const step = s.resolutionMs / 1000;
    for (let i = 0; i < s.end.length; i++) {
      const t = s.end[i] / 1000;
      if (i > 0 && t - x[x.length - 1] > step * 1.5) {
        x.push(x[x.length - 1] + step);
        for (const c of cols) c.push(null);
      }
      x.push(t);
      pick.forEach((f, k) => cols[k].push(f(s, i)));
    }
  }
  if (open && (x.length === 0 || open.x > x[x.length - 1])) {
    x.push(open.x);
    open.values.forEach((v, k) => cols[k].push(v));
  }
  return { x, cols };
}

export function lossOf(answered: number, lost: number): number | null {
  const n = answered + lost;
  return n > 0 ? lost / n : null;
}

/**
 * Streaming tally of a /metrics body, fed line by line, so a 50k-target scrape
 * with fine RTT buckets (hundreds of MB of text) is read without holding it:
 * - sums of selected families over all their series (counters such as
 *   fleetprobe_probe_sent_total, summed over targets and reasons);
 * - the RTT histogram summed over all targets, and separately over a sample
 *   of target names (the ones `ping` also measures).
 *
 * Pure: no I/O. Assumes the label values of interest contain no escaped quotes
 * (true of the benchmark's own target names).
 */

export const RTT_FAMILY = 'fleetprobe_probe_rtt_seconds';
const BUCKET = `${RTT_FAMILY}_bucket`;

/** A histogram as summed cumulative counts per finite upper bound, plus the +Inf total. */
export interface HistogramTotals {
  bounds: number[];
  cumulative: number[];
  total: number;
}

class HistogramSum {
  private readonly byBound = new Map<number, number>();
  total = 0;

  addBucket(le: number, v: number): void {
    if (le === Infinity) this.total += v;
    else this.byBound.set(le, (this.byBound.get(le) ?? 0) + v);
  }

  totals(): HistogramTotals {
    const bounds = [...this.byBound.keys()].sort((a, b) => a - b);
    return { bounds, cumulative: bounds.map((b) => this.byBound.get(b)!), total: this.total };
  }
}

function labelValue(line: string, from: number, label: string): string | undefined {
  const key = `${label}="`;
  // Match at a label boundary ('{' or ',') so "target" does not match "xtarget".
  let i = line.indexOf(key, from);
  while (i > 0 && line[i - 1] !== '{' && line[i - 1] !== ',') i = line.indexOf(key, i + 1);
  if (i < 0) return undefined;
  const start = i + key.length;
  const end = line.indexOf('"', start);
  return end < 0 ? undefined : line.slice(start, end);
}

function parseLe(s: string): number {
  return s === '+Inf' ? Infinity : Number(s);
}

export class ExpositionTally {
  /** Family/sample name -> sum over its series. */
  readonly sums = new Map<string, number>();
  readonly all = new HistogramSum();
  readonly sample = new HistogramSum();
  lines = 0;
  private readonly wanted: ReadonlySet<string>;

  constructor(
    sumNames: Iterable<string>,
    private readonly sampleTargets: ReadonlySet<string> = new Set(),
  ) {
    this.wanted = new Set(sumNames);
    for (const n of this.wanted) this.sums.set(n, 0);
  }

  /** Feed one line (without its newline). Comments and blank lines are ignored. */
  line(line: string): void {
    if (line.length === 0 || line.charCodeAt(0) === 35 /* # */) return;
    this.lines++;
    const brace = line.indexOf('{');
    const space = line.lastIndexOf(' ');
    if (space < 0) return;
    const name = brace >= 0 && brace < space ? line.slice(0, brace) : line.slice(0, space);
    const value = Number(line.slice(space + 1));
    if (Number.isNaN(value)) return;
    if (this.wanted.has(name)) this.sums.set(name, this.sums.get(name)! + value);
    if (name === BUCKET) {
      const le = labelValue(line, brace, 'le');
      if (le === undefined) return;
      const bound = parseLe(le);
      this.all.addBucket(bound, value);
      if (this.sampleTargets.size > 0) {
        const t = labelValue(line, brace, 'target');
        if (t !== undefined && this.sampleTargets.has(t)) this.sample.addBucket(bound, value);
      }
    }
  }

  sum(name: string): number {
    return this.sums.get(name) ?? 0;
  }
}

/** Splits a byte/text stream into lines across chunk boundaries. */
export class LineSplitter {
  private rest = '';
  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    const text = this.rest + chunk;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      this.onLine(text.slice(start, nl));
      start = nl + 1;
    }
    this.rest = text.slice(start);
  }

  end(): void {
    if (this.rest.length > 0) this.onLine(this.rest);
    this.rest = '';
  }
}

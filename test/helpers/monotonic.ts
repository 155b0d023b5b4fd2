/**
 * Counter monotonicity across scrapes: remembers every *_total / *_count / *_bucket
 * sample seen and throws if a later scrape shows a smaller value for the same series
 * (what a counter reset after a reload or a worker restart would look like).
 */
import type { Metrics } from './exporter-process.js';

const COUNTER_SUFFIX = /(_total|_count|_bucket)$/;

function seriesKey(name: string, labels: Record<string, string>): string {
  return `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',')}}`;
}

export class MonotonicGuard {
  private readonly last = new Map<string, number>();
  /** Series compared so far (a guard that compared nothing proves nothing). */
  compared = 0;

  constructor(private readonly prefix = 'fleetprobe_probe_') {}

  /** Record `m`, throwing an Error naming every series that went backwards. */
  check(m: Metrics): void {
    const back: string[] = [];
    for (const s of m.parsed.samples) {
      if (!s.name.startsWith(this.prefix) || !COUNTER_SUFFIX.test(s.name)) continue;
      const key = seriesKey(s.name, s.labels);
      const prev = this.last.get(key);
      if (prev !== undefined) {
        this.compared++;
        if (s.value < prev) back.push(`${key}: ${prev} -> ${s.value}`);
      }
      this.last.set(key, s.value);
    }
    if (back.length) throw new Error(`counters went backwards:\n  ${back.join('\n  ')}`);
  }

  /** `read`, with every scrape it returns checked first. */
  checking(read: () => Promise<Metrics>): () => Promise<Metrics> {
    return async () => {
      const m = await read();
      this.check(m);
      return m;
    };
  }
}

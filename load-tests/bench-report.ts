/** The benchmark's result rows and their Markdown rendering (pure). */

export interface ScrapeFigures {
  /** Median over repeats. */
  plainMs: number;
  plainBytes: number;
  gzipMs: number;
  gzipBytes: number;
  /** The protobuf exposition (Accept as Prometheus with native histograms sends it), not compressed. */
  protobufMs: number;
  protobufBytes: number;
  /** VmHWM of the default-bucket run after it probed a few intervals, before its first scrape. */
  rssBeforeScrapesBytes: number;
  /** VmHWM of the default-bucket run after all its scrapes: the peak of what an operator runs. */
  peakRssBytes: number;
}

export interface RttFigures {
  /** µs; NaN when not measured. */
  p50: number;
  p99: number;
  samples: number;
}

export interface BenchRow {
  tool: string;
  kind: string;
  targets: number;
  intervalMs: number;
  /** Set when the run could not measure (e.g. kind not registered); the figures are then NaN. */
  unavailable?: string;
  probesPerSec: number;
  cpuPctOneCore: number;
  cpuUsPerProbe: number;
  peakRssBytes: number;
  sent: number;
  lost: number;
  scrape?: ScrapeFigures;
  rttSample?: RttFigures;
  rttAll?: RttFigures;
  rttPing?: RttFigures;
  loadAvg1m: number;
}

const num = (v: number, digits = 0): string => (Number.isFinite(v) ? v.toFixed(digits) : '—');
const MB = 1024 * 1024;

function fmtInterval(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function fmtLoss(r: BenchRow): string {
  if (!(r.sent > 0)) return '—';
  const ratio = r.lost / r.sent;
  return `${(ratio * 100).toFixed(ratio === 0 ? 0 : 3)}% (${r.lost}/${r.sent})`;
}

function fmtRtt(f: RttFigures | undefined): string {
  if (!f || !Number.isFinite(f.p50)) return '—';
  return `${num(f.p50)} / ${num(f.p99)} (n=${f.samples})`;
}

function fmtScrape(ms: number, bytes: number): string {
  return Number.isFinite(ms) ? `${num(ms)} ms (${num(bytes / MB, 2)} MB)` : '—';
}

export const TABLE_HEADER = [
  'tool',
  'kind',
  'targets',
  'interval',
  'probes/s',
  'CPU % of 1 core',
  'µs CPU/probe',
  'peak RSS MB',
  'peak RSS MB, default buckets (before scrapes)',
  'false loss',
  '/metrics plain',
  '/metrics gzip',
  '/metrics protobuf',
  'RTT p50/p99 µs fleetprobe (ping sample)',
  'RTT p50/p99 µs fleetprobe (all targets)',
  'RTT p50/p99 µs ping',
  'load avg 1m',
];

export function rowCells(r: BenchRow): string[] {
  if (r.unavailable) {
    return [
      r.tool,
      r.kind,
      String(r.targets),
      fmtInterval(r.intervalMs),
      `not measured: ${r.unavailable.replace(/\|/g, '/')}`,
      ...Array(11).fill(''),
      num(r.loadAvg1m, 2),
    ];
  }
  return [
    r.tool,
    r.kind,
    String(r.targets),
    fmtInterval(r.intervalMs),
    num(r.probesPerSec),
    num(r.cpuPctOneCore, 1),
    num(r.cpuUsPerProbe, 1),
    num(r.peakRssBytes / MB, 0),
    r.scrape ? `${num(r.scrape.peakRssBytes / MB, 0)} (${num(r.scrape.rssBeforeScrapesBytes / MB, 0)})` : '—',
    fmtLoss(r),
    r.scrape ? fmtScrape(r.scrape.plainMs, r.scrape.plainBytes) : '—',
    r.scrape ? fmtScrape(r.scrape.gzipMs, r.scrape.gzipBytes) : '—',
    r.scrape ? fmtScrape(r.scrape.protobufMs, r.scrape.protobufBytes) : '—',
    fmtRtt(r.rttSample),
    fmtRtt(r.rttAll),
    fmtRtt(r.rttPing),
    num(r.loadAvg1m, 2),
  ];
}

/** A GitHub-flavoured Markdown table. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map((c) => c.replace(/\n/g, ' ')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

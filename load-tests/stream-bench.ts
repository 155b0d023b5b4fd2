/**
 * A/B benchmark of loads on top of probing (issue 8's streaming goal): the same
 * exporter, N ICMP targets on 127.0.0.0/8, run once without and once with the extra
 * loads (SSE and gRPC stream clients; more ExtraLoads can join), back to back, each
 * for the same window. Per run: probes/s, CPU of the whole exporter process, the main
 * thread's event-loop lag (p50/p99 from fleetprobe_main_event_loop_lag_seconds
 * between the window's two scrapes, and the share of samples over 20 ms), false loss,
 * and what the loads did. Reported, never asserted: CPU added = B - A.
 *
 *   npm run bench -- --targets 10000 --stream-clients 100 --grpc-streams 10 [--stream-select 100] [--ab-rounds 2]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchOptions } from './bench-args.js';
import { markdownTable } from './bench-report.js';
import { sleep, stopChild } from './child-processes.js';
import { exporterConfig, freePort, startExporter, writeJson, writeTargets } from './exporter-process.js';
import { LineSplitter } from './exposition-tally.js';
import type { ExtraLoad, LoadFigures } from './extra-load.js';
import { timedGet } from './http-client.js';
import { targetEntries } from './loopback-fleet.js';
import { cpuSeconds, loadAverage1m, peakRssBytes } from './proc-stats.js';
import { histogramQuantile, subtractCounts } from './quantiles.js';
import { StreamLoad } from './stream-load.js';

const LAG = 'fleetprobe_main_event_loop_lag_seconds';
const SUMS = [
  'fleetprobe_probe_sent_total',
  'fleetprobe_probe_received_total',
  'fleetprobe_probe_timeouts_total',
  'fleetprobe_probe_errors_total',
  'fleetprobe_stream_events_total',
  'fleetprobe_stream_dropped_clients_total',
] as const;

/** The few families this benchmark reads from a scrape, tallied line by line. */
export class WindowTally {
  readonly sums = new Map<string, number>(SUMS.map((n) => [n, 0]));
  readonly lagBuckets = new Map<number, number>();
  lagCount = 0;
  /** performance.now() when the response headers arrived: the exporter read its counters just before. */
  headersAt = NaN;

  line(line: string): void {
    if (line.length === 0 || line.charCodeAt(0) === 35) return;
    const space = line.lastIndexOf(' ');
    const brace = line.indexOf('{');
    const name = brace >= 0 && brace < space ? line.slice(0, brace) : line.slice(0, space);
    const value = Number(line.slice(space + 1));
    if (Number.isNaN(value)) return;
    if (this.sums.has(name)) this.sums.set(name, this.sums.get(name)! + value);
    else if (name === `${LAG}_bucket`) {
      const m = /le="([^"]+)"/.exec(line);
      if (m && m[1] !== '+Inf') this.lagBuckets.set(Number(m[1]), value);
    } else if (name === `${LAG}_count`) this.lagCount = value;
  }

  sum(name: (typeof SUMS)[number]): number {
    return this.sums.get(name)!;
  }
}

/** Lag quantiles (ms) and the share of samples above 20 ms between two scrapes. */
export function lagFigures(a: WindowTally, b: WindowTally): { p50: number; p99: number; over20ms: number; samples: number } {
  const bounds = [...b.lagBuckets.keys()].sort((x, y) => x - y);
  const delta = subtractCounts(
    bounds.map((k) => b.lagBuckets.get(k)!),
    bounds.map((k) => a.lagBuckets.get(k) ?? 0),
  );
  const total = b.lagCount - a.lagCount;
  const i20 = bounds.indexOf(0.02);
  return {
    p50: histogramQuantile(bounds, delta, total, 0.5) * 1000,
    p99: histogramQuantile(bounds, delta, total, 0.99) * 1000,
    over20ms: i20 >= 0 && total > 0 ? (total - delta[i20]) / total : NaN,
    samples: total,
  };
}

async function scrape(baseUrl: string): Promise<WindowTally> {
  const t = new WindowTally();
  const split = new LineSplitter((l) => t.line(l));
  const r = await timedGet(`${baseUrl}/metrics`, { onText: (s) => split.push(s), timeoutMs: 120_000 });
  split.end();
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  t.headersAt = r.headersAt;
  return t;
}

export interface AbRow {
  run: string;
  targets: number;
  probesPerSec: number;
  cpuPct: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagOver20ms: number;
  lagSamples: number;
  sent: number;
  lost: number;
  streamEventsPerSec: number;
  dropped: number;
  peakRssMb: number;
  loadAvg: number;
  loads: LoadFigures[];
}

async function runOnce(
  label: string,
  n: number,
  o: BenchOptions,
  loads: ExtraLoad[],
  loadConfig: Record<string, unknown>,
  log: (m: string) => void,
): Promise<AbRow> {
  const dir = mkdtempSync(join(tmpdir(), `fleetprobe-bench-ab-${n}-`));
  try {
    const entries = targetEntries('icmp', n);
    const targetsFile = writeTargets(dir, 'targets.json', entries);
    const webPort = await freePort();
    const grpcPort = await freePort();
    // Both runs get every load's config (gRPC on, the same limits): they differ only by the clients.
    const extra: Record<string, unknown> = { ...loadConfig, grpc: { listen_address: `127.0.0.1:${grpcPort}` } };
    const cfg = writeJson(dir, 'ab.json', {
      ...exporterConfig({ webPort, workers: o.workers, intervalMs: o.intervalMs, timeoutMs: o.timeoutMs, targetsFile }),
      ...extra,
    });
    log(`[${label} ${n}] starting exporter…`);
    const ex = await startExporter(`fleetprobe ab ${label} ${n}`, 'run', cfg, webPort, 60_000 + n * 2);
    try {
      await sleep(o.warmupMs);
      for (const l of loads) {
        log(`[${label} ${n}] starting load ${l.name}…`);
        await l.start({ baseUrl: ex.baseUrl, grpcAddress: `127.0.0.1:${grpcPort}`, targets: entries });
      }
      // Let the clients' initial states pass before the window.
      await sleep(2000);
      const s0 = await scrape(ex.baseUrl);
      const cpu0 = cpuSeconds(ex.child.pid);
      const w0 = performance.now();
      for (const l of loads) l.windowStart();
      log(`[${label} ${n}] measuring for ${o.durationMs} ms`);
      let loadMax = loadAverage1m();
      const end = w0 + o.durationMs;
      while (performance.now() < end) {
        await sleep(Math.min(1000, Math.max(0, end - performance.now())));
        loadMax = Math.max(loadMax, loadAverage1m());
      }
      const cpu1 = cpuSeconds(ex.child.pid);
      const w1 = performance.now();
      const rss = peakRssBytes(ex.child.pid);
      const s1 = await scrape(ex.baseUrl);
      const figures: LoadFigures[] = [];
      for (const l of loads) figures.push(await l.stop());
      const seconds = (w1 - w0) / 1000;
      const d = (k: (typeof SUMS)[number]): number => s1.sum(k) - s0.sum(k);
      const lag = lagFigures(s0, s1);
      return {
        run: label,
        targets: n,
        probesPerSec: d('fleetprobe_probe_sent_total') / ((s1.headersAt - s0.headersAt) / 1000),
        cpuPct: ((cpu1 - cpu0) / seconds) * 100,
        lagP50Ms: lag.p50,
        lagP99Ms: lag.p99,
        lagOver20ms: lag.over20ms,
        lagSamples: lag.samples,
        sent: d('fleetprobe_probe_sent_total'),
        lost: d('fleetprobe_probe_timeouts_total') + d('fleetprobe_probe_errors_total'),
        streamEventsPerSec: d('fleetprobe_stream_events_total') / ((s1.headersAt - s0.headersAt) / 1000),
        dropped: s1.sum('fleetprobe_stream_dropped_clients_total'),
        peakRssMb: rss / 2 ** 20,
        loadAvg: loadMax,
        loads: figures,
      };
    } finally {
      await stopChild(ex.child);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The loads the options ask for (the on-demand UDP load joins here behind its own option). */
export function loadsFor(o: BenchOptions): ExtraLoad[] {
  const loads: ExtraLoad[] = [];
  if (o.streamClients > 0 || o.grpcStreams > 0) loads.push(new StreamLoad({ sseClients: o.streamClients, grpcStreams: o.grpcStreams, select: o.streamSelect }));
  return loads;
}

const f = (v: number, d = 1): string => (Number.isFinite(v) ? v.toFixed(d) : '—');

export const AB_HEADER = [
  'run',
  'targets',
  'probes/s',
  'CPU % of one core',
  'CPU added',
  'main loop lag p50 / p99 (ms)',
  'samples > 20 ms',
  'false loss',
  'stream events/s',
  'clients dropped',
  'peak RSS',
  'load avg',
];

export function abCells(r: AbRow, baseline: AbRow | undefined): string[] {
  return [
    r.run,
    r.targets.toLocaleString('en-US'),
    f(r.probesPerSec, 0),
    f(r.cpuPct),
    baseline && baseline !== r ? `${r.cpuPct - baseline.cpuPct >= 0 ? '+' : ''}${f(r.cpuPct - baseline.cpuPct)}` : '—',
    `${f(r.lagP50Ms, 2)} / ${f(r.lagP99Ms, 2)} (n=${r.lagSamples})`,
    Number.isFinite(r.lagOver20ms) ? `${(r.lagOver20ms * 100).toFixed(2)}%` : '—',
    r.sent > 0 ? `${r.lost} of ${r.sent}` : '—',
    f(r.streamEventsPerSec, 0),
    String(r.dropped),
    `${f(r.peakRssMb, 0)} MB`,
    f(r.loadAvg, 2),
  ];
}

/** Run the A/B pairs for every icmp size; returns the report text. */
export async function runStreamBench(o: BenchOptions, log: (m: string) => void): Promise<string> {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const n of o.sizes.icmp) {
    for (let round = 1; round <= o.abRounds; round++) {
      const tag = o.abRounds > 1 ? ` #${round}` : '';
      const loads = loadsFor(o);
      const config = Object.assign({}, ...loads.map((l) => l.exporterConfig ?? {})) as Record<string, unknown>;
      const a = await runOnce(`A: probing only${tag}`, n, o, [], config, log);
      const b = await runOnce(`B: + ${describeLoads(o)}${tag}`, n, o, loads, config, log);
      rows.push(abCells(a, a), abCells(b, a));
      for (const fig of b.loads)
        notes.push(
          `${n} targets${tag}, B: ${Object.entries(fig)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}`,
        );
    }
  }
  return [
    markdownTable(AB_HEADER, rows),
    '',
    'How to read it:',
    '- A and B run back to back on the same machine with the same config (gRPC on in both); B adds the loads after warm-up and',
    '  waits 2 s for their initial states before the window. CPU: user+sys of the whole exporter process over the window, % of one core.',
    '- main loop lag: fleetprobe_main_event_loop_lag_seconds (a timer every 50 ms on the main thread, how late it ran) between the',
    "  window's two scrapes; p50/p99 by interpolation in its buckets (0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50 ms, ...).",
    '- false loss: timeouts + errors between the scrapes (loopback: every loss is false). stream events/s: fleetprobe_stream_events_total.',
    '- The machine is shared: compare A and B of the same pair; the load avg column shows the competition.',
    '',
    'Loads (client side, during the window):',
    ...notes.map((x) => `- ${x}`),
  ].join('\n');
}

function describeLoads(o: BenchOptions): string {
  const parts: string[] = [];
  if (o.streamClients > 0) parts.push(`${o.streamClients} SSE`);
  if (o.grpcStreams > 0) parts.push(`${o.grpcStreams} gRPC`);
  return `${parts.join(' + ')} streams (${o.streamSelect === 'all' ? 'all' : o.streamSelect} targets each)`;
}

/**
 * What the group rollups (metrics.group_by) cost and save at the scrape, against the
 * real exporter probing N ICMP targets on loopback: the same fleet (labelled into
 * `--groups` racks) is run without group_by and with `group_by: [rack]`, back to back,
 * and for each the benchmark reports
 *
 *   - the series in /metrics: all of them, the per-target families, and the group
 *     families (fleetprobe_group_*), the few a large fleet needs to alert and draw
 *     its matrix from;
 *   - the body size (plain and gzip), and the scrape time (request to last byte, a
 *     fresh connection per scrape, as Prometheus' first one): median and max of
 *     `--scrapes` scrapes one second apart;
 *   - the exporter's CPU (whole process, all threads) over the scrape window.
 *
 *   npm run bench:groups                                    # 10,000 targets, 100 racks, 10 scrapes
 *   npm run bench:groups -- --targets 10000 --groups 100 --scrapes 10 --rounds 2
 *
 * `--rounds 2` runs without, with, without, with (the machine is shared: alternating
 * shows how much of a difference is noise). Every target is in 127.0.0.0/8; every
 * phase is bounded; children are killed on any exit. Figures are printed, never asserted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { installChildCleanup, sleep, stopChild } from './child-processes.js';
import { exporterConfig, freePort, startExporter, writeJson } from './exporter-process.js';
import { timedGet } from './http-client.js';
import { loopbackAddress } from './loopback-fleet.js';
import { cpuModel, cpuSeconds, loadAverage1m } from './proc-stats.js';
import { parseDuration } from '../src/values/duration.js';

const log = (m: string): void => void process.stderr.write(`${m}\n`);

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Series (sample lines) of a text exposition, split into the group families and the per-target ones. */
class SeriesTally {
  all = 0;
  group = 0;
  perTarget = 0;
  private rest = '';

  write(chunk: string): void {
    const text = this.rest + chunk;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      this.line(text.slice(start, nl));
      start = nl + 1;
    }
    this.rest = text.slice(start);
  }

  end(): void {
    if (this.rest) this.line(this.rest);
    this.rest = '';
  }

  private line(l: string): void {
    if (l === '' || l.startsWith('#')) return;
    this.all++;
    if (l.startsWith('fleetprobe_group_')) this.group++;
    else if (l.startsWith('fleetprobe_probe_')) this.perTarget++;
  }
}

interface Figures {
  label: string;
  series: SeriesTally;
  plainBytes: number;
  gzipBytes: number;
  plainMs: number[];
  gzipMs: number[];
  cpuPct: number;
}

async function measure(
  run: number,
  label: string,
  groupBy: boolean,
  n: number,
  groups: number,
  scrapes: number,
  intervalMs: number,
  dir: string,
): Promise<Figures> {
  const targets = Array.from({ length: n }, (_, i) => ({
    name: `h${String(i).padStart(6, '0')}`,
    kind: 'icmp',
    address: loopbackAddress(i + 1),
    labels: { rack: `r${i % groups}` },
  }));
  const targetsFile = writeJson(dir, `targets-${run}.json`, targets);
  const port = await freePort();
  const cfg = exporterConfig({ webPort: port, intervalMs, timeoutMs: 1000, targetsFile });
  if (groupBy) cfg.metrics = { group_by: ['rack'] };
  const exp = await startExporter(`exporter (${label})`, 'run', writeJson(dir, `config-${run}.json`, cfg), port, 120_000);
  try {
    log(`${label}: up with ${n.toLocaleString('en-US')} targets; warming up 10 s`);
    await sleep(10_000);
    const url = `${exp.baseUrl}/metrics`;
    // One scrape read line by line for the series count (not timed), then the timed ones.
    const series = new SeriesTally();
    const counted = await timedGet(url, { onText: (s) => series.write(s) });
    series.end();
    if (counted.status !== 200) throw new Error(`${label}: /metrics answered ${counted.status}`);
    const plainMs: number[] = [];
    const gzipMs: number[] = [];
    let gzipBytes = 0;
    const c0 = cpuSeconds(exp.child.pid);
    const t0 = performance.now();
    for (let i = 0; i < scrapes; i++) {
      const p = await timedGet(url);
      plainMs.push(p.totalMs);
      const g = await timedGet(url, { gzip: true });
      gzipMs.push(g.totalMs);
      gzipBytes = g.bytes;
      await sleep(1000);
    }
    const cpuPct = ((cpuSeconds(exp.child.pid) - c0) / ((performance.now() - t0) / 1000)) * 100;
    return { label, series, plainBytes: counted.bytes, gzipBytes, plainMs, gzipMs, cpuPct };
  } finally {
    await stopChild(exp.child);
  }
}

function row(f: Figures): string {
  const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB`;
  const ms = (xs: number[]): string => `${median(xs).toFixed(0)} ms (max ${Math.max(...xs).toFixed(0)})`;
  return `| ${f.label} | ${f.series.all.toLocaleString('en-US')} | ${f.series.perTarget.toLocaleString('en-US')} | ${f.series.group.toLocaleString('en-US')} | ${mb(f.plainBytes)} | ${ms(f.plainMs)} | ${(f.gzipBytes / 1e6).toFixed(2)} MB | ${ms(f.gzipMs)} | ${f.cpuPct.toFixed(1)} |`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      targets: { type: 'string', default: '10000' },
      groups: { type: 'string', default: '100' },
      scrapes: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '1' },
      interval: { type: 'string', default: '1s' },
    },
  });
  const n = Number(values.targets);
  const groups = Number(values.groups);
  const scrapes = Number(values.scrapes);
  const rounds = Number(values.rounds);
  const intervalMs = parseDuration(values.interval);
  if (!Number.isInteger(n) || n < 10 || n > 200_000) throw new Error(`--targets must be 10..200000, got ${values.targets}`);
  if (!Number.isInteger(groups) || groups < 1 || groups > n) throw new Error(`--groups must be 1..targets, got ${values.groups}`);
  if (!Number.isInteger(scrapes) || scrapes < 1 || scrapes > 100) throw new Error(`--scrapes must be 1..100, got ${values.scrapes}`);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 5) throw new Error(`--rounds must be 1..5, got ${values.rounds}`);
  installChildCleanup(log);
  const dir = mkdtempSync(join(tmpdir(), 'fp-groups-bench-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));

  const results: Figures[] = [];
  for (let r = 0; r < rounds; r++) {
    results.push(await measure(results.length, 'without group_by', false, n, groups, scrapes, intervalMs, dir));
    results.push(await measure(results.length, `group_by: [rack], ${groups} racks`, true, n, groups, scrapes, intervalMs, dir));
  }
  console.log(
    `${n.toLocaleString('en-US')} ICMP targets on loopback, interval ${values.interval}, ${scrapes} scrapes 1 s apart; ${cpuModel()}; load average ${loadAverage1m().toFixed(1)}`,
  );
  console.log(
    '| run | series | per-target (`fleetprobe_probe_*`) | group (`fleetprobe_group_*`) | `/metrics` plain | plain: median (max) | gzip | gzip: median (max) | exporter CPU % of one core |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const f of results) console.log(row(f));
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    log(`group-rollups-bench: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);

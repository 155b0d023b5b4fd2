/**
 * Capacity and accuracy benchmark of the whole exporter, end to end, on loopback.
 *
 *   npm run bench -- --targets 1000,10000,50000 --interval 1s --duration 30s [--kinds icmp,tcp,tcp_echo,udp,http] [--workers N]
 *   node dist/load-tests/bench.js --help
 *
 * For each kind and target count:
 *  1. (tcp/tcp_echo/udp/http) start `fleetprobe responder` processes, one loopback address each;
 *  2. load phase: start `fleetprobe run` with N targets and FINE RTT buckets, wait for
 *     /readyz, warm up, then over the measured window read probes/s (sent_total
 *     deltas between two scrapes), CPU of the whole exporter process (/proc/PID/stat,
 *     all threads), peak RSS (VmHWM), false loss ((timeouts+errors)/sent: nothing is
 *     lost on loopback) and RTT p50/p99 from the histograms, while `ping` measures a
 *     sample of the same addresses;
 *  3. scrape phase: restart with DEFAULT buckets (what an operator runs) and time
 *     /metrics, plain, gzip and protobuf (median of a few), since fine buckets inflate
 *     the body, and its peak RSS before and after those scrapes.
 * Then fping over the same addresses for comparison (icmp), and a Markdown table.
 *
 * Network safety: every target and listener is in 127.0.0.0/8; every phase is
 * bounded in time; children are killed on every exit path (SIGINT included).
 * Timing is reported, never asserted.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_USAGE, parseBenchArgs, rttStepFor, wantsAbRun, type BenchOptions } from './bench-args.js';
import { runStreamBench } from './stream-bench.js';
import { markdownTable, rowCells, TABLE_HEADER, type BenchRow, type RttFigures, type ScrapeFigures } from './bench-report.js';
import { installChildCleanup, sleep, spawnTracked, stopChild, type Tracked } from './child-processes.js';
import { exporterConfig, freePort, startExporter, writeJson, writeTargets, type RunningExporter } from './exporter-process.js';
import { ExpositionTally, LineSplitter, type HistogramTotals } from './exposition-tally.js';
import { getJson, timedGet } from './http-client.js';
import { PROTOBUF_CONTENT_TYPE } from '../src/metrics/protobuf-exposition.js';

/** What Prometheus 2.42 sends with --enable-feature=native-histograms. */
const PROMETHEUS_PROTOBUF_ACCEPT =
  'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2';
import { fineRttBuckets, loopbackAddresses, spreadIndexes, targetEntries, type BenchKind, type Endpoint } from './loopback-fleet.js';
import { parseFpingSummary, parsePingTimes } from './ping-parse.js';
import { cpuModel, cpuSeconds, loadAverage1m, peakRssBytes } from './proc-stats.js';
import { histogramQuantile, percentile, subtractCounts } from './quantiles.js';

/** Temporary directories still on disk; removed on any exit, SIGINT included (the signal handler exits). */
const tempDirs = new Set<string>();
function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}
function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}
process.once('exit', () => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

const log = (msg: string): void => {
  process.stderr.write(`${msg}\n`);
};

const SENT = 'fleetprobe_probe_sent_total';
const RECEIVED = 'fleetprobe_probe_received_total';
const TIMEOUTS = 'fleetprobe_probe_timeouts_total';
const ERRORS = 'fleetprobe_probe_errors_total';
const LATE = 'fleetprobe_probe_late_total';
const DUPLICATES = 'fleetprobe_probe_duplicates_total';
const LAG_SUM = 'fleetprobe_worker_scheduling_lag_seconds_sum';
const LAG_COUNT = 'fleetprobe_worker_scheduling_lag_seconds_count';
const DROPPED = 'fleetprobe_worker_dropped_packets_total';
const TALLIED = [SENT, RECEIVED, TIMEOUTS, ERRORS, LATE, DUPLICATES, LAG_SUM, LAG_COUNT, DROPPED];

interface TalliedScrape {
  tally: ExpositionTally;
  headersAt: number;
  totalMs: number;
  bytes: number;
}

/** One plain scrape streamed through the tally (never held whole: it can be hundreds of MB). */
async function tallyScrape(baseUrl: string, sampleTargets: ReadonlySet<string>): Promise<TalliedScrape> {
  const tally = new ExpositionTally(TALLIED, sampleTargets);
  const split = new LineSplitter((l) => tally.line(l));
  const r = await timedGet(`${baseUrl}/metrics`, { onText: (s) => split.push(s), timeoutMs: 300_000 });
  split.end();
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return { tally, headersAt: r.headersAt, totalMs: r.totalMs, bytes: r.bytes };
}

function rttFromDelta(later: HistogramTotals, earlier: HistogramTotals): RttFigures {
  // Both scrapes come from the same process and bucket layout; align by bound anyway.
  const before = new Map(earlier.bounds.map((b, i) => [b, earlier.cumulative[i]]));
  const delta = subtractCounts(
    later.cumulative,
    later.bounds.map((b) => before.get(b) ?? 0),
  );
  const total = later.total - earlier.total;
  return {
    p50: histogramQuantile(later.bounds, delta, total, 0.5) * 1e6,
    p99: histogramQuantile(later.bounds, delta, total, 0.99) * 1e6,
    samples: total,
  };
}

async function pingSample(addresses: readonly string[], o: BenchOptions): Promise<RttFigures> {
  // Concurrently, so the sample spans the same part of the window for every address.
  const deadline = Math.ceil(o.pingCount * o.pingIntervalS + 5);
  const children = addresses.map((a) =>
    spawnTracked(`ping ${a}`, 'ping', ['-n', '-c', String(o.pingCount), '-i', String(o.pingIntervalS), '-W', '1', '-w', String(deadline), a]),
  );
  await Promise.all(children.map((c) => c.exited));
  const times = children.flatMap((c) => parsePingTimes(c.output()));
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99), samples: times.length };
}

/** The OTLP export benchmark, next to this file in dist/load-tests. */
const OTLP_BENCH = fileURLToPath(new URL('./otlp-bench.js', import.meta.url));

function median(values: number[]): number {
  return percentile(values, 0.5);
}

/** /metrics time and size with the exporter's default buckets: what an operator's Prometheus sees. */
async function scrapePhase(kind: BenchKind, n: number, dir: string, targetsFile: string, o: BenchOptions): Promise<ScrapeFigures> {
  const webPort = await freePort();
  const cfg = writeJson(
    dir,
    'scrape.json',
    exporterConfig({ webPort, workers: o.workers, icmpSocket: o.icmpSocket, intervalMs: o.intervalMs, timeoutMs: o.timeoutMs, targetsFile }),
  );
  const ex = await startExporter(`fleetprobe ${kind} ${n} (scrape phase)`, 'run', cfg, webPort, 60_000 + n * 2);
  try {
    // A couple of intervals so every series has counts, as in steady state.
    await sleep(Math.max(2000, 2 * o.intervalMs));
    const rssBeforeScrapesBytes = peakRssBytes(ex.child.pid);
    const plain: { ms: number; bytes: number }[] = [];
    const gz: { ms: number; bytes: number }[] = [];
    const pb: { ms: number; bytes: number }[] = [];
    for (let i = 0; i < o.scrapeRepeats; i++) {
      const p = await timedGet(`${ex.baseUrl}/metrics`, { timeoutMs: 120_000 });
      plain.push({ ms: p.totalMs, bytes: p.bytes });
      const g = await timedGet(`${ex.baseUrl}/metrics`, { gzip: true, timeoutMs: 120_000 });
      if (g.contentEncoding !== 'gzip') throw new Error('/metrics did not gzip when asked');
      gz.push({ ms: g.totalMs, bytes: g.bytes });
      const b = await timedGet(`${ex.baseUrl}/metrics`, { accept: PROMETHEUS_PROTOBUF_ACCEPT, timeoutMs: 120_000 });
      if (b.contentType !== PROTOBUF_CONTENT_TYPE) throw new Error(`/metrics did not answer protobuf when asked (${b.contentType})`);
      pb.push({ ms: b.totalMs, bytes: b.bytes });
    }
    return {
      plainMs: median(plain.map((x) => x.ms)),
      plainBytes: median(plain.map((x) => x.bytes)),
      gzipMs: median(gz.map((x) => x.ms)),
      gzipBytes: median(gz.map((x) => x.bytes)),
      protobufMs: median(pb.map((x) => x.ms)),
      protobufBytes: median(pb.map((x) => x.bytes)),
      rssBeforeScrapesBytes,
      peakRssBytes: peakRssBytes(ex.child.pid),
    };
  } finally {
    await stopChild(ex.child);
  }
}

async function startResponders(kind: BenchKind, n: number, dir: string, o: BenchOptions): Promise<{ running: RunningExporter[]; endpoints: Endpoint[] }> {
  const running: RunningExporter[] = [];
  const endpoints: Endpoint[] = [];
  const perResponder = Math.ceil(n / o.responders);
  for (let k = 0; k < o.responders; k++) {
    // One loopback address per responder (127.0.0.1, .2, ...): one listener binds one address.
    const host = `127.0.0.${k + 1}`;
    const port = await freePort(host);
    const webPort = await freePort();
    const listen = `${host}:${port}`;
    const cfg = writeJson(
      dir,
      `responder-${k}.json`,
      exporterConfig({
        webPort,
        intervalMs: o.intervalMs,
        timeoutMs: o.timeoutMs,
        responder:
          kind === 'tcp_echo' || kind === 'tcp'
            ? { tcpEcho: listen, maxConnections: perResponder + 256 }
            : kind === 'udp'
              ? { udpEcho: listen }
              : { http: listen, maxConnections: perResponder + 256 },
      }),
    );
    running.push(await startExporter(`responder ${listen}`, 'responder', cfg, webPort, 30_000));
    endpoints.push({ host, port });
  }
  return { running, endpoints };
}

function unavailableRow(kind: BenchKind, n: number, o: BenchOptions, why: string): BenchRow {
  return {
    tool: 'fleetprobe',
    kind,
    targets: n,
    intervalMs: o.intervalMs,
    unavailable: why,
    probesPerSec: NaN,
    cpuPctOneCore: NaN,
    cpuUsPerProbe: NaN,
    peakRssBytes: NaN,
    sent: 0,
    lost: 0,
    loadAvg1m: loadAverage1m(),
  };
}

/** Why every target was rejected, when they were (e.g. a kind no prober is registered for). */
async function allRejected(ex: RunningExporter, n: number): Promise<string | null> {
  type Status = { targets: { rejected: number } };
  // Workers report rejections asynchronously: give them a moment after readiness.
  await sleep(500);
  const st = await getJson<Status>(`${ex.baseUrl}/api/v1/status`);
  if (st.body.targets.rejected < n) return null;
  const rej = await getJson<{ targets: { error?: string }[] }>(`${ex.baseUrl}/api/v1/targets?state=rejected`);
  return `all ${n} targets rejected by the exporter: ${rej.body.targets[0]?.error ?? 'no reason given'}`;
}

async function runFleetprobe(kind: BenchKind, n: number, o: BenchOptions, notes: string[]): Promise<BenchRow> {
  const dir = makeTempDir(`fleetprobe-bench-${kind}-${n}-`);
  let responders: RunningExporter[] = [];
  try {
    let endpoints: Endpoint[] = [];
    if (kind !== 'icmp') ({ running: responders, endpoints } = await startResponders(kind, n, dir, o));
    const entries = targetEntries(kind, n, endpoints);
    const targetsFile = writeTargets(dir, 'targets.json', entries);
    const sample = spreadIndexes(n, o.pingSamples).map((i) => entries[i]);
    const sampleNames = new Set(sample.map((e) => e.name));

    // Load phase, fine buckets.
    const step = rttStepFor(o, n);
    const webPort = await freePort();
    const cfg = writeJson(
      dir,
      'load.json',
      exporterConfig({
        webPort,
        workers: o.workers,
        icmpSocket: o.icmpSocket,
        intervalMs: o.intervalMs,
        timeoutMs: o.timeoutMs,
        targetsFile,
        rttBuckets: fineRttBuckets(step),
      }),
    );
    log(`[${kind} ${n}] starting exporter (fine RTT buckets, ${step} µs steps to 1 ms)…`);
    const ex = await startExporter(`fleetprobe ${kind} ${n}`, 'run', cfg, webPort, 60_000 + n * 2);
    let row: BenchRow;
    try {
      const rejected = await allRejected(ex, n);
      if (rejected) {
        log(`[${kind} ${n}] ${rejected}`);
        return unavailableRow(kind, n, o, rejected);
      }
      log(`[${kind} ${n}] ready; warming up ${o.warmupMs} ms`);
      await sleep(o.warmupMs);
      // Before the first (fine-bucket, large) scrape, to tell probing memory from scrape memory.
      const hwmBeforeScrape = peakRssBytes(ex.child.pid);
      const s0 = await tallyScrape(ex.baseUrl, sampleNames);
      const cpu0 = cpuSeconds(ex.child.pid);
      const respCpu0 = responders.map((r) => cpuSeconds(r.child.pid));
      const w0 = performance.now();
      log(`[${kind} ${n}] measuring for ${o.durationMs} ms (fine-bucket scrape: ${s0.totalMs.toFixed(0)} ms, ${(s0.bytes / 2 ** 20).toFixed(1)} MB)`);
      const pingAddresses = kind === 'icmp' ? sample.map((e) => e.address!) : [];
      // Start ping a second into the window, so it overlaps steady load, not the edges.
      const ping = pingAddresses.length > 0 ? sleep(Math.min(1000, o.durationMs / 10)).then(() => pingSample(pingAddresses, o)) : Promise.resolve(undefined);
      let loadMax = loadAverage1m();
      const end = w0 + o.durationMs;
      while (performance.now() < end) {
        await sleep(Math.min(1000, Math.max(0, end - performance.now())));
        loadMax = Math.max(loadMax, loadAverage1m());
      }
      const cpu1 = cpuSeconds(ex.child.pid);
      const respCpu1 = responders.map((r) => cpuSeconds(r.child.pid));
      const w1 = performance.now();
      const hwm = peakRssBytes(ex.child.pid);
      const rttPing = await ping;
      const s1 = await tallyScrape(ex.baseUrl, sampleNames);

      const d = (name: string): number => s1.tally.sum(name) - s0.tally.sum(name);
      const sent = d(SENT);
      const lost = d(TIMEOUTS) + d(ERRORS);
      const windowS = (w1 - w0) / 1000;
      const cpuS = cpu1 - cpu0;
      const probesPerSec = sent / ((s1.headersAt - s0.headersAt) / 1000);
      row = {
        tool: 'fleetprobe',
        kind,
        targets: n,
        intervalMs: o.intervalMs,
        probesPerSec,
        cpuPctOneCore: (cpuS / windowS) * 100,
        cpuUsPerProbe: (cpuS * 1e6) / (probesPerSec * windowS),
        peakRssBytes: hwm,
        sent,
        lost,
        rttSample: rttFromDelta(s1.tally.sample.totals(), s0.tally.sample.totals()),
        rttAll: rttFromDelta(s1.tally.all.totals(), s0.tally.all.totals()),
        rttPing,
        loadAvg1m: loadMax,
      };
      const lagCount = d(LAG_COUNT);
      const respCpu = responders.map((r, i) => `${(((respCpu1[i] - respCpu0[i]) / windowS) * 100).toFixed(1)}%`);
      notes.push(
        `${kind} ${n}: window ${windowS.toFixed(1)} s (scrape to scrape ${((s1.headersAt - s0.headersAt) / 1000).toFixed(1)} s); ` +
          `peak RSS before the first scrape ${(hwmBeforeScrape / 2 ** 20).toFixed(0)} MB; received ${d(RECEIVED)}, timeouts ${d(TIMEOUTS)}, errors ${d(ERRORS)}, late ${d(LATE)}, duplicates ${d(DUPLICATES)}, ` +
          `dropped packets ${d(DROPPED)}; mean scheduling lag ${lagCount > 0 ? ((d(LAG_SUM) / lagCount) * 1e6).toFixed(0) : '—'} µs; ` +
          `fine-bucket (${step} µs) /metrics: ${s1.totalMs.toFixed(0)} ms, ${(s1.bytes / 2 ** 20).toFixed(1)} MB, ${s1.tally.lines} samples` +
          (respCpu.length ? `; responder CPU (% of 1 core): ${respCpu.join(', ')}` : ''),
      );
    } finally {
      await stopChild(ex.child);
    }
    if (o.scrapePhase) {
      log(`[${kind} ${n}] scrape phase (default buckets)…`);
      try {
        row.scrape = await scrapePhase(kind, n, dir, targetsFile, o);
      } catch (e) {
        // The load figures stand on their own; say why the scrape columns are empty.
        log(`[${kind} ${n}] scrape phase failed: ${(e as Error).message}`);
        notes.push(`${kind} ${n}: scrape phase failed: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    return row;
  } finally {
    await Promise.all(responders.map((r) => stopChild(r.child)));
    removeTempDir(dir);
  }
}

/** fping over the same addresses at the same interval: its CPU per probe next to ours. */
async function runFping(n: number, o: BenchOptions, notes: string[]): Promise<BenchRow> {
  const dir = makeTempDir(`fleetprobe-bench-fping-${n}-`);
  try {
    const file = join(dir, 'targets.txt');
    writeFileSync(file, `${loopbackAddresses(n).join('\n')}\n`);
    // -i is fping's global gap between any two sends: N targets must fit in one period.
    const gapMs = Math.max(0.001, (o.intervalMs / n) * 0.8);
    const args = ['-l', '-q', '-p', String(o.intervalMs), '-i', gapMs.toFixed(3), '-t', String(Math.min(o.timeoutMs, o.intervalMs)), '-f', file];
    log(`[fping ${n}] fping ${args.join(' ')} for ${o.durationMs} ms`);
    const child: Tracked = spawnTracked(`fping ${n}`, 'fping', args, { ignoreStdout: true });
    const w0 = performance.now();
    let loadMax = loadAverage1m();
    const end = w0 + o.durationMs;
    while (performance.now() < end) {
      await sleep(Math.min(1000, Math.max(0, end - performance.now())));
      loadMax = Math.max(loadMax, loadAverage1m());
    }
    const cpuS = cpuSeconds(child.pid);
    const hwm = peakRssBytes(child.pid);
    const windowS = (performance.now() - w0) / 1000;
    // SIGINT makes fping print its per-target summary on stderr, then exit.
    await stopChild(child, 'SIGINT', 5000);
    const s = parseFpingSummary(child.stderr());
    if (s.sent === 0) throw new Error(`fping printed no summary:\n${child.stderr().slice(-2000)}`);
    notes.push(
      `fping ${n}: ${args.join(' ')}; whole run ${windowS.toFixed(1)} s incl. start-up; sent ${s.sent}, received ${s.received} (probes in flight at SIGINT count as lost)`,
    );
    return {
      tool: 'fping',
      kind: 'icmp',
      targets: n,
      intervalMs: o.intervalMs,
      probesPerSec: s.sent / windowS,
      cpuPctOneCore: (cpuS / windowS) * 100,
      cpuUsPerProbe: (cpuS * 1e6) / s.sent,
      peakRssBytes: hwm,
      sent: s.sent,
      lost: s.sent - s.received,
      loadAvg1m: loadMax,
    };
  } finally {
    removeTempDir(dir);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  let o: BenchOptions | 'help';
  try {
    o = parseBenchArgs(argv);
  } catch (e) {
    log(`bench: ${(e as Error).message}`);
    return 2;
  }
  if (o === 'help') {
    process.stdout.write(`${BENCH_USAGE}\n`);
    return 0;
  }
  installChildCleanup(log);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot && o.kinds.includes('icmp')) log('bench: warning: not root; icmp needs CAP_NET_RAW (raw sockets) and ping -i 0.01 needs root');

  const header = [
    `machine: ${availableParallelism()} CPUs (nproc), ${cpuModel()}, Linux ${release()}, node ${process.version}`,
    `command: npm run bench -- ${argv.join(' ')}`.trimEnd(),
    `  (= node dist/load-tests/bench.js ${argv.join(' ')})`.trimEnd(),
    `load average at start (1m): ${loadAverage1m().toFixed(2)}`,
  ];
  for (const h of header) log(h);

  if (wantsAbRun(o)) {
    const report = await runStreamBench(o, log);
    process.stdout.write(`\n${header.join('\n')}\n\n${report}\n`);
    return 0;
  }

  const rows: BenchRow[] = [];
  const notes: string[] = [];
  for (const kind of o.kinds) {
    for (const n of o.sizes[kind]) {
      try {
        rows.push(await runFleetprobe(kind, n, o, notes));
      } catch (e) {
        log(`[${kind} ${n}] failed: ${(e as Error).message}`);
        rows.push(unavailableRow(kind, n, o, (e as Error).message.split('\n')[0]));
      }
    }
  }
  if (o.kinds.includes('icmp')) {
    for (const n of o.fpingSizes) {
      try {
        rows.push(await runFping(n, o, notes));
      } catch (e) {
        log(`[fping ${n}] failed: ${(e as Error).message}`);
      }
    }
  }

  const out = [
    '',
    ...header,
    '',
    markdownTable(TABLE_HEADER, rows.map(rowCells)),
    '',
    'How to read it:',
    '- probes/s: fleetprobe_probe_sent_total delta between the two scrapes bracketing the window (from when each scrape started rendering);',
    '  CPU: user+sys of the whole exporter process (all threads, /proc/PID/stat) over the window between the scrapes (their own cost excluded),',
    '  % of one core; µs CPU/probe = CPU % / probes/s; peak RSS = VmHWM at the end of the window (includes one fine-bucket scrape: see notes);',
    '  peak RSS, default buckets: VmHWM of the separate default-bucket run (what an operator runs) after its scrapes, and before them.',
    '- false loss: (timeouts+errors)/sent between the two scrapes; on loopback every loss is false loss.',
    '- /metrics: median of ' + o.scrapeRepeats + ' scrapes (request to last byte, fresh connection) in a SEPARATE run with DEFAULT buckets; "gzip" sends',
    '  Accept-Encoding: gzip and counts compressed bytes; "protobuf" sends the Accept header of Prometheus with native histograms (uncompressed).',
    '  The load phase uses fine buckets; its (larger) scrape is in the notes.',
    '- RTT: fleetprobe p50/p99 by linear interpolation in fine buckets over the window, for the ping sample targets and for all targets;',
    `  ping: ${o.pingCount} pings per sample address at -i ${o.pingIntervalS} during the window (kernel receive timestamps), same addresses.`,
    '- load avg: highest 1-minute load average seen during the window (other work on the machine competes for the same cores).',
    '',
    'Notes:',
    ...notes.map((n) => `- ${n}`),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  if (o.otlpSizes.length > 0) {
    // Its own runs (off, then on per protocol, back to back), printed as they end.
    process.stdout.write('\nOTLP export (node dist/load-tests/otlp-bench.js):\n\n');
    const otlp = spawnTracked('otlp-bench', process.execPath, [OTLP_BENCH, '--targets', o.otlpSizes.join(','), '--protocols', 'http/protobuf,grpc']);
    const exit = await otlp.exited;
    process.stdout.write(otlp.output());
    if (exit !== 0) log(`bench: otlp-bench exited with ${exit}`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`bench: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);

/**
 * What OTLP export costs a running exporter: CPU added and main-thread event-loop
 * lag while exporting, at 10,000 and 50,000 ICMP targets on loopback.
 *
 *   npm run build && node dist/load-tests/otlp-bench.js [--targets 10000,50000]
 *       [--protocols http/protobuf,grpc,http/json] [--interval 10s] [--warmup 20s]
 *       [--duration 60s] [--workers N] [--cpu-prof DIR]
 *
 * For each target count, back to back (A/B on the same machine): one run with OTLP
 * off, then one per protocol with OTLP on, exporting every --interval to a collector
 * that receives and discards (otlp-sink.js, its own process so its CPU is not
 * counted). Each run is a fresh process that runs the real Exporter in its own main
 * thread (worker threads probe as in production), so the bench can measure that
 * thread directly:
 *  - CPU: process.cpuUsage() over the window (every thread of the process), as % of
 *    one core; "added" = on − off;
 *  - lag: a 10 ms timer on the main thread records how late each tick fires; p99 and
 *    max over the whole window, and over the ticks during an export (the exporter's
 *    exporting() flag: converting, serializing or a request in flight);
 *  - per export: added CPU divided by the exports in the window, and what that adds
 *    at the default 60 s interval.
 * --cpu-prof DIR: each run's process writes a V8 CPU profile (every thread) to DIR,
 * to see what the time goes to (profiling adds its own cost: not for the figures).
 * Every run is bounded in time; every target and listener is on 127.0.0.0/8.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseDuration } from '../src/values/duration.js';
import { Exporter } from '../src/exporter.js';
import { getText } from './http-client.js';
import { loopbackAddresses } from './loopback-fleet.js';
import { cpuModel, loadAverage1m } from './proc-stats.js';
import { percentile } from './quantiles.js';

const SELF = fileURLToPath(import.meta.url);
const SINK = join(SELF, '..', 'otlp-sink.js');
const PROTOCOLS = ['grpc', 'http/protobuf', 'http/json'] as const;
type Protocol = (typeof PROTOCOLS)[number];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface RunSpec {
  targets: number;
  workers?: number;
  warmupMs: number;
  durationMs: number;
  /** Absent: OTLP off. */
  otlp?: { protocol: Protocol; endpoint: string; intervalMs: number };
}

interface RunResult {
  cpuPct: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  /** Over the ticks during an export (NaN with OTLP off). */
  exportLagP99Ms: number;
  exportLagMaxMs: number;
  exportTicks: number;
  /** Collections started in the window. */
  exports: number;
  /** Milliseconds per export spent converting, serializing or waiting for the collector. */
  busyMsPerExport: number;
  requests: number;
  skipped: number;
  rssMb: number;
}

// ---- child: one exporter, measured from inside ---------------------------------------------

async function runChild(spec: RunSpec): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'fp-otlp-bench-'));
  try {
    const targets = join(dir, 'targets.json');
    writeFileSync(targets, JSON.stringify(loopbackAddresses(spec.targets).map((address, i) => ({ name: `t${i}`, address }))));
    const cfg = join(dir, 'config.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        ...(spec.workers !== undefined ? { workers: spec.workers } : {}),
        log: { level: 'warn' },
        web: { listen_address: '127.0.0.1:0' },
        probe_defaults: { kind: 'icmp', interval: '1s', timeout: '1s' },
        target_files: [targets],
      }),
    );
    const env: Record<string, string> =
      spec.otlp === undefined
        ? {}
        : {
            OTEL_EXPORTER_OTLP_ENDPOINT: spec.otlp.endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL: spec.otlp.protocol,
            OTEL_METRIC_EXPORT_INTERVAL: String(spec.otlp.intervalMs),
            OTEL_METRIC_EXPORT_TIMEOUT: String(spec.otlp.intervalMs),
          };
    const exporter = new Exporter({ argv: ['--config', cfg], env, logger: pino({ level: 'warn' }, pino.destination(2)) });
    await exporter.start();
    try {
      const readyBy = Date.now() + 120_000;
      while ((await getText(`${exporter.url}/readyz`, 5000).catch(() => ({ status: 0 }))).status !== 200) {
        if (Date.now() > readyBy) throw new Error('not ready in 120 s');
        await sleep(250);
      }
      await sleep(spec.warmupMs);

      const otlp = exporter.otlp;
      // Older code (a before/after comparison) may not have exporting(): lag during
      // exports is then not classified.
      const exporting = otlp !== null && typeof otlp.exporting === 'function' ? (): boolean => otlp.exporting() : (): boolean => false;
      const lags: number[] = [];
      const exportLags: number[] = [];
      let exports = 0;
      let busyTicks = 0;
      let wasBusy = exporting();
      const TICK = 10;
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        const lag = Math.max(0, now - last - TICK);
        last = now;
        lags.push(lag);
        const busy = exporting();
        // A tick held up by an export fires after it: count it if either end saw one.
        if (busy || wasBusy) exportLags.push(lag);
        if (busy) busyTicks++;
        if (busy && !wasBusy) exports++;
        wasBusy = busy;
      }, TICK);
      const stats0 = otlp === null ? undefined : { ...otlp.stats };
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await sleep(spec.durationMs);
      const cpu1 = process.cpuUsage(cpu0);
      const elapsed = performance.now() - t0;
      clearInterval(timer);
      const stats1 = otlp?.stats;
      return {
        cpuPct: ((cpu1.user + cpu1.system) / 1000 / elapsed) * 100,
        lagP50Ms: percentile(lags, 0.5),
        lagP99Ms: percentile(lags, 0.99),
        lagMaxMs: Math.max(0, ...lags),
        exportLagP99Ms: exportLags.length > 0 ? percentile(exportLags, 0.99) : NaN,
        exportLagMaxMs: exportLags.length > 0 ? Math.max(...exportLags) : NaN,
        exportTicks: exportLags.length,
        exports,
        busyMsPerExport: exports > 0 ? (busyTicks * TICK) / exports : NaN,
        requests: stats0 && stats1 ? stats1.exports + stats1.failures - stats0.exports - stats0.failures : 0,
        skipped: stats0 && stats1 ? (stats1.skipped ?? 0) - (stats0.skipped ?? 0) : 0,
        rssMb: process.memoryUsage().rss / 1024 / 1024,
      };
    } finally {
      await exporter.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- parent: A/B runs and the table -------------------------------------------------------------

/** Node flags for the measured processes: `--cpu-prof DIR` writes a CPU profile of each run's threads to DIR. */
let childNodeArgs: string[] = [];

function runInChild(spec: RunSpec): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...childNodeArgs, SELF, '--child', JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const limit = setTimeout(() => child.kill('SIGKILL'), spec.warmupMs + spec.durationMs + 300_000);
    child.once('exit', (code, signal) => {
      clearTimeout(limit);
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`bench run exited ${code ?? signal}: ${out.slice(-2000)}`));
      resolve(JSON.parse(line) as RunResult);
    });
  });
}

interface Sink {
  http: number;
  grpc: number;
  stop(): Promise<{ requests: number; bytes: number }>;
}

function startSink(): Promise<Sink> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SINK], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const lines = (): string[] =>
      out
        .trim()
        .split('\n')
        .filter((l) => l !== '');
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (lines().length === 1 && d.includes('\n')) {
        const ports = JSON.parse(lines()[0]) as { http: number; grpc: number };
        resolve({
          ...ports,
          stop: () =>
            new Promise((done) => {
              child.once('exit', () => done(JSON.parse(lines()[1] ?? '{"requests":0,"bytes":0}') as { requests: number; bytes: number }));
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`otlp sink exited ${code}`)));
  });
}

function arg(argv: readonly string[], name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
}

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '—');

async function main(argv: readonly string[]): Promise<void> {
  const counts = arg(argv, 'targets', '10000,50000').split(',').map(Number);
  const protocols = arg(argv, 'protocols', 'http/protobuf,grpc,http/json').split(',') as Protocol[];
  for (const p of protocols) if (!PROTOCOLS.includes(p)) throw new Error(`unknown protocol ${p}`);
  const intervalMs = parseDuration(arg(argv, 'interval', '10s'));
  const warmupMs = parseDuration(arg(argv, 'warmup', '20s'));
  const durationMs = parseDuration(arg(argv, 'duration', '60s'));
  const workersArg = arg(argv, 'workers', '');
  const workers = workersArg === '' ? undefined : Number(workersArg);
  const profDir = arg(argv, 'cpu-prof', '');
  if (profDir !== '') childNodeArgs = ['--cpu-prof', '--cpu-prof-dir', profDir];
  process.stdout.write(
    `# OTLP export cost: ${cpuModel()}, ${availableParallelism()} cores, Linux ${release()}, Node ${process.version}; load average ${loadAverage1m()} at start\n` +
      `# icmp targets at 1 s, export every ${intervalMs / 1000} s, ${warmupMs / 1000} s warm-up, ${durationMs / 1000} s window; OTLP off and on back to back\n\n`,
  );
  const rows: string[] = [];
  for (const targets of counts) {
    const base = { targets, workers, warmupMs, durationMs };
    process.stderr.write(`otlp-bench: ${targets} targets, OTLP off\n`);
    const off = await runInChild(base);
    for (const protocol of protocols) {
      const sink = await startSink();
      process.stderr.write(`otlp-bench: ${targets} targets, OTLP on (${protocol})\n`);
      let on: RunResult;
      try {
        on = await runInChild({ ...base, otlp: { protocol, endpoint: `http://127.0.0.1:${protocol === 'grpc' ? sink.grpc : sink.http}`, intervalMs } });
      } finally {
        await sink.stop();
      }
      const added = on.cpuPct - off.cpuPct;
      const cpuMsPerExport = on.exports > 0 ? ((added / 100) * durationMs) / on.exports : NaN;
      rows.push(
        `| ${targets.toLocaleString('en-US')} | ${protocol} | ${f1(off.cpuPct)} | ${f1(on.cpuPct)} | ${f1(added)} | ${on.exports} (${on.requests} requests) | ${f1(cpuMsPerExport)} | ${f1(on.busyMsPerExport)} | ${(cpuMsPerExport / 600).toFixed(2)} | ${f1(off.lagP99Ms)} / ${f1(off.lagMaxMs)} | ${f1(on.lagP99Ms)} / ${f1(on.lagMaxMs)} | ${f1(on.exportLagP99Ms)} / ${f1(on.exportLagMaxMs)} | ${on.skipped} | ${Math.round(on.rssMb)} (off ${Math.round(off.rssMb)}) |`,
      );
    }
  }
  process.stdout.write(
    '| targets | protocol | CPU off (% core) | CPU on | added | exports in window | CPU ms / export | ms exporting / export | added at 60 s interval (% core) | lag p99 / max off (ms) | lag p99 / max on | lag p99 / max during exports | skipped | RSS MB |\n' +
      '| ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | --- | --- | ---: | --- |\n' +
      `${rows.join('\n')}\n`,
  );
}

const argv = process.argv.slice(2);
if (argv[0] === '--child') {
  runChild(JSON.parse(argv[1]) as RunSpec).then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`otlp-bench child: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
} else if (argv.includes('--help')) {
  process.stdout.write(
    'usage: node dist/load-tests/otlp-bench.js [--targets 10000,50000] [--protocols http/protobuf,grpc,http/json] [--interval 10s] [--warmup 20s] [--duration 60s] [--workers N] [--cpu-prof DIR]\n',
  );
} else {
  main(argv).then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`otlp-bench: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}

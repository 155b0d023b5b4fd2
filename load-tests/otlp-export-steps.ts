/**
 * What one OTLP export of N targets does to the main thread, measured in one process
 * without probes: a TargetStore filled in memory (filled-store.ts), the real
 * startOtelExport, and a collector in another process that answers at once
 * (otlp-sink.js). During each export (forceFlush) a setImmediate chain samples, at
 * every turn of the event loop: the wall time and the process CPU time since the
 * previous turn (the longest synchronous step: what delays everything else on the
 * main thread) and V8's used heap (its peak over the export, garbage included, above
 * the heap when it started). Then as many exports again, each with a
 * full GC halfway through (at half the turns an export took) to read the heap it keeps
 * alive there: live objects only, so that figure does not depend on the machine's
 * load; the CPU time depends little on it, the wall time much.
 *
 *   npm run build && node --expose-gc dist/load-tests/otlp-export-steps.js [--targets 10000] [--exports 6] [--protocols http/protobuf,grpc,http/json] [--replies 100]
 *       [--histograms explicit_bucket_histogram|base2_exponential_bucket_histogram]
 *
 * Prints one row per protocol: the median over the exports (the first is a warm-up,
 * not counted) of the longest step's CPU and wall time (and their max), the turns per
 * export, the peak heap and the live heap halfway through.
 * Loopback only.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { startOtelExport } from '../src/metrics/otel.js';
import { fill } from './filled-store.js';

const SINK = join(fileURLToPath(import.meta.url), '..', 'otlp-sink.js');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
}

interface Sink {
  http: number;
  grpc: number;
  stop(): void;
}

function startSink(): Promise<Sink> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SINK], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.once('data', (b: Buffer) => {
      const ports = JSON.parse(String(b).split('\n')[0]) as { http: number; grpc: number };
      resolve({ ...ports, stop: () => child.kill('SIGTERM') });
    });
    child.once('exit', (code) => reject(new Error(`otlp sink exited ${code}`)));
  });
}

interface ExportSample {
  /** Longest time between two turns of the event loop: CPU ms (the whole process, GC threads included), wall ms. */
  stepCpuMs: number;
  stepWallMs: number;
  turns: number;
  /** Peak V8 used heap during the export (live and garbage) above the heap when it started (MB). */
  heapMB: number;
}

const gc = (): void => {
  const f = (globalThis as { gc?: () => void }).gc;
  if (f === undefined) throw new Error('run with node --expose-gc');
  f();
};
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

/** One export's steps: the longest gap between two turns of the event loop, and the heap. */
async function measureExport(flush: () => Promise<void>): Promise<ExportSample> {
  // No forced GC here: a full GC from gc() also drops compiled code, and the first
  // request's serialization would then measure V8 recompiling the serializer.
  await settle();
  const base = getHeapStatistics().used_heap_size;
  let peak = base;
  let stepCpu = 0;
  let stepWall = 0;
  let turns = 0;
  let lastWall = performance.now();
  let lastCpu = process.cpuUsage();
  let running = true;
  const tick = (): void => {
    if (!running) return;
    const wall = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    lastCpu = process.cpuUsage();
    stepWall = Math.max(stepWall, wall - lastWall);
    stepCpu = Math.max(stepCpu, (cpu.user + cpu.system) / 1000);
    lastWall = wall;
    peak = Math.max(peak, getHeapStatistics().used_heap_size);
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  await flush();
  running = false;
  return { stepCpuMs: stepCpu, stepWallMs: stepWall, turns, heapMB: (peak - base) / 2 ** 20 };
}

/**
 * The heap an export keeps alive halfway through (MB above the heap after a full GC
 * before it): a full GC at the event-loop turn halfway through an export (`turns` of
 * a previous one), then V8's used heap. Deterministic: only live objects are left.
 */
async function liveHeapMidExport(flush: () => Promise<void>, turns: number): Promise<number> {
  gc();
  await settle();
  const base = getHeapStatistics().used_heap_size;
  let mid = NaN;
  let n = 0;
  let running = true;
  const tick = (): void => {
    if (!running) return;
    if (++n === Math.floor(turns / 2)) {
      gc();
      mid = getHeapStatistics().used_heap_size;
    }
    setImmediate(tick);
  };
  setImmediate(tick);
  await flush();
  running = false;
  return (mid - base) / 2 ** 20;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

async function main(): Promise<void> {
  const targets = Number(arg('--targets', '10000'));
  const exports = Math.max(2, Number(arg('--exports', '6')));
  const replies = Number(arg('--replies', '100'));
  const protocols = arg('--protocols', 'http/protobuf,grpc,http/json').split(',');
  const histograms = arg('--histograms', 'explicit_bucket_histogram');
  const store = fill(targets, replies);
  const sink = await startSink();
  const silent = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
  console.log(
    `# one OTLP export of ${targets} ICMP targets in memory (${histograms}), ${exports - 1} exports measured after a warm-up; node ${process.version}`,
  );
  console.log(
    '| protocol | longest step CPU ms (median / max) | longest step wall ms (median / max) | event-loop turns per export | peak heap above its start (MB, median) | live heap halfway through an export (MB, median) |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  try {
    for (const protocol of protocols) {
      const port = protocol === 'grpc' ? sink.grpc : sink.http;
      const otel = startOtelExport({
        store,
        logger: silent,
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_METRIC_EXPORT_INTERVAL: '3600000',
          OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: histograms,
        },
      });
      if (otel === null) throw new Error('OTLP export did not start');
      const samples: ExportSample[] = [];
      for (let i = 0; i < exports; i++) samples.push(await measureExport(() => otel.forceFlush()));
      const turns = median(samples.slice(1).map((x) => x.turns));
      const live: number[] = [];
      for (let i = 1; i < exports; i++) live.push(await liveHeapMidExport(() => otel.forceFlush(), turns));
      await otel.shutdown();
      if (otel.stats.failures > 0) throw new Error(`${otel.stats.failures} export requests failed: ${otel.stats.lastError}`);
      const m = samples.slice(1);
      const f = (x: number): string => x.toFixed(1);
      console.log(
        `| ${protocol} | ${f(median(m.map((s) => s.stepCpuMs)))} / ${f(Math.max(...m.map((s) => s.stepCpuMs)))} | ${f(median(m.map((s) => s.stepWallMs)))} / ${f(Math.max(...m.map((s) => s.stepWallMs)))} | ${median(m.map((s) => s.turns))} | ${f(median(m.map((s) => s.heapMB)))} | ${f(median(live))} |`,
      );
    }
  } finally {
    sink.stop();
  }
}

main().catch((err: unknown) => {
  console.error('otlp-export-steps:', err);
  process.exitCode = 1;
});

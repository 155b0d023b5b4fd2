/**
 * An Exporter in this process whose workers run test/fixtures/faulty-shard (the real
 * shard plus one injected fault, see there), with its log lines captured and its
 * /metrics scraped through a MonotonicGuard. For the worker failure tests.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Exporter, type ExporterOptions } from '../../src/exporter.js';
import type { FaultClaim, FaultPlan } from '../fixtures/faulty-shard.js';
import { httpRequest, scrapeMetrics, tempDir, type Metrics } from './exporter-process.js';
import { MonotonicGuard } from './monotonic.js';

export const FAULTY_SHARD = fileURLToPath(new URL('../fixtures/faulty-shard.js', import.meta.url));

export interface LogLine {
  level: number;
  time: number;
  msg: string;
  [k: string]: unknown;
}

export interface FaultyExporter {
  exporter: Exporter;
  dir: ReturnType<typeof tempDir>;
  logs: LogLine[];
  guard: MonotonicGuard;
  /** Scrape /metrics, checking every probe counter against the previous scrape. */
  scrape(): Promise<Metrics>;
  readyz(): Promise<{ status: number; text: string }>;
  status(): Promise<{ workers: Array<Record<string, unknown>> }>;
  /** Replace the fault plan (read by every shard task at its start). */
  plan(p: FaultPlan): void;
  /** The faults that happened so far, in the order of their claim files. */
  claims(): FaultClaim[];
  /** Name of each target -> its worker index, from /api/v1/targets. */
  placement(): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

/**
 * Start it. `config` is the config file's content (log level info is forced: the tests
 * read the supervisor's log lines). Call stop() from t.after.
 */
export async function startFaultyExporter(
  prefix: string,
  config: Record<string, unknown>,
  plan: FaultPlan,
  opts: Partial<ExporterOptions> = {},
): Promise<FaultyExporter> {
  const dir = tempDir(prefix);
  const planPath = join(dir.path, 'plan.json');
  writeFileSync(planPath, JSON.stringify(plan));
  const saved = process.env.FP_FAULT_PLAN;
  // Worker threads copy process.env when they start: set it before the pool exists.
  process.env.FP_FAULT_PLAN = planPath;
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') logs.push(JSON.parse(line) as LogLine);
      cb();
    },
  });
  const cfg = dir.file('c.yaml', { web: { listen_address: '127.0.0.1:0' }, ...config, log: { level: 'info' } });
  const exporter = new Exporter({ argv: ['--config', cfg], logger: pino({ level: 'info' }, sink), shardFilename: FAULTY_SHARD, ...opts });
  const guard = new MonotonicGuard();
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await exporter.stop();
    if (saved === undefined) delete process.env.FP_FAULT_PLAN;
    else process.env.FP_FAULT_PLAN = saved;
    dir.cleanup();
  };
  try {
    await exporter.start();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    exporter,
    dir,
    logs,
    guard,
    scrape: guard.checking(() => scrapeMetrics(`${exporter.url}/metrics`)),
    async readyz() {
      const r = await httpRequest(`${exporter.url}/readyz`, { timeoutMs: 2000 });
      return { status: r.status, text: r.text() };
    },
    async status() {
      return JSON.parse((await httpRequest(`${exporter.url}/api/v1/status`)).text()) as { workers: Array<Record<string, unknown>> };
    },
    plan(p) {
      writeFileSync(planPath, JSON.stringify(p));
    },
    claims() {
      return readdirSync(dir.path)
        .filter((f) => f.startsWith('fault-'))
        .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
        .map((f) => JSON.parse(readFileSync(join(dir.path, f), 'utf8')) as FaultClaim);
    },
    async placement() {
      const api = JSON.parse((await httpRequest(`${exporter.url}/api/v1/targets`)).text()) as { targets: Array<{ name: string; worker: number }> };
      return new Map(api.targets.map((x) => [x.name, x.worker]));
    },
    stop,
  };
}

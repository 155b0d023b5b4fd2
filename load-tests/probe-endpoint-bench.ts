/**
 * GET /probe under a bounded stream of requests: latency of each request and the
 * exporter's CPU (the whole process: main thread and workers, from /proc).
 *
 *   npm run build --silent && node dist/load-tests/probe-endpoint-bench.js [--rate 50] [--seconds 10] [--background 1000]
 *
 * The exporter (2 workers) probes `--background` ICMP loopback targets every second,
 * as a production instance would while it is scraped; its responder answers tcp on
 * loopback. Phases, each `--seconds` long and back to back:
 *   idle         no /probe request (the baseline CPU of the background fleet);
 *   icmp         `--rate` requests per second of /probe?kind=icmp with the defaults
 *                (3 probes, 100 ms apart) to 127.0.0.1..127.0.0.254 in turn;
 *   icmp count=1 the same with one probe (the endpoint's own overhead, no interval);
 *   tcp          `--rate` requests per second of kind=tcp against the responder.
 * Requests are started on a fixed schedule (open loop), at most rate x seconds per
 * phase; the run stops by itself. Every address is loopback.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exporterConfig, freePort, startExporter, writeJson, writeTargets } from './exporter-process.js';
import { installChildCleanup, stopChild } from './child-processes.js';
import { timedGet } from './http-client.js';
import { cpuModel, cpuSeconds, loadAverage1m } from './proc-stats.js';
import { percentile } from './quantiles.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a number`);
  return v;
}

const RATE = Math.min(500, arg('rate', 50));
const SECONDS = Math.min(120, arg('seconds', 10));
const BACKGROUND = Math.min(10_000, arg('background', 1000));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface PhaseResult {
  name: string;
  requests: number;
  statuses: Record<string, number>;
  p50: number;
  p99: number;
  max: number;
  cpuPercent: number;
}

async function phase(name: string, pid: number, urlOf: ((i: number) => string) | null): Promise<PhaseResult> {
  const lat: number[] = [];
  const statuses: Record<string, number> = {};
  const cpu0 = cpuSeconds(pid);
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  if (urlOf) {
    const total = Math.round(RATE * SECONDS);
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      inflight.push(
        timedGet(urlOf(i), { timeoutMs: 15_000 }).then(
          (r) => {
            lat.push(r.totalMs);
            statuses[r.status] = (statuses[r.status] ?? 0) + 1;
          },
          () => {
            statuses.error = (statuses.error ?? 0) + 1;
          },
        ),
      );
    }
    await Promise.all(inflight);
  } else {
    await sleep(SECONDS * 1000);
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = ((cpuSeconds(pid) - cpu0) / wall) * 100;
  return {
    name,
    requests: lat.length,
    statuses,
    p50: percentile(lat, 0.5),
    p99: percentile(lat, 0.99),
    max: lat.length ? Math.max(...lat) : NaN,
    cpuPercent: cpu,
  };
}

async function main(): Promise<void> {
  installChildCleanup((m) => process.stderr.write(`${m}\n`));
  const dir = mkdtempSync(join(tmpdir(), 'fp-probe-bench-'));
  try {
    const webPort = await freePort();
    const echoPort = await freePort();
    const targets = Array.from({ length: BACKGROUND }, (_, i) => ({
      name: `bg-${i}`,
      address: `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`,
      kind: 'icmp' as const,
    }));
    const doc = exporterConfig({
      webPort,
      workers: 2,
      intervalMs: 1000,
      timeoutMs: 1000,
      targetsFile: BACKGROUND > 0 ? writeTargets(dir, 'targets.json', targets) : undefined,
      responder: { tcpEcho: `127.0.0.1:${echoPort}` },
    });
    doc.probe_endpoint = { max_concurrent: 256 };
    const cfg = writeJson(dir, 'config.json', doc);
    const exp = await startExporter('exporter', 'run', cfg, webPort, 30_000);
    const pid = exp.child.proc.pid!;
    await sleep(2000);
    const base = `${exp.baseUrl}/probe`;
    const results: PhaseResult[] = [];
    results.push(await phase('idle', pid, null));
    results.push(await phase('icmp (3 probes, 100ms apart)', pid, (i) => `${base}?kind=icmp&target=127.0.0.${1 + (i % 254)}`));
    results.push(await phase('icmp count=1', pid, (i) => `${base}?kind=icmp&count=1&target=127.0.0.${1 + (i % 254)}`));
    results.push(await phase('tcp (3 probes, 100ms apart)', pid, () => `${base}?kind=tcp&target=127.0.0.1:${echoPort}`));
    await stopChild(exp.child);

    console.log(`# /probe bench: ${RATE} req/s for ${SECONDS}s per phase; ${BACKGROUND} background ICMP targets at 1s; 2 workers`);
    console.log(`# machine: ${cpuModel()}; load average (1m) at the end ${loadAverage1m().toFixed(2)}`);
    console.log('phase                          requests  statuses            p50 ms   p99 ms   max ms   exporter CPU (% of a core)  added vs idle');
    const idle = results[0].cpuPercent;
    for (const r of results) {
      console.log(
        `${r.name.padEnd(30)} ${String(r.requests).padStart(8)}  ${JSON.stringify(r.statuses).padEnd(18)} ${fmt(r.p50)} ${fmt(r.p99)} ${fmt(r.max)}   ${r.cpuPercent.toFixed(1).padStart(10)}                ${r.name === 'idle' ? '' : (r.cpuPercent - idle).toFixed(1)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function fmt(ms: number): string {
  return (Number.isFinite(ms) ? ms.toFixed(1) : '-').padStart(8);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

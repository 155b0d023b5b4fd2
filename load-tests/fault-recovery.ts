/**
 * Failure recovery figures (issue 6, F15/F16): how long fleetprobe takes to notice and
 * replace a hung worker, and how long SIGTERM takes with an OTLP collector that never
 * answers or resets every request. Loopback only; every run is bounded and ends by
 * itself. Prints figures, asserts nothing. Needs root (ICMP targets).
 *
 *   node dist/load-tests/fault-recovery.js hang    [--targets 1000] [--window 60]
 *   node dist/load-tests/fault-recovery.js sigterm [--targets 10000] [--collector blackhole|reset] [--window 120]
 *
 * hang: an Exporter in this process (2 workers, flush 500 ms, default stall timeout)
 * runs test/fixtures/faulty-shard, which puts one worker into a busy loop after 10
 * batches. Reported, from the moment the loop starts: when the worker's restart is
 * counted, when /readyz first answers 503, when its targets' `sent` counters move
 * again, when /readyz is 200 again.
 *
 * sigterm: the CLI as a child process (2 workers, N ICMP targets at 1 s) exporting
 * OTLP to a loopback server that either reads and never answers (blackhole) or resets
 * each connection once it has the request headers (reset). After /readyz and 3 s of
 * probing: SIGTERM, then a second SIGTERM 15 s later if it is still running, SIGKILL
 * at the window's end. Reported: time to exit, the exit status, whether the second
 * signal ended it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Exporter } from '../src/exporter.js';
import { parsePrometheusText } from '../src/metrics/text-parse.js';
import { CLI, freePort } from './exporter-process.js';
import { getText } from './http-client.js';
import { loopbackAddresses } from './loopback-fleet.js';

const FAULTY_SHARD = fileURLToPath(new URL('../test/fixtures/faulty-shard.js', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function arg(argv: readonly string[], name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
}

function targetFile(dir: string, n: number): string {
  const path = join(dir, 'targets.json');
  writeFileSync(path, JSON.stringify(loopbackAddresses(n).map((address, i) => ({ name: `t${i}`, address }))));
  return path;
}

async function scrape(url: string): Promise<Map<string, number>> {
  const r = await getText(`${url}/metrics`, 10_000);
  const out = new Map<string, number>();
  for (const s of parsePrometheusText(r.text).samples) {
    if (s.name === 'fleetprobe_worker_restarts_total') out.set(`restarts/${s.labels.worker}`, s.value);
    else if (s.name === 'fleetprobe_probe_sent_total') out.set(`sent/${s.labels.target}`, s.value);
  }
  return out;
}

async function hang(argv: readonly string[]): Promise<void> {
  const n = Number(arg(argv, 'targets', '1000'));
  const windowMs = Number(arg(argv, 'window', '60')) * 1000;
  const dir = mkdtempSync(join(tmpdir(), 'fp-fault-hang-'));
  const plan = join(dir, 'plan.json');
  writeFileSync(plan, JSON.stringify({ mode: 'hang', afterBatches: 10, times: 1 }));
  process.env.FP_FAULT_PLAN = plan;
  const cfg = join(dir, 'c.json');
  writeFileSync(
    cfg,
    JSON.stringify({
      workers: 2,
      flush_interval: '500ms',
      log: { level: 'silent' },
      web: { listen_address: '127.0.0.1:0' },
      probe_defaults: { interval: '1s', timeout: '1s' },
      target_files: [targetFile(dir, n)],
    }),
  );
  const exporter = new Exporter({ argv: ['--config', cfg], logger: pino({ level: 'silent' }), shardFilename: FAULTY_SHARD });
  await exporter.start();
  try {
    const placement = JSON.parse((await getText(`${exporter.url}/api/v1/targets`, 10_000)).text) as { targets: Array<{ name: string; worker: number }> };
    let faultAt = 0;
    let hung = -1;
    const deadline = Date.now() + windowMs + 15_000;
    while (faultAt === 0 && Date.now() < deadline) {
      await sleep(50);
      try {
        const c = JSON.parse(readFileSync(join(dir, 'fault-0'), 'utf8')) as { worker: number; faultAt: number };
        faultAt = c.faultAt;
        hung = c.worker;
      } catch {
        /* not yet */
      }
    }
    if (faultAt === 0) throw new Error('the fixture never hung a worker');
    const victims = placement.targets.filter((x) => x.worker === hung).map((x) => `sent/${x.name}`);
    const sentOf = (m: Map<string, number>): number => victims.reduce((a, k) => a + (m.get(k) ?? 0), 0);
    const first = await scrape(exporter.url);
    const restarts0 = first.get(`restarts/${hung}`) ?? 0;
    let frozen = Number.NaN;
    const at: Record<string, number | null> = { restart_counted: null, readyz_503: null, targets_probed_again: null, readyz_200_again: null };
    const since = (): number => Date.now() - faultAt;
    while (Date.now() - faultAt < windowMs && Object.values(at).some((v) => v === null)) {
      await sleep(250);
      const [m, r] = await Promise.all([scrape(exporter.url), getText(`${exporter.url}/readyz`, 5000)]);
      if (at.restart_counted === null && (m.get(`restarts/${hung}`) ?? 0) > restarts0) at.restart_counted = since();
      if (at.readyz_503 === null && r.status === 503) at.readyz_503 = since();
      if (at.readyz_503 !== null && at.readyz_200_again === null && r.status === 200) at.readyz_200_again = since();
      // The hung worker's counters froze at the hang; probing again moves them by one round.
      if (Number.isNaN(frozen) && since() > 1500) frozen = sentOf(m);
      if (!Number.isNaN(frozen) && at.targets_probed_again === null && sentOf(m) >= frozen + victims.length) at.targets_probed_again = since();
    }
    const show = (v: number | null): string => (v === null ? `not within ${windowMs / 1000} s` : `${(v / 1000).toFixed(2)} s`);
    process.stdout.write(`hang: ${n} targets, 2 workers, worker ${hung} (${victims.length} targets) hung in a busy loop\n`);
    for (const [k, v] of Object.entries(at)) process.stdout.write(`  ${k.padEnd(22)} ${show(v)} after the hang\n`);
  } finally {
    await exporter.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An OTLP "collector" on loopback that never answers, or resets once it has the headers. */
async function badCollector(mode: 'blackhole' | 'reset'): Promise<{ port: number; requests: () => number; close(): void }> {
  let requests = 0;
  const sockets = new Set<Socket>();
  const srv = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let head = '';
    s.on('data', (d) => {
      if (head.includes('\r\n\r\n')) return;
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      requests++;
      if (mode === 'reset') s.resetAndDestroy();
    });
  });
  await new Promise<void>((resolve) => srv.listen({ host: '127.0.0.1', port: 0 }, resolve));
  return {
    port: (srv.address() as { port: number }).port,
    requests: () => requests,
    close: () => {
      for (const s of sockets) s.destroy();
      srv.close();
    },
  };
}

async function sigterm(argv: readonly string[]): Promise<void> {
  const n = Number(arg(argv, 'targets', '10000'));
  const mode = arg(argv, 'collector', 'blackhole') as 'blackhole' | 'reset';
  const windowMs = Number(arg(argv, 'window', '120')) * 1000;
  const dir = mkdtempSync(join(tmpdir(), 'fp-fault-sigterm-'));
  const collector = await badCollector(mode);
  const port = await freePort();
  const cfg = join(dir, 'c.json');
  writeFileSync(
    cfg,
    JSON.stringify({
      workers: 2,
      log: { level: 'info' },
      web: { listen_address: `127.0.0.1:${port}` },
      probe_defaults: { interval: '1s', timeout: '1s' },
      target_files: [targetFile(dir, n)],
    }),
  );
  const child = spawn(process.execPath, [CLI, 'run', '--config', cfg], {
    env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.port}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(code !== null ? `status ${code}` : `signal ${signal}`)));
  try {
    const ready = Date.now() + 60_000;
    for (;;) {
      const r = await getText(`http://127.0.0.1:${port}/readyz`, 2000).catch(() => ({ status: 0 }));
      if (r.status === 200) break;
      if (Date.now() > ready) throw new Error('not ready in 60 s');
      await sleep(250);
    }
    await sleep(3000);
    const t0 = Date.now();
    child.kill('SIGTERM');
    const timer = (ms: number): Promise<null> => new Promise((r) => setTimeout(() => r(null), ms));
    let result = await Promise.race([exited, timer(15_000)]);
    let second = 'not needed';
    if (result === null) {
      const t1 = Date.now();
      child.kill('SIGTERM');
      result = await Promise.race([exited, timer(1000)]);
      second = result === null ? 'ignored (still running 1 s later)' : `ended it after ${Date.now() - t1} ms`;
      if (result === null) result = await Promise.race([exited, timer(Math.max(0, windowMs - (Date.now() - t0)))]);
    }
    const ms = Date.now() - t0;
    if (result === null) {
      child.kill('SIGKILL');
      await exited;
    }
    process.stdout.write(`sigterm: ${n} targets, collector ${mode} (${collector.requests()} export requests received)\n`);
    process.stdout.write(
      `  exit                   ${result === null ? `still running after ${windowMs / 1000} s (SIGKILLed)` : `${result} after ${(ms / 1000).toFixed(2)} s`}\n`,
    );
    process.stdout.write(`  second SIGTERM at 15 s ${second}\n`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    collector.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const [scenario, ...rest] = process.argv.slice(2);
const run = scenario === 'hang' ? hang : scenario === 'sigterm' ? sigterm : null;
if (run === null) {
  process.stderr.write(
    'usage: node dist/load-tests/fault-recovery.js hang [--targets N] [--window S] | sigterm [--targets N] [--collector blackhole|reset] [--window S]\n',
  );
  process.exit(2);
}
run(rest).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`fault-recovery: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);

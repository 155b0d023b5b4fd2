/**
 * Two abuse scenarios against a real fleetprobe process on loopback (findings F13
 * and F14 of issue 6), as functions the integration tests call with small
 * parameters, and as a command that prints figures:
 *
 *   node dist/load-tests/responder-abuse.js storm [--targets 5000] [--concurrency 50] [--duration 10s]
 *   node dist/load-tests/responder-abuse.js self-loop [--duration 10s]        (root: raw socket)
 *
 * storm (F14): `fleetprobe run` with the responder in the same process (tcp_echo,
 * udp, http on 127.0.0.1) and N tcp targets (to a closed loopback port: cheap to
 * probe, and every target's series make /metrics large). Plain peers
 * (responder-peers.ts) probe the responder every 50 ms with a 1 s timeout while
 * `concurrency` clients scrape /metrics (gzip) in a loop for the duration
 * (scrape-load.js, a child process). Prints the peers' outcomes before, during and
 * after the storm, the scrape figures, and the slowest /healthz during the storm
 * (served by the main thread: how long it was busy).
 *
 * self-loop (F13): `fleetprobe responder` with a UDP echo; ONE forged datagram
 * whose source is the echo's own address and port; then for the duration, the
 * echoes counted (fleetprobe_responder_datagrams_total) and the CPU the process
 * used. Prints both.
 *
 * udp-cost: `fleetprobe responder` with a UDP echo (per-source limit set high enough
 * never to refuse, so the guard and the limiter run on every datagram); a client
 * sends `count` datagrams from 16 sockets in bursts of 64 and counts the echoes.
 * Prints the responder process's CPU per echo.
 *
 * Network safety: loopback only; every phase bounded in time; children killed on
 * every exit path. Figures are printed, never asserted here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseDuration } from '../src/values/duration.js';
import { parsePrometheusText } from '../src/metrics/text-parse.js';
import { installChildCleanup, sleep, spawnTracked, stopChild, type Tracked } from './child-processes.js';
import { freePort, startExporter, writeJson, type RunningExporter } from './exporter-process.js';
import { timedGet } from './http-client.js';
import { cpuSeconds, loadAverage1m } from './proc-stats.js';
import { formatPeerTallies, ResponderPeers, type PeerProtocol, type PeerTally } from './responder-peers.js';
import { canSpoof, sendSpoofedUdp } from './udp-spoof.js';

const SCRAPE_LOAD = fileURLToPath(new URL('./scrape-load.js', import.meta.url));
const HOST = '127.0.0.1';

export interface StormOptions {
  targets: number;
  concurrency: number;
  stormMs: number;
  beforeMs: number;
  afterMs: number;
  /** Peers' probe interval and timeout. */
  peerIntervalMs: number;
  peerTimeoutMs: number;
  workers: number;
}

export const STORM_DEFAULTS: StormOptions = {
  targets: 5000,
  concurrency: 50,
  stormMs: 10_000,
  beforeMs: 3000,
  afterMs: 2000,
  peerIntervalMs: 50,
  peerTimeoutMs: 1000,
  workers: 1,
};

export interface StormResult {
  peers: Record<'before' | 'storm' | 'after', Record<PeerProtocol, PeerTally>>;
  peerTable: string;
  /** One scrape before the storm (gzip): bytes on the wire and time. */
  scrape: { gzipBytes: number; ms: number };
  /** scrape-load's report and its request counts. */
  stormReport: string;
  stormScrapes: number;
  stormErrors: number;
  /** Slowest /healthz answer during the storm, ms (the main thread's stall). */
  healthzMaxMs: number;
  loadAverage: number;
}

function tempDir(prefix: string): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Start the exporter with its responder and N targets; returns it with the responder's ports. */
async function startStormExporter(dir: string, o: StormOptions): Promise<{ exp: RunningExporter; ports: { tcp: number; udp: number; http: number } }> {
  const webPort = await freePort();
  const echoPort = await freePort();
  const httpPort = await freePort();
  const closedPort = await freePort(); // nothing listens there: every tcp probe is refused at once
  const targets = Array.from({ length: o.targets }, (_, i) => ({ name: `t${i}`, kind: 'tcp', address: `${HOST}:${closedPort}` }));
  const targetsFile = writeJson(dir, 'targets.json', targets);
  const config = writeJson(dir, 'config.json', {
    log: { level: 'warn' },
    workers: o.workers,
    web: { listen_address: `${HOST}:${webPort}` },
    probe_defaults: { interval: '10s', timeout: '1s' },
    target_files: [targetsFile],
    responder: { tcp_echo: `${HOST}:${echoPort}`, udp_echo: `${HOST}:${echoPort}`, http: `${HOST}:${httpPort}` },
  });
  const exp = await startExporter('fleetprobe-storm', 'run', config, webPort, 60_000);
  return { exp, ports: { tcp: echoPort, udp: echoPort, http: httpPort } };
}

/** Poll `url` every 100 ms until `stop()`; resolves with the slowest answer (ms). */
function pollSlowest(url: string): { stop(): Promise<number> } {
  let running = true;
  let slowest = 0;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        await timedGet(url, { timeoutMs: 60_000 });
      } catch {
        /* counted as slow by the time it took */
      }
      slowest = Math.max(slowest, performance.now() - t0);
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return slowest;
    },
  };
}

function parseScrapeLoadCounts(report: string): { ok: number; errors: number } {
  const row = report.split('\n').find((l) => l.startsWith('| /metrics |'));
  if (!row) return { ok: 0, errors: 0 };
  const cells = row.split('|').map((c) => c.trim());
  return { ok: Number(cells[2]) || 0, errors: Number(cells[3]) || 0 };
}

export async function runScrapeStorm(opts: Partial<StormOptions> = {}): Promise<StormResult> {
  const o = { ...STORM_DEFAULTS, ...opts };
  const dir = tempDir('fp-storm-');
  let exp: RunningExporter | null = null;
  let storm: Tracked | null = null;
  let peers: ResponderPeers | null = null;
  try {
    const started = await startStormExporter(dir.path, o);
    exp = started.exp;
    const first = await timedGet(`${exp.baseUrl}/metrics`, { gzip: true, timeoutMs: 60_000 });
    peers = new ResponderPeers(
      { host: HOST, tcpEchoPort: started.ports.tcp, udpPort: started.ports.udp, httpPort: started.ports.http },
      { intervalMs: o.peerIntervalMs, timeoutMs: o.peerTimeoutMs },
    );
    await peers.start();
    peers.setPhase('before');
    await sleep(o.beforeMs);

    peers.setPhase('storm');
    const healthz = pollSlowest(`${exp.baseUrl}/healthz`);
    storm = spawnTracked('scrape-load', process.execPath, [
      SCRAPE_LOAD,
      '--url',
      exp.baseUrl,
      '--concurrency',
      String(o.concurrency),
      '--duration',
      `${o.stormMs}ms`,
      '--paths',
      '/metrics',
      '--gzip',
    ]);
    await storm.exited;
    const healthzMaxMs = await healthz.stop();
    peers.setPhase('after');
    await sleep(o.afterMs);
    await peers.stop();

    const stormReport = storm.output().trim();
    const counts = parseScrapeLoadCounts(stormReport);
    return {
      peers: { before: peers.tally('before'), storm: peers.tally('storm'), after: peers.tally('after') },
      peerTable: formatPeerTallies(peers, ['before', 'storm', 'after']),
      scrape: { gzipBytes: first.bytes, ms: first.totalMs },
      stormReport,
      stormScrapes: counts.ok,
      stormErrors: counts.errors,
      healthzMaxMs,
      loadAverage: loadAverage1m(),
    };
  } finally {
    // Each step on its own, so a failing one never leaves a child or the directory behind.
    await peers?.stop().catch(() => {});
    if (storm) await stopChild(storm, 'SIGKILL', 1000);
    if (exp) await stopChild(exp.child, 'SIGTERM', 5000);
    dir.cleanup();
  }
}

export interface SelfLoopResult {
  /** Datagrams echoed during the window after the forged one. */
  echoes: number;
  /** fleetprobe_responder_rejected_total{protocol="udp",reason="self"} after the window (absent on old code). */
  selfRejected: number | undefined;
  /** CPU seconds the responder process used during the window. */
  cpuSeconds: number;
  windowMs: number;
}

async function scrapeValues(baseUrl: string): Promise<{ datagrams: number; self: number | undefined }> {
  let text = '';
  await timedGet(`${baseUrl}/metrics`, { timeoutMs: 30_000, onText: (s) => (text += s) });
  const samples = parsePrometheusText(text).samples;
  const datagrams = samples.find((s) => s.name === 'fleetprobe_responder_datagrams_total')?.value ?? NaN;
  const self = samples.find((s) => s.name === 'fleetprobe_responder_rejected_total' && s.labels.protocol === 'udp' && s.labels.reason === 'self')?.value;
  return { datagrams, self };
}

/** F13: one forged self-addressed datagram to `fleetprobe responder`, then watch it for `windowMs`. Needs root. */
export async function runSelfLoop(windowMs = 10_000): Promise<SelfLoopResult> {
  if (!canSpoof) throw new Error('self-loop needs root / CAP_NET_RAW (raw socket)');
  const dir = tempDir('fp-selfloop-');
  let exp: RunningExporter | null = null;
  try {
    const webPort = await freePort();
    const udpPort = await freePort();
    const config = writeJson(dir.path, 'config.json', {
      log: { level: 'warn' },
      web: { listen_address: `${HOST}:${webPort}` },
      responder: { udp_echo: `${HOST}:${udpPort}` },
    });
    exp = await startExporter('fleetprobe-responder', 'responder', config, webPort, 30_000);
    const before = await scrapeValues(exp.baseUrl);
    const cpu0 = cpuSeconds(exp.child.pid);
    await sendSpoofedUdp(udpPort, udpPort, Buffer.from('one forged datagram from 127.0.0.1 to itself'));
    await sleep(windowMs);
    const cpu1 = cpuSeconds(exp.child.pid);
    const after = await scrapeValues(exp.baseUrl);
    return { echoes: after.datagrams - before.datagrams, selfRejected: after.self, cpuSeconds: cpu1 - cpu0, windowMs };
  } finally {
    // Old code loops until killed: SIGKILL after a short grace.
    if (exp) await stopChild(exp.child, 'SIGTERM', 3000);
    dir.cleanup();
  }
}

export interface UdpCostResult {
  sent: number;
  echoed: number;
  cpuSeconds: number;
  wallSeconds: number;
}

/** The responder's CPU per UDP echo under a bounded flood (see the file header). */
export async function runUdpCost(count = 200_000, legacyConfig = false): Promise<UdpCostResult> {
  const dir = tempDir('fp-udpcost-');
  let exp: RunningExporter | null = null;
  const sockets: import('node:dgram').Socket[] = [];
  try {
    const webPort = await freePort();
    const udpPort = await freePort();
    const responder: Record<string, unknown> = { udp_echo: `${HOST}:${udpPort}` };
    // legacyConfig: the key did not exist before the limits were added.
    if (!legacyConfig) responder.udp_rate_per_source = 10_000_000;
    const config = writeJson(dir.path, 'config.json', { log: { level: 'warn' }, web: { listen_address: `${HOST}:${webPort}` }, responder });
    exp = await startExporter('fleetprobe-responder', 'responder', config, webPort, 30_000);
    const { createSocket } = await import('node:dgram');
    let echoed = 0;
    for (let i = 0; i < 16; i++) {
      const s = createSocket('udp4');
      s.on('message', () => echoed++);
      await new Promise<void>((r) => s.bind(0, HOST, () => r()));
      sockets.push(s);
    }
    const payload = Buffer.alloc(64, 7);
    const cpu0 = cpuSeconds(exp.child.pid);
    const t0 = performance.now();
    const deadline = t0 + 60_000;
    for (let sent = 0; sent < count && performance.now() < deadline;) {
      for (let k = 0; k < 64 && sent < count; k++, sent++) sockets[sent % 16].send(payload, udpPort, HOST);
      // Let replies drain so neither side's buffers overflow.
      while (sent - echoed > 2048 && performance.now() < deadline) await new Promise((r) => setImmediate(r));
    }
    const settle = performance.now() + 2000;
    while (echoed < count && performance.now() < settle) await sleep(10);
    const wall = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(exp.child.pid) - cpu0;
    return { sent: count, echoed, cpuSeconds: cpu, wallSeconds: wall };
  } finally {
    for (const s of sockets) s.close();
    if (exp) await stopChild(exp.child, 'SIGTERM', 3000);
    dir.cleanup();
  }
}

const USAGE = `usage: node dist/load-tests/responder-abuse.js storm [--targets 5000] [--concurrency 50] [--duration 10s] [--workers 1]
       node dist/load-tests/responder-abuse.js self-loop [--duration 10s]      (root: forges a datagram with a raw socket)
       node dist/load-tests/responder-abuse.js udp-cost [--count 200000] [--legacy-config]
Loopback only; at most 2 minutes per run.`;

function parseArgs(argv: readonly string[]) {
  const out = {
    scenario: argv[0] ?? '',
    targets: STORM_DEFAULTS.targets,
    concurrency: STORM_DEFAULTS.concurrency,
    durationMs: 10_000,
    workers: STORM_DEFAULTS.workers,
    count: 200_000,
    legacyConfig: false,
  };
  for (let i = 1; i < argv.length; i += 2) {
    if (argv[i] === '--legacy-config') {
      out.legacyConfig = true;
      i--;
      continue;
    }
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${argv[i]} needs a value`);
    switch (argv[i]) {
      case '--targets':
        out.targets = Number(v);
        break;
      case '--concurrency':
        out.concurrency = Number(v);
        break;
      case '--duration':
        out.durationMs = parseDuration(v);
        break;
      case '--workers':
        out.workers = Number(v);
        break;
      case '--count':
        out.count = Number(v);
        break;
      default:
        throw new Error(`unknown option ${argv[i]}`);
    }
  }
  if (!['storm', 'self-loop', 'udp-cost'].includes(out.scenario)) throw new Error('scenario must be storm, self-loop or udp-cost');
  if (!Number.isInteger(out.count) || out.count < 1 || out.count > 2_000_000) throw new Error('--count must be in 1..2000000');
  if (!Number.isInteger(out.targets) || out.targets < 1 || out.targets > 100_000) throw new Error('--targets must be in 1..100000');
  if (!Number.isInteger(out.concurrency) || out.concurrency < 1 || out.concurrency > 256) throw new Error('--concurrency must be in 1..256');
  if (!(out.durationMs > 0) || out.durationMs > 120_000) throw new Error('--duration must be > 0 and at most 2m');
  return out;
}

async function main(argv: readonly string[]): Promise<number> {
  let a;
  try {
    a = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`responder-abuse: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  installChildCleanup((m) => process.stderr.write(m));
  if (a.scenario === 'self-loop') {
    const r = await runSelfLoop(a.durationMs);
    process.stdout.write(
      `self-loop: one forged datagram 127.0.0.1:P -> 127.0.0.1:P, then ${(r.windowMs / 1000).toFixed(0)} s:\n` +
        `  echoes sent ${r.echoes}, rejected{udp,self} ${r.selfRejected ?? 'n/a'}, CPU ${r.cpuSeconds.toFixed(2)} s (${((r.cpuSeconds / r.windowMs) * 1e5).toFixed(0)}% of a core)\n`,
    );
    return 0;
  }
  if (a.scenario === 'udp-cost') {
    const r = await runUdpCost(a.count, a.legacyConfig);
    process.stdout.write(
      `udp-cost: ${r.sent} datagrams from 16 sockets, ${r.echoed} echoed in ${r.wallSeconds.toFixed(2)} s; ` +
        `responder process CPU ${r.cpuSeconds.toFixed(2)} s = ${((r.cpuSeconds / Math.max(1, r.echoed)) * 1e6).toFixed(1)} µs per echo\n`,
    );
    return 0;
  }
  const r = await runScrapeStorm({ targets: a.targets, concurrency: a.concurrency, stormMs: a.durationMs, workers: a.workers });
  process.stdout.write(
    `storm: ${a.targets} targets, /metrics ${(r.scrape.gzipBytes / 1024).toFixed(0)} KiB gzip in ${r.scrape.ms.toFixed(0)} ms; ` +
      `${a.concurrency} concurrent scrapers for ${(a.durationMs / 1000).toFixed(0)} s: ${r.stormScrapes} scrapes, ${r.stormErrors} errors; ` +
      `slowest /healthz during the storm ${r.healthzMaxMs.toFixed(0)} ms; load average ${r.loadAverage}\n` +
      `peers probing the responder every ${STORM_DEFAULTS.peerIntervalMs} ms, timeout ${STORM_DEFAULTS.peerTimeoutMs} ms:\n${r.peerTable}\n`,
  );
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (c) => process.exit(c),
    (e: unknown) => {
      process.stderr.write(`responder-abuse: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}

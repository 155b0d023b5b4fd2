/**
 * How the web port holds up against abusive clients, end to end, on loopback:
 *
 *   node dist/load-tests/web-abuse.js [--targets 10000] [--slow-clients 300] [--idle 3000]
 *        [--hold 20s] [--settle 10s] [--probe-targets 50] [--nofile N] [--workers N] [--web '{"write_timeout":"5s"}']
 *
 * Starts `fleetprobe run` (as a child process, optionally under `prlimit --nofile=N:N`)
 * with N icmp targets on 127.x addresses, an in-process responder, and
 * `--probe-targets` tcp and as many http targets against that responder. Then:
 *  1. slow readers: `--slow-clients` connections send GET /metrics and never read,
 *     held for `--hold`; meanwhile RSS is sampled and a normal scrape (and /healthz)
 *     runs every 2 s; then they close and, after `--settle`, RSS is read again;
 *  2. idle connections: `--idle` connections that send nothing, held for `--hold`;
 *     meanwhile /healthz every second and a normal scrape every 2 s; the tcp/http
 *     probes' counters over that window tell whether probing suffered
 *     (connect_failed and the like).
 * Prints the figures; asserts nothing. Every connection is to 127.0.0.1, every
 * phase is bounded in time, and the children are killed on every exit path.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseDuration } from '../src/values/duration.js';
import { getRequest, openConnections } from './abusive-clients.js';
import { installChildCleanup, sleep, spawnTracked, stopChild, type Tracked } from './child-processes.js';
import { CLI, freePort, writeJson } from './exporter-process.js';
import { LineSplitter } from './exposition-tally.js';
import { getText, timedGet } from './http-client.js';
import { loopbackAddresses } from './loopback-fleet.js';
import { cpuModel, loadAverage1m, parseStatusKb } from './proc-stats.js';

export interface WebAbuseOptions {
  targets: number;
  slowClients: number;
  idle: number;
  holdMs: number;
  settleMs: number;
  probeTargets: number;
  /** Start the exporter with this soft and hard RLIMIT_NOFILE (prlimit); undefined: inherit. */
  nofile?: number;
  workers?: number;
  /** Extra keys of the config's `web:` section (JSON object). */
  web: Record<string, unknown>;
}

export const WEB_ABUSE_USAGE = `usage: node dist/load-tests/web-abuse.js [--targets 10000] [--slow-clients 300] [--idle 3000]
       [--hold 20s] [--settle 10s] [--probe-targets 50] [--nofile N] [--workers N] [--web JSON]
  (loopback only; --hold and --settle at most 5m; counts bounded)`;

const MAX_PHASE_MS = 5 * 60_000;

export function parseWebAbuseArgs(argv: readonly string[]): WebAbuseOptions | 'help' {
  const o: WebAbuseOptions = { targets: 10_000, slowClients: 300, idle: 3000, holdMs: 20_000, settleMs: 10_000, probeTargets: 50, web: {} };
  const int = (flag: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${flag} must be an integer in ${min}..${max}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return 'help';
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value\n${WEB_ABUSE_USAGE}`);
    switch (a) {
      case '--targets':
        o.targets = int(a, v, 0, 100_000);
        break;
      case '--slow-clients':
        o.slowClients = int(a, v, 0, 5000);
        break;
      case '--idle':
        o.idle = int(a, v, 0, 30_000);
        break;
      case '--probe-targets':
        o.probeTargets = int(a, v, 0, 1000);
        break;
      case '--nofile':
        o.nofile = int(a, v, 64, 1 << 20);
        break;
      case '--workers':
        o.workers = int(a, v, 1, 64);
        break;
      case '--hold':
      case '--settle': {
        const ms = parseDuration(v);
        if (!(ms > 0) || ms > MAX_PHASE_MS) throw new Error(`${a} must be > 0 and at most 5m`);
        if (a === '--hold') o.holdMs = ms;
        else o.settleMs = ms;
        break;
      }
      case '--web': {
        const w = JSON.parse(v) as unknown;
        if (w === null || typeof w !== 'object' || Array.isArray(w)) throw new Error('--web must be a JSON object of web.* keys');
        o.web = w as Record<string, unknown>;
        break;
      }
      default:
        throw new Error(`unknown option ${a}\n${WEB_ABUSE_USAGE}`);
    }
  }
  return o;
}

const log = (msg: string): void => {
  process.stderr.write(`${msg}\n`);
};

/** Pages of memory the kernel holds in TCP socket buffers, machine-wide (/proc/net/sockstat "TCP: ... mem N"). */
export function parseSockstatTcpMemPages(text: string): number {
  const m = /^TCP:.*\smem (\d+)/m.exec(text);
  return m ? Number(m[1]) : NaN;
}

function tcpMemBytes(): number {
  try {
    return parseSockstatTcpMemPages(readFileSync('/proc/net/sockstat', 'utf8')) * 4096;
  } catch {
    return NaN;
  }
}

function rssBytes(pid: number): number {
  return parseStatusKb(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS');
}

const mb = (b: number): string => `${(b / 1e6).toFixed(0)} MB`;

interface ScrapeResult {
  status: number | 'error';
  ms: number;
  bytes: number;
  /** Selected samples: "name{labels}" -> value. */
  samples: Map<string, number>;
}

/** Keep only the lines a phase reads: web/self metrics and the tcp/http targets' counters. */
function interesting(line: string): boolean {
  if (line.startsWith('#')) return false;
  if (line.startsWith('promhttp_') || line.startsWith('fleetprobe_http_conn') || line.startsWith('process_')) return true;
  if (line.startsWith('nodejs_external_memory_bytes') || line.startsWith('nodejs_heap_size_used_bytes')) return true;
  return (
    (line.startsWith('fleetprobe_probe_sent_total{') ||
      line.startsWith('fleetprobe_probe_received_total{') ||
      line.startsWith('fleetprobe_probe_timeouts_total{') ||
      line.startsWith('fleetprobe_probe_errors_total{')) &&
    (line.includes('kind="tcp"') || line.includes('kind="http"') || line.includes('kind="icmp"'))
  );
}

async function scrape(baseUrl: string, timeoutMs: number): Promise<ScrapeResult> {
  const samples = new Map<string, number>();
  const split = new LineSplitter((line) => {
    if (!interesting(line)) return;
    const sp = line.lastIndexOf(' ');
    samples.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  });
  const t0 = performance.now();
  try {
    const r = await timedGet(`${baseUrl}/metrics`, { timeoutMs, onText: (s) => split.push(s) });
    split.end();
    return { status: r.status, ms: r.totalMs, bytes: r.bytes, samples };
  } catch {
    return { status: 'error', ms: performance.now() - t0, bytes: 0, samples };
  }
}

/** Sum of the samples whose key starts with `name{` and contains every fragment. */
function sumOf(s: Map<string, number>, name: string, ...fragments: string[]): number {
  let t = 0;
  for (const [k, v] of s) if (k.startsWith(`${name}{`) && fragments.every((f) => k.includes(f))) t += v;
  return t;
}

/** Errors by reason of the targets of `kind` between two scrapes. */
function errorDeltas(before: Map<string, number>, after: Map<string, number>, kind: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    if (!k.startsWith('fleetprobe_probe_errors_total{') || !k.includes(`kind="${kind}"`)) continue;
    const d = v - (before.get(k) ?? 0);
    if (d <= 0) continue;
    const reason = /reason="([^"]*)"/.exec(k)?.[1] ?? '?';
    out[reason] = (out[reason] ?? 0) + d;
  }
  return out;
}

interface Entry {
  name: string;
  kind: 'icmp' | 'tcp' | 'http';
  address?: string;
  url?: string;
}

function probeTargetEntries(n: number, tcpPort: number, httpPort: number): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ name: `c${i}`, kind: 'tcp', address: `127.0.0.1:${tcpPort}` });
    out.push({ name: `h${i}`, kind: 'http', url: `http://127.0.0.1:${httpPort}/v1/ping` });
  }
  return out;
}

interface Periodic {
  scrapes: ScrapeResult[];
  healthOk: number;
  healthFail: number;
  /** Slowest /healthz answer, ms. */
  healthMaxMs: number;
  rssMax: number;
  /** Most kernel TCP buffer memory seen (machine-wide), bytes. */
  tcpMemMax: number;
  stop(): Promise<void>;
}

/** During a phase: RSS every 250 ms, a normal scrape every 2 s, /healthz every 1 s (each one at a time). */
function periodic(baseUrl: string, pid: number): Periodic {
  let running = true;
  const p: Periodic = { scrapes: [], healthOk: 0, healthFail: 0, healthMaxMs: 0, rssMax: 0, tcpMemMax: 0, stop: async () => {} };
  const rssLoop = (async () => {
    while (running) {
      try {
        p.rssMax = Math.max(p.rssMax, rssBytes(pid));
        p.tcpMemMax = Math.max(p.tcpMemMax, tcpMemBytes() || 0);
      } catch {
        /* exited */
      }
      await sleep(250);
    }
  })();
  const scrapeLoop = (async () => {
    while (running) {
      p.scrapes.push(await scrape(baseUrl, 30_000));
      await sleep(2000);
    }
  })();
  const healthLoop = (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        const r = await getText(`${baseUrl}/healthz`, 3000);
        if (r.status === 200) p.healthOk++;
        else p.healthFail++;
      } catch {
        p.healthFail++;
      }
      p.healthMaxMs = Math.max(p.healthMaxMs, performance.now() - t0);
      await sleep(1000);
    }
  })();
  p.stop = async () => {
    running = false;
    await Promise.all([rssLoop, scrapeLoop, healthLoop]);
  };
  return p;
}

function scrapeSummary(s: readonly ScrapeResult[]): string {
  const ok = s.filter((x) => x.status === 200);
  const codes = new Map<string, number>();
  for (const x of s) codes.set(String(x.status), (codes.get(String(x.status)) ?? 0) + 1);
  const times = ok.map((x) => x.ms).sort((a, b) => a - b);
  const t = times.length ? `${times[0].toFixed(0)}–${times[times.length - 1].toFixed(0)} ms (median ${times[Math.floor(times.length / 2)].toFixed(0)})` : '—';
  const seq = s.map((x) => `${x.status}/${x.ms.toFixed(0)}`).join(' ');
  return `${s.length} scrapes (${[...codes].map(([c, n]) => `${c}: ${n}`).join(', ')}), time of the 200s ${t} [status/ms in order: ${seq}]`;
}

async function main(o: WebAbuseOptions): Promise<void> {
  installChildCleanup(log);
  const dir = mkdtempSync(join(tmpdir(), 'fleetprobe-web-abuse-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const [webPort, tcpPort, httpPort] = [await freePort(), await freePort(), await freePort()];
  const icmp: Entry[] = loopbackAddresses(o.targets, 1).map((address, i) => ({ name: `t${i}`, kind: 'icmp', address }));
  const targetsFile = writeJson(dir, 'targets.json', [...icmp, ...probeTargetEntries(o.probeTargets, tcpPort, httpPort)]);
  const config = writeJson(dir, 'config.json', {
    log: { level: 'warn' },
    ...(o.workers ? { workers: o.workers } : {}),
    web: { listen_address: `127.0.0.1:${webPort}`, ...o.web },
    probe_defaults: { interval: '1s', timeout: '1s' },
    target_files: [targetsFile],
    responder: { tcp_echo: `127.0.0.1:${tcpPort}`, http: `127.0.0.1:${httpPort}`, allow_cidrs: ['127.0.0.0/8'] },
  });
  const args = [CLI, 'run', '--config', config];
  const child: Tracked =
    o.nofile === undefined
      ? spawnTracked('fleetprobe', process.execPath, args)
      : spawnTracked('fleetprobe', 'prlimit', [`--nofile=${o.nofile}:${o.nofile}`, '--', process.execPath, ...args]);
  const baseUrl = `http://127.0.0.1:${webPort}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.proc.exitCode !== null) throw new Error(`exporter exited:\n${child.output().slice(-3000)}`);
    try {
      if ((await getText(`${baseUrl}/readyz`, 2000)).status === 200) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`exporter not ready after 120 s:\n${child.output().slice(-3000)}`);
    await sleep(250);
  }
  await sleep(3000);
  const first = await scrape(baseUrl, 60_000);
  log(
    `exporter ready: ${o.targets} icmp + ${o.probeTargets} tcp + ${o.probeTargets} http targets; /metrics ${mb(first.bytes)} in ${first.ms.toFixed(0)} ms; web ${JSON.stringify(o.web)}`,
  );
  const lines: string[] = [];
  lines.push(`machine: ${cpuModel()}, Linux ${release()}, Node ${process.version}; load average at start ${loadAverage1m()}`);
  lines.push(
    `exporter: ${o.targets} icmp targets (+${o.probeTargets} tcp, +${o.probeTargets} http against its own responder), /metrics ${mb(first.bytes)}, fd limit ${o.nofile ?? 'inherited'}, web ${JSON.stringify(o.web)}`,
  );

  if (o.slowClients > 0) {
    const rssBefore = rssBytes(child.pid);
    const slow = await openConnections({ host: '127.0.0.1', port: webPort, count: o.slowClients, request: getRequest('/metrics', `127.0.0.1:${webPort}`) });
    const during = periodic(baseUrl, child.pid);
    await sleep(o.holdMs);
    await during.stop();
    const closedByServer = slow.closedByServer();
    slow.close();
    let rssAfterMin = Infinity;
    const settleEnd = Date.now() + o.settleMs;
    while (Date.now() < settleEnd) {
      rssAfterMin = Math.min(rssAfterMin, rssBytes(child.pid));
      await sleep(250);
    }
    const rssAfter = rssBytes(child.pid);
    const counters = (await scrape(baseUrl, 30_000)).samples;
    lines.push(
      `slow readers: ${slow.opened} opened (${slow.failed} failed), ${closedByServer} reset by the server within ${o.holdMs / 1000} s; ` +
        `RSS before ${mb(rssBefore)}, max during ${mb(during.rssMax)}, ${o.settleMs / 1000} s after closing ${mb(rssAfter)} (min ${mb(rssAfterMin)})`,
    );
    lines.push(
      `  alongside: ${scrapeSummary(during.scrapes)}; /healthz ok ${during.healthOk}, failed ${during.healthFail}, slowest ${during.healthMaxMs.toFixed(0)} ms; ` +
        `kernel TCP buffers (machine-wide) max ${mb(during.tcpMemMax)}`,
    );
    lines.push(
      `  after closing: V8 heap used ${mb(counters.get('nodejs_heap_size_used_bytes') ?? NaN)}, external (Buffers, typed arrays) ${mb(counters.get('nodejs_external_memory_bytes') ?? NaN)}`,
    );
    const web = [...counters].filter(([k, v]) => (k.startsWith('promhttp_') || k.startsWith('fleetprobe_http_conn')) && v !== 0);
    if (web.length > 0) lines.push(`  web counters: ${web.map(([k, v]) => `${k} ${v}`).join('; ')}`);
  }

  if (o.idle > 0) {
    const before = (await scrape(baseUrl, 30_000)).samples;
    const t0 = performance.now();
    const idle = await openConnections({ host: '127.0.0.1', port: webPort, count: o.idle });
    const openedInMs = performance.now() - t0;
    const during = periodic(baseUrl, child.pid);
    await sleep(o.holdMs);
    await during.stop();
    const stillOpen = idle.stillOpen();
    idle.close();
    // Counters are cumulative: read them once the server can answer again (today's code could not while they were open).
    await sleep(2000);
    const after = (await scrape(baseUrl, 30_000)).samples;
    lines.push(
      `idle connections: ${idle.opened} opened in ${(openedInMs / 1000).toFixed(1)} s (${idle.failed} failed), ${stillOpen} still open after ${o.holdMs / 1000} s; ` +
        `/healthz ok ${during.healthOk}, failed ${during.healthFail}, slowest ${during.healthMaxMs.toFixed(0)} ms; ${scrapeSummary(during.scrapes)}`,
    );
    for (const [label, kinds] of [
      ['tcp+http', ['tcp', 'http']],
      ['icmp', ['icmp']],
    ] as const) {
      const d = (name: string): number => kinds.reduce((a, k) => a + sumOf(after, name, `kind="${k}"`) - sumOf(before, name, `kind="${k}"`), 0);
      const errors: Record<string, number> = {};
      for (const k of kinds) for (const [reason, n] of Object.entries(errorDeltas(before, after, k))) errors[reason] = (errors[reason] ?? 0) + n;
      lines.push(
        `  ${label} probes from before opening to 2 s after closing: sent ${d('fleetprobe_probe_sent_total')}, received ${d('fleetprobe_probe_received_total')}, ` +
          `timeouts ${d('fleetprobe_probe_timeouts_total')}, errors ${JSON.stringify(errors)}`,
      );
    }
    const web = [...after].filter(([k, v]) => (k.startsWith('promhttp_') || k.startsWith('fleetprobe_http_conn')) && v !== 0);
    if (web.length > 0) lines.push(`  web counters: ${web.map(([k, v]) => `${k} ${v}`).join('; ')}`);
    const fds = after.get('process_max_fds') ?? NaN;
    lines.push(`  process_max_fds ${fds}, process_open_fds at the end ${after.get('process_open_fds') ?? NaN}`);
  }
  await stopChild(child, 'SIGTERM', 10_000);
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  let opts: WebAbuseOptions | 'help';
  try {
    opts = parseWebAbuseArgs(process.argv.slice(2));
  } catch (e) {
    log((e as Error).message);
    process.exit(2);
  }
  if (opts === 'help') {
    process.stdout.write(`${WEB_ABUSE_USAGE}\n`);
  } else {
    main(opts).then(
      () => process.exit(0),
      (e: Error) => {
        log(`web-abuse failed: ${e.stack ?? e.message}`);
        process.exit(1);
      },
    );
  }
}

/**
 * RTT accuracy on a delayed path: fleetprobe's mean ICMP RTT next to ping's, both
 * probing a user-space responder that answers after a fixed delay (issue 7 item 4).
 *
 * Topology, all inside two network namespaces this script creates and deletes:
 *
 *   ns P (fleetprobe, ping)  10.201.0.1 ──veth── ns R  10.201.0.2 (reply after 5 ms)
 *                                                       10.201.0.3 (reply after 20 ms)
 *
 * In R the kernel's own echo replies are off (net.ipv4.icmp_echo_ignore_all=1 is per
 * namespace) and load-tests/delay-responder.py answers from user space, `delay` after
 * the kernel received each request. fleetprobe (the real CLI, `ip netns exec P`) and
 * `ping -q` (kernel receive timestamps) probe both addresses at about the same rate.
 *
 * How the two are compared, and why:
 *  - The responder answers only inside the measurement window (SIGUSR1 / SIGUSR2), so
 *    the replies fleetprobe counts between its two scrapes and the replies ping
 *    averages are exactly the replies the responder sent in it.
 *  - fleetprobe's mean is rtt_seconds_sum / rtt_seconds_count over the window; ping's
 *    is its summary's avg (exact to 1 µs; the per-reply lines are truncated to 10 or
 *    100 µs at these RTTs).
 *  - A user-space responder holds every request for the delay plus its own wake-up
 *    latency, which on a busy machine is hundreds of µs to ms and is NOT the same for
 *    both probers' requests (measured: fleetprobe's held from 1.1 ms less to 0.4 ms
 *    more than ping's in the same run). The responder logs each reply's hold (the request's kernel receive
 *    stamp to the reply's sendto()), and the last column subtracts each prober's mean
 *    hold: what is left is what the probers themselves measure of the path.
 *  - The clock that timed fleetprobe's RTTs (fleetprobe_worker_icmp_rtt_clock_total)
 *    and the state of its sockets are printed with the figures.
 *
 * `--busy N` adds N CPU spinners (bounded by the run) to make the machine busier.
 * `--cli PATH` runs another build (e.g. an older checkout) for a before/after.
 * Needs root (namespaces, raw sockets). Every process and namespace ends with the run.
 *
 *   node dist/load-tests/rtt-accuracy.js [--duration 60s] [--interval 20ms] [--workers 1] [--busy 2] [--cli bin/fleetprobe.js]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDuration } from '../src/values/duration.js';
import { installChildCleanup, sleep, spawnTracked, stopAll, stopChild, type Tracked } from './child-processes.js';
import { CLI } from './exporter-process.js';
import { loadAverage1m } from './proc-stats.js';

const RESPONDER = fileURLToPath(new URL('../../load-tests/delay-responder.py', import.meta.url));
const SUBNET = '10.201.0';
const PATHS = [
  { name: 'd5', address: `${SUBNET}.2`, delayMs: 5 },
  { name: 'd20', address: `${SUBNET}.3`, delayMs: 20 },
] as const;

interface Args {
  durationMs: number;
  intervalMs: number;
  busy: number;
  cli: string;
  workers: number;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { durationMs: 60_000, intervalMs: 50, busy: 0, cli: CLI, workers: 1 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--duration':
        a.durationMs = parseDuration(v);
        i++;
        break;
      case '--interval':
        a.intervalMs = parseDuration(v);
        i++;
        break;
      case '--busy':
        a.busy = Number(v);
        i++;
        break;
      case '--cli':
        a.cli = v;
        i++;
        break;
      case '--workers':
        a.workers = Number(v);
        i++;
        break;
      case '--help':
        console.log('usage: node dist/load-tests/rtt-accuracy.js [--duration 60s] [--interval 50ms] [--busy N] [--workers 1] [--cli PATH]');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${argv[i]}`);
    }
  }
  if (!(a.durationMs >= 5000 && a.durationMs <= 600_000)) throw new Error('--duration must be 5s..10m');
  if (!(a.intervalMs >= 10 && a.intervalMs <= 1000)) throw new Error('--interval must be 10ms..1s');
  if (!(Number.isInteger(a.busy) && a.busy >= 0 && a.busy <= 8)) throw new Error('--busy must be 0..8');
  return a;
}

function sh(cmd: string, args: readonly string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

/** Two namespaces joined by a veth pair; destroy() deletes both (the veth goes with them). */
function createTopology(tag: string): { p: string; r: string; destroy(): void } {
  const p = `fp-rttp-${tag}`;
  const r = `fp-rttr-${tag}`;
  const destroy = (): void => {
    for (const ns of [p, r]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  };
  destroy();
  try {
    sh('ip', ['netns', 'add', p]);
    sh('ip', ['netns', 'add', r]);
    const va = `fprv${tag}a`.slice(0, 15);
    const vb = `fprv${tag}b`.slice(0, 15);
    sh('ip', ['link', 'add', va, 'netns', p, 'type', 'veth', 'peer', 'name', vb, 'netns', r]);
    const inP = (...a: string[]): string => sh('ip', ['netns', 'exec', p, ...a]);
    const inR = (...a: string[]): string => sh('ip', ['netns', 'exec', r, ...a]);
    inP('ip', 'link', 'set', 'lo', 'up');
    inR('ip', 'link', 'set', 'lo', 'up');
    inP('ip', 'addr', 'add', `${SUBNET}.1/24`, 'dev', va);
    for (const x of PATHS) inR('ip', 'addr', 'add', `${x.address}/24`, 'dev', vb);
    inP('ip', 'link', 'set', va, 'up');
    inR('ip', 'link', 'set', vb, 'up');
  } catch (err) {
    destroy();
    throw err;
  }
  return { p, r, destroy };
}

/** Mean hold of the replies sent in the window (µs) per address, for fleetprobe's requests and ping's. */
interface Holds {
  fleetprobe: number;
  ping: number;
  fleetprobeN: number;
  pingN: number;
}

interface Responder {
  /** Start answering (the window opens). */
  on(): void;
  /** Stop answering (the window closes); the hold log is flushed. */
  off(): void;
  holds(fromSec: number, toSec: number): Map<string, Holds>;
  stop(): Promise<void>;
}

/** The user-space responder in R, silent until on(); the kernel's own echo replies are off. */
async function startResponder(topo: { r: string }, dir: string, totalMs: number): Promise<Responder> {
  sh('ip', ['netns', 'exec', topo.r, 'sysctl', '-q', '-w', 'net.ipv4.icmp_echo_ignore_all=1']);
  const holdLog = join(dir, 'holds.log');
  const responder = spawnTracked('responder', 'ip', [
    'netns',
    'exec',
    topo.r,
    'python3',
    RESPONDER,
    '--duration',
    String(totalMs / 1000),
    '--log',
    holdLog,
    ...PATHS.map((x) => `${x.address}=${x.delayMs}`),
  ]);
  for (let i = 0; i < 100 && !responder.output().includes('ready'); i++) await sleep(50);
  if (!responder.output().includes('ready')) throw new Error(`responder did not start: ${responder.output()}`);
  return {
    // `ip netns exec` execs python in its own process: the pid is the responder's.
    on: () => responder.proc.kill('SIGUSR1'),
    off: () => responder.proc.kill('SIGUSR2'),
    holds: (from, to) => responderHolds(readFileSync(holdLog, 'utf8'), from, to),
    stop: async () => void (await stopChild(responder, 'SIGTERM', 2000)),
  };
}

/** Sum and count of fleetprobe_probe_rtt_seconds per target, and the RTT clock counters, from a scrape. */
interface Scrape {
  sum: Map<string, number>;
  count: Map<string, number>;
  clocks: Map<string, number>;
}

function parseScrape(text: string): Scrape {
  const s: Scrape = { sum: new Map(), count: new Map(), clocks: new Map() };
  for (const line of text.split('\n')) {
    let m = /^fleetprobe_probe_rtt_seconds_(sum|count)\{[^}]*target="([^"]+)"[^}]*\} (\S+)/.exec(line);
    if (m) {
      (m[1] === 'sum' ? s.sum : s.count).set(m[2], Number(m[3]));
      continue;
    }
    m = /^(fleetprobe_worker_icmp_[a-z_]+)\{([^}]*)\} (\S+)/.exec(line);
    if (m) {
      const labels = m[2].replace(/worker="\d+",?/, '');
      const key = `${m[1]}{${labels}}`;
      s.clocks.set(key, (s.clocks.get(key) ?? 0) + Number(m[3]));
    }
  }
  return s;
}

function scrape(ns: string, port: number): Scrape {
  const out = spawnSync('ip', ['netns', 'exec', ns, 'curl', '-sf', '--max-time', '10', `http://127.0.0.1:${port}/metrics`], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (out.status !== 0) throw new Error(`scrape failed: ${out.stderr}`);
  return parseScrape(out.stdout);
}

function pingAvgUs(text: string): { avgUs: number; received: number } {
  const m = /rtt min\/avg\/max\/mdev = [\d.]+\/([\d.]+)\//.exec(text);
  const r = /(\d+) received/.exec(text);
  return { avgUs: m ? Number(m[1]) * 1000 : NaN, received: r ? Number(r[1]) : 0 };
}

/**
 * ping's interval relative to fleetprobe's: at the same interval the two would meet
 * the responder at one relative phase for the whole run; 3% apart, the phase goes
 * round every ~33 intervals.
 */
const PING_INTERVAL_FACTOR = 0.97;

/** ping's identifiers (ping -e): PING_IDENTIFIER_BASE + path index; every other identifier is fleetprobe's. */
const PING_IDENTIFIER_BASE = 0xbee0;

/** Mean time the responder held the replies it sent inside the window (µs), per address, for fleetprobe's identifiers and for ping's. */
function responderHolds(log: string, fromSec: number, toSec: number): Map<string, Holds> {
  const acc = new Map<string, { fp: { n: number; sum: number }; ping: { n: number; sum: number } }>(
    PATHS.map((x) => [x.address, { fp: { n: 0, sum: 0 }, ping: { n: 0, sum: 0 } }]),
  );
  for (const line of log.split('\n')) {
    const [address, id, , rx, sent] = line.split(' ');
    const a = acc.get(address);
    if (a === undefined || sent === undefined || Number(sent) < fromSec || Number(sent) > toSec) continue;
    const ident = Number(id);
    const into = ident >= PING_IDENTIFIER_BASE && ident < PING_IDENTIFIER_BASE + PATHS.length ? a.ping : a.fp;
    into.n++;
    into.sum += (Number(sent) - Number(rx)) * 1e6;
  }
  return new Map(
    [...acc].map(([address, a]) => [address, { fleetprobe: a.fp.sum / a.fp.n, ping: a.ping.sum / a.ping.n, fleetprobeN: a.fp.n, pingN: a.ping.n }]),
  );
}

function spinner(durationMs: number): Tracked {
  // A bounded busy loop: competes for the CPU like other work on a busy machine.
  return spawnTracked('busy', process.execPath, ['-e', `const end = Date.now() + ${durationMs}; while (Date.now() < end) {}`], { ignoreStdout: true });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('needs root: creates network namespaces and raw sockets');
  installChildCleanup((m) => console.error(m));
  const tag = String(process.pid);
  const topo = createTopology(tag);
  const dir = mkdtempSync(join(tmpdir(), 'fleetprobe-rtt-accuracy-'));
  const port = 19_000 + (process.pid % 1000);
  const warmupMs = 3000;
  const timeoutMs = Math.min(1000, 15 * args.intervalMs);
  const totalMs = warmupMs + args.durationMs + 20_000;
  try {
    const path = await startResponder(topo, dir, totalMs);

    const config = {
      log: { level: 'warn' },
      workers: args.workers,
      web: { listen_address: `127.0.0.1:${port}` },
      probe_defaults: { kind: 'icmp', interval: `${args.intervalMs}ms`, timeout: `${timeoutMs}ms` },
      targets: PATHS.map((x) => ({ name: x.name, address: x.address })),
    };
    const cfgPath = join(dir, 'config.json');
    writeFileSync(cfgPath, JSON.stringify(config));
    const exporter = spawnTracked('exporter', 'ip', ['netns', 'exec', topo.p, process.execPath, args.cli, 'run', '--config', cfgPath]);
    let ready = false;
    for (let i = 0; i < 200 && !ready; i++) {
      await sleep(50);
      ready = spawnSync('ip', ['netns', 'exec', topo.p, 'curl', '-sf', '--max-time', '2', `http://127.0.0.1:${port}/readyz`], { stdio: 'ignore' }).status === 0;
    }
    if (!ready) throw new Error(`exporter not ready: ${exporter.output()}`);
    const busy = Array.from({ length: args.busy }, () => spinner(warmupMs + args.durationMs + 5000));
    await sleep(warmupMs);

    // The responder answers only inside the window: both probers' counted replies are
    // then exactly the replies it logged, whatever the scrapes' timing.
    const quietMs = 1500 + timeoutMs;
    const count = Math.ceil((args.durationMs + 2 * quietMs) / (args.intervalMs * PING_INTERVAL_FACTOR));
    const pings = PATHS.map((x, i) =>
      spawnTracked(`ping ${x.name}`, 'ip', [
        'netns',
        'exec',
        topo.p,
        'ping',
        '-q',
        '-n',
        '-e',
        String(PING_IDENTIFIER_BASE + i),
        '-i',
        String((args.intervalMs * PING_INTERVAL_FACTOR) / 1000),
        '-c',
        String(count),
        '-W',
        '1',
        x.address,
      ]),
    );
    await sleep(quietMs);
    const before = scrape(topo.p, port);
    const loadStart = loadAverage1m();
    path.on();
    const windowStart = Date.now() / 1000;
    await sleep(args.durationMs);
    path.off();
    const windowEnd = Date.now() / 1000 + 1;
    await sleep(quietMs);
    const after = scrape(topo.p, port);
    await Promise.all(pings.map((p) => p.exited));
    const loadEnd = loadAverage1m();
    for (const b of busy) await stopChild(b, 'SIGKILL', 1000);
    await stopChild(exporter, 'SIGTERM', 5000);
    await path.stop();

    console.log(
      `rtt-accuracy: ${args.durationMs / 1000} s, ${args.workers} worker(s), interval ${args.intervalMs} ms, ${args.busy} spinner(s), load average ${loadStart.toFixed(2)} → ${loadEnd.toFixed(2)}, cli ${args.cli}`,
    );
    const holds = path.holds(windowStart, windowEnd);
    console.log(
      '| path | delay | fleetprobe mean µs (n) | ping mean µs (n) | fleetprobe − ping µs | responder hold µs: fleetprobe / ping | difference without the hold µs |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const [i, x] of PATHS.entries()) {
      const n = (after.count.get(x.name) ?? 0) - (before.count.get(x.name) ?? 0);
      const sum = (after.sum.get(x.name) ?? 0) - (before.sum.get(x.name) ?? 0);
      const fpMean = (sum / n) * 1e6;
      const ping = pingAvgUs(pings[i].output());
      const h = holds?.get(x.address);
      const raw = fpMean - ping.avgUs;
      const holdCols = h
        ? `${h.fleetprobe.toFixed(1)} (${h.fleetprobeN}) / ${h.ping.toFixed(1)} (${h.pingN}) | ${(raw - (h.fleetprobe - h.ping)).toFixed(1)}`
        : '— | —';
      if (h && (h.fleetprobeN !== n || h.pingN !== ping.received))
        console.log(`  (note: ${x.name}: the responder logged ${h.fleetprobeN} / ${h.pingN} replies, the probers counted ${n} / ${ping.received})`);
      console.log(
        `| ${x.address} | ${x.delayMs} ms | ${fpMean.toFixed(1)} (${n}) | ${ping.avgUs.toFixed(1)} (${ping.received}) | ${raw.toFixed(1)} | ${holdCols} |`,
      );
    }
    if (after.clocks.size > 0) {
      console.log("Which clock timed fleetprobe's RTTs in the window, and its sockets (summed over workers):");
      for (const [k, v] of after.clocks) {
        const delta = k.includes('_total') ? v - (before.clocks.get(k) ?? 0) : v;
        console.log(`  ${k} ${delta}`);
      }
    } else {
      console.log('(this build exports no fleetprobe_worker_icmp_* metrics: which clock timed the RTTs is not visible)');
    }
  } finally {
    await stopAll(2000);
    topo.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

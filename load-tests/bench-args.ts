/**
 * Command line of the capacity/accuracy benchmark (pure parsing, no I/O).
 *
 *   npm run bench -- --targets 1000,10000,50000 --interval 1s --duration 30s
 *                    [--kinds icmp,tcp,tcp_echo,udp,http] [--workers N] ...
 */
import { parseDuration } from '../src/values/duration.js';
import { BENCH_KINDS, type BenchKind } from './loopback-fleet.js';

export interface BenchOptions {
  kinds: BenchKind[];
  /** Target counts per kind, one run each. */
  sizes: Record<BenchKind, number[]>;
  intervalMs: number;
  timeoutMs: number;
  durationMs: number;
  /** Probing before the measured window (JIT, sockets, first batches). */
  warmupMs: number;
  /** Exporter worker threads; undefined: the exporter's default (CPU count). */
  workers: number | undefined;
  /** icmp.socket of the exporter (--icmp-socket); undefined: its default (auto). */
  icmpSocket: 'auto' | 'raw' | 'dgram' | undefined;
  /** Addresses pinged (and whose histograms are compared) per icmp run. */
  pingSamples: number;
  pingCount: number;
  pingIntervalS: number;
  /** Fine RTT bucket width in µs; undefined: 5 µs up to 10k targets, 10 µs above (scrape size). */
  rttStepUs: number | undefined;
  /** Target counts at which fping is run for comparison (icmp only); empty: none. */
  fpingSizes: number[];
  /** Separate responder processes (each its own loopback address) for tcp/tcp_echo/udp/http. */
  responders: number;
  /** Measure /metrics time and size in a separate run with default buckets. */
  scrapePhase: boolean;
  scrapeRepeats: number;
  /** SSE stream clients of the A/B streaming run (0 with grpcStreams 0: no A/B run). */
  streamClients: number;
  /** gRPC Subscribe streams of the A/B streaming run. */
  grpcStreams: number;
  /** Targets each stream client selects, or every target. */
  streamSelect: number | 'all';
  /** A/B pairs per size. */
  abRounds: number;
  /** On-demand udp test run during B (--ondemand-udp COUNT@RATE), or null. */
  ondemandUdp: OnDemandUdpSpec | null;
  /** icmp target counts at which OTLP export's cost is measured after the table (otlp-bench.js); empty: none. */
  otlpSizes: number[];
}

/** COUNT probes at RATE per second: one on-demand udp test. */
export interface OnDemandUdpSpec {
  count: number;
  rate: number;
}

/** The exporter's limits (tests.max_count, tests.max_rate): the option is refused beyond them. */
const ONDEMAND_MAX_COUNT = 1_000_000;
const ONDEMAND_MAX_RATE = 1000;

/** Parse "COUNT@RATE" (e.g. 5000@1000) of --ondemand-udp. */
export function parseOnDemandUdp(flag: string, v: string): OnDemandUdpSpec {
  const m = /^(\d+)@(\d+)$/.exec(v.trim());
  const count = m ? Number(m[1]) : NaN;
  const rate = m ? Number(m[2]) : NaN;
  if (!m || !(count > 0) || !(rate > 0)) throw new Error(`${flag}: expected COUNT@RATE with positive integers (e.g. 5000@1000), got "${v}"`);
  if (count > ONDEMAND_MAX_COUNT) throw new Error(`${flag}: count ${count} is above the exporter's limit ${ONDEMAND_MAX_COUNT} (tests.max_count)`);
  if (rate > ONDEMAND_MAX_RATE) throw new Error(`${flag}: rate ${rate} is above the exporter's limit ${ONDEMAND_MAX_RATE}/s (tests.max_rate)`);
  return { count, rate };
}

/** True when the options ask for the A/B run of loads on top of probing instead of the capacity table. */
export function wantsAbRun(o: BenchOptions): boolean {
  return o.streamClients > 0 || o.grpcStreams > 0 || o.ondemandUdp !== null;
}

export const BENCH_USAGE = `usage: npm run bench -- [options]
  --targets LIST          icmp target counts, e.g. 1000,10000,50000   (default 1000,10000)
  --tcp-targets LIST      tcp (connect) target counts                (default 2000)
  --tcp-echo-targets LIST tcp_echo target counts                     (default 5000)
  --udp-targets LIST      udp target counts                          (default 5000)
  --http-targets LIST     http target counts                         (default 2000)
  --kinds LIST            icmp,tcp,tcp_echo,udp,http                  (default icmp)
  --interval DUR          probe interval                              (default 1s)
  --timeout DUR           probe timeout                               (default 1s)
  --duration DUR          measured window per run                     (default 30s)
  --warmup DUR            probing before the window                   (default 3 intervals, at least 3s)
  --workers N             exporter worker threads                     (default: exporter's own, CPU count)
  --icmp-socket MODE      icmp.socket of the exporter: auto, raw, dgram (default auto; dgram needs the gid in net.ipv4.ping_group_range)
  --ping-samples N        addresses compared with ping per icmp run   (default 5)
  --ping-count N          pings per sample address (ping -c)          (default 200)
  --rtt-step-us N         fine RTT bucket width in µs, divides 1000   (default 5; 10 above 10k targets)
  --fping LIST            target counts to run fping at, or "none"    (default 1000)
  --otlp LIST             after the table, OTLP export cost (CPU added, main-thread lag) at these
                          icmp target counts: otlp-bench.js, http/protobuf and grpc   (default none)
  --responders N          responder processes for tcp/tcp_echo/udp/http (default 2)
  --no-scrape-phase       skip the default-bucket /metrics timing run
  --scrape-repeats N      scrapes per encoding (median reported)      (default 3)
A/B run of live-stream load (instead of the table above; icmp at each --targets size,
without then with the clients, back to back): CPU added, main-thread loop lag, false loss
  --stream-clients N      SSE clients on /api/v1/stream?mode=stream  (default 0)
  --grpc-streams N        gRPC Subscribe STREAM calls                  (default 0)
  --stream-select N|all   targets each client selects (by name)        (default 100)
  --ondemand-udp N@R      during B, one on-demand udp test of N probes at R/s (POST /api/v1/tests)
                          toward a udp echo on loopback; its sent/received/loss and RTT p99 reported
  --ab-rounds N           A/B pairs per size                           (default 1)
Every run is bounded in time; loopback (127.0.0.0/8) only.`;

function positiveInts(flag: string, v: string): number[] {
  const out = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n <= 0))
    throw new Error(`${flag}: expected a comma-separated list of positive integers, got "${v}"`);
  return out;
}

function positiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag}: expected a positive integer, got "${v}"`);
  return n;
}

function nonNegativeInt(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: expected a non-negative integer, got "${v}"`);
  return n;
}

function duration(flag: string, v: string): number {
  try {
    const ms = parseDuration(v);
    if (!(ms > 0)) throw new Error('must be > 0');
    return ms;
  } catch (e) {
    throw new Error(`${flag}: ${(e as Error).message}`, { cause: e });
  }
}

/** Parse argv (without node and script). Throws Error with a message for the user; `help` asks for usage. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions | 'help' {
  const o: BenchOptions = {
    kinds: ['icmp'],
    sizes: { icmp: [1000, 10000], tcp: [2000], tcp_echo: [5000], udp: [5000], http: [2000] },
    intervalMs: 1000,
    timeoutMs: 1000,
    durationMs: 30_000,
    warmupMs: NaN,
    workers: undefined,
    icmpSocket: undefined,
    pingSamples: 5,
    pingCount: 200,
    pingIntervalS: 0.01,
    rttStepUs: undefined,
    fpingSizes: [1000],
    responders: 2,
    scrapePhase: true,
    scrapeRepeats: 3,
    streamClients: 0,
    grpcStreams: 0,
    streamSelect: 100,
    abRounds: 1,
    ondemandUdp: null,
    otlpSizes: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--no-scrape-phase') {
      o.scrapePhase = false;
      continue;
    }
    // Both "--flag value" and "--flag=value".
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (!flag.startsWith('--')) throw new Error(`unexpected argument "${arg}"`);
    if (value === undefined) throw new Error(`${flag} needs a value`);
    switch (flag) {
      case '--targets':
        o.sizes.icmp = positiveInts(flag, value);
        break;
      case '--tcp-targets':
        o.sizes.tcp = positiveInts(flag, value);
        break;
      case '--tcp-echo-targets':
        o.sizes.tcp_echo = positiveInts(flag, value);
        break;
      case '--udp-targets':
        o.sizes.udp = positiveInts(flag, value);
        break;
      case '--http-targets':
        o.sizes.http = positiveInts(flag, value);
        break;
      case '--kinds': {
        const kinds = value
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
        const bad = kinds.filter((k) => !(BENCH_KINDS as readonly string[]).includes(k));
        if (kinds.length === 0 || bad.length > 0)
          throw new Error(`--kinds: unknown kind(s) ${bad.join(', ') || '(none)'}; choose from ${BENCH_KINDS.join(', ')}`);
        o.kinds = [...new Set(kinds)] as BenchKind[];
        break;
      }
      case '--interval':
        o.intervalMs = duration(flag, value);
        break;
      case '--timeout':
        o.timeoutMs = duration(flag, value);
        break;
      case '--duration':
        o.durationMs = duration(flag, value);
        break;
      case '--warmup':
        o.warmupMs = duration(flag, value);
        break;
      case '--workers':
        o.workers = positiveInt(flag, value);
        break;
      case '--icmp-socket':
        if (value !== 'auto' && value !== 'raw' && value !== 'dgram') throw new Error(`--icmp-socket must be auto, raw or dgram, got ${value}`);
        o.icmpSocket = value;
        break;
      case '--ping-samples':
        o.pingSamples = positiveInt(flag, value);
        break;
      case '--ping-count':
        o.pingCount = positiveInt(flag, value);
        break;
      case '--rtt-step-us':
        o.rttStepUs = positiveInt(flag, value);
        if (1000 % o.rttStepUs !== 0) throw new Error(`--rtt-step-us: ${value} must divide 1000`);
        break;
      case '--fping':
        o.fpingSizes = value === 'none' ? [] : positiveInts(flag, value);
        break;
      case '--otlp':
        o.otlpSizes = value === 'none' ? [] : positiveInts(flag, value);
        break;
      case '--responders':
        o.responders = positiveInt(flag, value);
        if (o.responders > 250) throw new Error('--responders: at most 250 (one loopback address each)');
        break;
      case '--scrape-repeats':
        o.scrapeRepeats = positiveInt(flag, value);
        break;
      case '--stream-clients':
        o.streamClients = nonNegativeInt(flag, value);
        break;
      case '--grpc-streams':
        o.grpcStreams = nonNegativeInt(flag, value);
        break;
      case '--stream-select':
        o.streamSelect = value === 'all' ? 'all' : positiveInt(flag, value);
        break;
      case '--ondemand-udp':
        o.ondemandUdp = parseOnDemandUdp(flag, value);
        break;
      case '--ab-rounds':
        o.abRounds = positiveInt(flag, value);
        break;
      default:
        throw new Error(`unknown option ${flag}\n${BENCH_USAGE}`);
    }
  }
  if (Number.isNaN(o.warmupMs)) o.warmupMs = Math.max(3000, 3 * o.intervalMs);
  if (wantsAbRun(o)) {
    if (o.kinds.length !== 1 || o.kinds[0] !== 'icmp') throw new Error('--stream-clients/--grpc-streams/--ondemand-udp run icmp targets only (drop --kinds)');
  }
  return o;
}

/** The fine bucket width for a run of `targets` targets. */
export function rttStepFor(o: BenchOptions, targets: number): number {
  return o.rttStepUs ?? (targets > 10_000 ? 10 : 5);
}

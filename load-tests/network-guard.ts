/**
 * Node stand-in for k6/network-guard.js (k6 is not installable here): a bounded HTTP load
 * toward a system under test, with an on-demand fleetprobe test toward it started before
 * and read after; exits 1 when the loss or the RTT p99 broke its threshold.
 *
 *   node dist/load-tests/network-guard.js --fleetprobe http://127.0.0.1:9798 --sut http://127.0.0.1:9800/v1/ping
 *        (--target NAME | --address 127.0.0.1 [--kind icmp]) [--interval-ms 100] [--duration 30s]
 *        [--concurrency 4] [--max-loss 0.01] [--max-rtt-p99-ms 50] [--token-file F]
 *
 * Prints one JSON object: the load's requests and failures and the test's result.
 * Loopback only; bounded in time (duration at most 10 min) and requests (1,000,000).
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { parseDuration } from '../src/values/duration.js';
import { isLoopbackUrl } from './scrape-load.js';
import { apiToken, isLoopbackAddress, OnDemandClient, type OnDemandTestView } from './ondemand-client.js';

export interface NetworkGuardOptions {
  fleetprobe: string;
  sut: string;
  target: string | undefined;
  address: string;
  kind: string;
  intervalMs: number;
  durationMs: number;
  concurrency: number;
  maxLoss: number;
  maxRttP99Ms: number;
  tokenFile: string | undefined;
}

const MAX_REQUESTS = 1_000_000;

export function parseNetworkGuardArgs(argv: string[]): NetworkGuardOptions {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      fleetprobe: { type: 'string', default: 'http://127.0.0.1:9798' },
      sut: { type: 'string', default: 'http://127.0.0.1:9800/v1/ping' },
      target: { type: 'string' },
      address: { type: 'string', default: '127.0.0.1' },
      kind: { type: 'string', default: 'icmp' },
      'interval-ms': { type: 'string', default: '100' },
      duration: { type: 'string', default: '30s' },
      concurrency: { type: 'string', default: '4' },
      'max-loss': { type: 'string', default: '0.01' },
      'max-rtt-p99-ms': { type: 'string', default: '50' },
      'token-file': { type: 'string' },
    },
  });
  const o: NetworkGuardOptions = {
    fleetprobe: v.fleetprobe.replace(/\/+$/, ''),
    sut: v.sut,
    target: v.target,
    address: v.address,
    kind: v.kind,
    intervalMs: Number(v['interval-ms']),
    durationMs: parseDuration(v.duration),
    concurrency: Number(v.concurrency),
    maxLoss: Number(v['max-loss']),
    maxRttP99Ms: Number(v['max-rtt-p99-ms']),
    tokenFile: v['token-file'],
  };
  for (const [flag, url] of [
    ['--fleetprobe', o.fleetprobe],
    ['--sut', o.sut],
  ] as const)
    if (!isLoopbackUrl(url)) throw new Error(`${flag} must be a loopback http URL, got ${url}`);
  if (!isLoopbackAddress(o.address)) throw new Error(`--address must be on loopback, got ${o.address}`);
  if (!(o.intervalMs >= 10 && o.intervalMs <= 60_000)) throw new Error('--interval-ms must be 10..60000');
  if (!(o.durationMs > 0 && o.durationMs <= 600_000)) throw new Error('--duration must be > 0 and at most 10m');
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1 || o.concurrency > 64) throw new Error('--concurrency must be an integer in 1..64');
  if (!(o.maxLoss >= 0 && o.maxLoss <= 1)) throw new Error('--max-loss must be a ratio 0..1');
  if (!(o.maxRttP99Ms >= 0)) throw new Error('--max-rtt-p99-ms must be >= 0');
  return o;
}

export interface NetworkGuardReport {
  load: { requests: number; failed: number };
  test: OnDemandTestView | null;
  /** Why the run fails; empty: it passes. */
  failures: string[];
}

/** The thresholds applied to a test's result (what k6's teardown checks). */
export function judge(test: OnDemandTestView | null, maxLoss: number, maxRttP99Ms: number): string[] {
  if (!test || test.state !== 'done' || !test.result) return [`the on-demand test did not finish: ${test ? test.state : 'no answer'}`];
  const out: string[] = [];
  const r = test.result;
  if (r.loss_ratio > maxLoss) out.push(`loss ${r.loss_ratio} above --max-loss ${maxLoss}`);
  const p99Ms = r.rtt_seconds.p99 === null ? null : r.rtt_seconds.p99 * 1000;
  if (p99Ms === null || p99Ms > maxRttP99Ms) out.push(`RTT p99 ${p99Ms} ms above --max-rtt-p99-ms ${maxRttP99Ms}`);
  return out;
}

export async function runNetworkGuard(o: NetworkGuardOptions): Promise<NetworkGuardReport> {
  const client = new OnDemandClient(o.fleetprobe, apiToken(o.tokenFile));
  const count = Math.max(1, Math.floor(o.durationMs / o.intervalMs));
  // A timeout may span at most 15 intervals (fleetprobe's rule for every target): 10, at most 1 s.
  const common = { count, interval: `${o.intervalMs}ms`, timeout: `${Math.min(1000, o.intervalMs * 10)}ms`, tags: { source: 'network-guard' } };
  const started = await client.start(o.target ? { target: o.target, ...common } : { address: o.address, kind: o.kind, ...common });
  if (started.id === null) throw new Error(`fleetprobe refused the on-demand test: ${started.status} ${started.text}`);
  const load = { requests: 0, failed: 0 };
  const deadline = performance.now() + o.durationMs;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline && load.requests < MAX_REQUESTS) {
      load.requests++;
      try {
        const res = await fetch(o.sut, { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        if (res.status !== 200) load.failed++;
      } catch {
        load.failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, loop));
  const test = await client.waitEnded(started.id, 60_000);
  return { load, test, failures: judge(test, o.maxLoss, o.maxRttP99Ms) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const report = await runNetworkGuard(parseNetworkGuardArgs(process.argv.slice(2)));
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    for (const f of report.failures) process.stderr.write(`network-guard: ${f}\n`);
    process.exitCode = report.failures.length === 0 ? 0 : 1;
  } catch (e) {
    process.stderr.write(`network-guard: ${(e as Error).message}\n`);
    process.exitCode = 2;
  }
}

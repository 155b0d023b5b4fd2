/**
 * Node stand-in for k6/ondemand-api-load.js: new on-demand tests at a fixed rate (each
 * read until it ends, then the list), and clients reading the live stream in `once` mode,
 * for a bounded duration. A 429 is counted as a refusal at the concurrency limit, not as
 * an error: beyond it fleetprobe must refuse, not queue.
 *
 *   node dist/load-tests/ondemand-api-load.js --url http://127.0.0.1:9798 [--address 127.0.0.1] [--kind icmp]
 *        [--tests-per-s 5] [--stream-clients 4] [--stream-target NAME] [--duration 30s] [--token-file F]
 *
 * Prints one JSON object: per endpoint the requests, errors and latency p50/p99 (ms), and
 * the tests started, refused (429) and ended by state. Loopback only; duration at most 10 min.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { parseDuration } from '../src/values/duration.js';
import { isLoopbackUrl } from './scrape-load.js';
import { apiToken, isLoopbackAddress, OnDemandClient } from './ondemand-client.js';
import { percentile } from './quantiles.js';

export interface OnDemandLoadOptions {
  url: string;
  address: string;
  kind: string;
  testsPerS: number;
  streamClients: number;
  streamTarget: string | undefined;
  durationMs: number;
  tokenFile: string | undefined;
}

export function parseOnDemandLoadArgs(argv: string[]): OnDemandLoadOptions {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:9798' },
      address: { type: 'string', default: '127.0.0.1' },
      kind: { type: 'string', default: 'icmp' },
      'tests-per-s': { type: 'string', default: '5' },
      'stream-clients': { type: 'string', default: '4' },
      'stream-target': { type: 'string' },
      duration: { type: 'string', default: '30s' },
      'token-file': { type: 'string' },
    },
  });
  const o: OnDemandLoadOptions = {
    url: v.url.replace(/\/+$/, ''),
    address: v.address,
    kind: v.kind,
    testsPerS: Number(v['tests-per-s']),
    streamClients: Number(v['stream-clients']),
    streamTarget: v['stream-target'],
    durationMs: parseDuration(v.duration),
    tokenFile: v['token-file'],
  };
  if (!isLoopbackUrl(o.url)) throw new Error(`--url must be a loopback http URL, got ${o.url}`);
  if (!isLoopbackAddress(o.address)) throw new Error(`--address must be on loopback, got ${o.address}`);
  if (!(o.testsPerS >= 1 && o.testsPerS <= 200)) throw new Error('--tests-per-s must be 1..200');
  if (!Number.isInteger(o.streamClients) || o.streamClients < 0 || o.streamClients > 64) throw new Error('--stream-clients must be an integer in 0..64');
  if (!(o.durationMs > 0 && o.durationMs <= 600_000)) throw new Error('--duration must be > 0 and at most 10m');
  return o;
}

interface EndpointStats {
  latenciesMs: number[];
  errors: number;
}

export interface OnDemandLoadReport {
  endpoints: Record<string, { requests: number; errors: number; p50_ms: number | null; p99_ms: number | null }>;
  tests: { started: number; refused_429: number; ended: Record<string, number> };
}

export async function runOnDemandLoad(o: OnDemandLoadOptions): Promise<OnDemandLoadReport> {
  const token = apiToken(o.tokenFile);
  const client = new OnDemandClient(o.url, token);
  const stats: Record<string, EndpointStats> = {
    tests_start: { latenciesMs: [], errors: 0 },
    tests_get: { latenciesMs: [], errors: 0 },
    stream_once: { latenciesMs: [], errors: 0 },
  };
  const tests = { started: 0, refused_429: 0, ended: {} as Record<string, number> };
  const timed = async <T>(name: string, fn: () => Promise<T>, ok: (v: T) => boolean): Promise<T | null> => {
    const t0 = performance.now();
    try {
      const v = await fn();
      if (ok(v)) stats[name].latenciesMs.push(performance.now() - t0);
      else stats[name].errors++;
      return v;
    } catch {
      stats[name].errors++;
      return null;
    }
  };
  const deadline = performance.now() + o.durationMs;
  const inFlight: Promise<void>[] = [];
  const oneTest = async (): Promise<void> => {
    const body = { address: o.address, kind: o.kind, count: 5, interval: '20ms', timeout: '200ms', tags: { source: 'ondemand-api-load' } };
    const s = await timed(
      'tests_start',
      () => client.start(body),
      (r) => r.status === 202 || r.status === 429,
    );
    if (!s || s.id === null) {
      if (s?.status === 429) tests.refused_429++;
      return;
    }
    tests.started++;
    const t = await timed(
      'tests_get',
      () => client.waitEnded(s.id!, 30_000, 100),
      (v) => v !== null && v.state !== 'running',
    );
    const state = t?.state ?? 'unknown';
    tests.ended[state] = (tests.ended[state] ?? 0) + 1;
  };
  const arrivals = (async () => {
    const gapMs = 1000 / o.testsPerS;
    for (let next = performance.now(); next < deadline; next += gapMs) {
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
      inFlight.push(oneTest());
    }
  })();
  const select = o.streamTarget ? `&target=${encodeURIComponent(o.streamTarget)}` : '';
  const streamLoop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      await timed(
        'stream_once',
        async () => {
          const res = await fetch(`${o.url}/api/v1/stream?mode=once${select}`, {
            headers: token ? { authorization: `Bearer ${token}` } : {},
            signal: AbortSignal.timeout(10_000),
          });
          return { status: res.status, text: await res.text() };
        },
        (r) => r.status === 200 && r.text.includes('data:'),
      );
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  await Promise.all([arrivals, ...Array.from({ length: o.streamClients }, streamLoop)]);
  await Promise.all(inFlight);
  const endpoints: OnDemandLoadReport['endpoints'] = {};
  for (const [name, s] of Object.entries(stats)) {
    const l = s.latenciesMs;
    endpoints[name] = {
      requests: l.length + s.errors,
      errors: s.errors,
      p50_ms: l.length ? percentile(l, 0.5) : null,
      p99_ms: l.length ? percentile(l, 0.99) : null,
    };
  }
  return { endpoints, tests };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const report = await runOnDemandLoad(parseOnDemandLoadArgs(process.argv.slice(2)));
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } catch (e) {
    process.stderr.write(`ondemand-api-load: ${(e as Error).message}\n`);
    process.exitCode = 2;
  }
}

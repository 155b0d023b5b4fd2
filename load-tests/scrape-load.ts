/**
 * Bounded concurrent scrapes of a running exporter's HTTP endpoints, the Node
 * stand-in for k6/metrics-scrape.js where k6 is not installed:
 *
 *   node dist/load-tests/scrape-load.js --url http://127.0.0.1:9798 [--concurrency 4]
 *        [--duration 30s] [--paths /metrics,/api/v1/targets] [--gzip] [--max-requests 100000]
 *
 * Each of `concurrency` loops sends one request at a time over a keep-alive agent,
 * round-robin over the paths, until the duration or the request cap is reached.
 * Prints per path: requests, errors (non-200 or failed), latency p50/p90/p99/max,
 * req/s and MB/s. Loopback URLs only; bounded in time and count.
 */
import { Agent } from 'node:http';
import { pathToFileURL } from 'node:url';
import { parseDuration } from '../src/values/duration.js';
import { timedGet } from './http-client.js';
import { percentile } from './quantiles.js';

export interface ScrapeLoadOptions {
  url: string;
  concurrency: number;
  durationMs: number;
  paths: string[];
  gzip: boolean;
  maxRequests: number;
}

const MAX_DURATION_MS = 10 * 60_000;

export const SCRAPE_LOAD_USAGE = `usage: node dist/load-tests/scrape-load.js --url http://127.0.0.1:PORT [--concurrency 4] [--duration 30s]
       [--paths /metrics,/api/v1/targets] [--gzip] [--max-requests 100000]   (loopback only; duration at most 10m)`;

/** True for http://127.x.y.z[:port], http://localhost[:port] and http://[::1][:port]. */
export function isLoopbackUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:') return false;
  const h = u.hostname;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === 'localhost' || h === '[::1]';
}

export function parseScrapeLoadArgs(argv: readonly string[]): ScrapeLoadOptions | 'help' {
  const o: ScrapeLoadOptions = { url: '', concurrency: 4, durationMs: 30_000, paths: ['/metrics', '/api/v1/targets'], gzip: false, maxRequests: 100_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--gzip') {
      o.gzip = true;
      continue;
    }
    const v = argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    switch (a) {
      case '--url':
        o.url = v.replace(/\/+$/, '');
        break;
      case '--concurrency':
        o.concurrency = Number(v);
        break;
      case '--duration':
        o.durationMs = parseDuration(v);
        break;
      case '--paths':
        o.paths = v
          .split(',')
          .map((p) => p.trim())
          .filter((p) => p !== '');
        break;
      case '--max-requests':
        o.maxRequests = Number(v);
        break;
      default:
        throw new Error(`unknown option ${a}\n${SCRAPE_LOAD_USAGE}`);
    }
  }
  if (!o.url) throw new Error(`--url is required\n${SCRAPE_LOAD_USAGE}`);
  if (!isLoopbackUrl(o.url)) throw new Error(`--url must be a loopback http URL (127.0.0.0/8, localhost, [::1]); got ${o.url}`);
  if (!Number.isInteger(o.concurrency) || o.concurrency < 1 || o.concurrency > 256) throw new Error('--concurrency must be an integer in 1..256');
  if (!(o.durationMs > 0) || o.durationMs > MAX_DURATION_MS) throw new Error('--duration must be > 0 and at most 10m');
  if (!Number.isInteger(o.maxRequests) || o.maxRequests < 1) throw new Error('--max-requests must be a positive integer');
  if (o.paths.length === 0 || o.paths.some((p) => !p.startsWith('/'))) throw new Error('--paths must be a comma-separated list of paths starting with /');
  return o;
}

interface PathStats {
  latenciesMs: number[];
  errors: number;
  bytes: number;
  lastError?: string;
}

export async function runScrapeLoad(o: ScrapeLoadOptions): Promise<Map<string, PathStats>> {
  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency });
  const stats = new Map<string, PathStats>(o.paths.map((p) => [p, { latenciesMs: [], errors: 0, bytes: 0 }]));
  const deadline = performance.now() + o.durationMs;
  let issued = 0;
  const loop = async (id: number): Promise<void> => {
    let k = id;
    while (performance.now() < deadline && issued < o.maxRequests) {
      issued++;
      const path = o.paths[k++ % o.paths.length];
      const s = stats.get(path)!;
      const t0 = performance.now();
      try {
        // Never wait past the deadline by more than a request timeout.
        const r = await timedGet(`${o.url}${path}`, { agent, gzip: o.gzip, timeoutMs: Math.max(5_000, deadline - t0 + 5_000) });
        s.bytes += r.bytes;
        if (r.status === 200) s.latenciesMs.push(r.totalMs);
        else {
          s.errors++;
          s.lastError = `HTTP ${r.status}`;
        }
      } catch (e) {
        s.errors++;
        s.lastError = (e as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, i) => loop(i)));
  agent.destroy();
  return stats;
}

export function formatScrapeLoad(o: ScrapeLoadOptions, stats: Map<string, PathStats>, elapsedMs: number): string {
  const f = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '—');
  const lines = [
    `scrape-load: ${o.url} concurrency ${o.concurrency}, ${(elapsedMs / 1000).toFixed(1)} s${o.gzip ? ', gzip' : ''}`,
    '| path | ok | errors | p50 ms | p90 ms | p99 ms | max ms | req/s | MB/s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [path, s] of stats) {
    const l = s.latenciesMs;
    const s_ = elapsedMs / 1000;
    lines.push(
      `| ${path} | ${l.length} | ${s.errors} | ${f(percentile(l, 0.5))} | ${f(percentile(l, 0.9))} | ${f(percentile(l, 0.99))} | ${f(l.length ? Math.max(...l) : NaN)} | ${f((l.length + s.errors) / s_)} | ${f(s.bytes / 2 ** 20 / s_)} |`,
    );
    if (s.lastError) lines.push(`  last error on ${path}: ${s.lastError}`);
  }
  return lines.join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  let o: ScrapeLoadOptions | 'help';
  try {
    o = parseScrapeLoadArgs(argv);
  } catch (e) {
    process.stderr.write(`scrape-load: ${(e as Error).message}\n`);
    return 2;
  }
  if (o === 'help') {
    process.stdout.write(`${SCRAPE_LOAD_USAGE}\n`);
    return 0;
  }
  const t0 = performance.now();
  const stats = await runScrapeLoad(o);
  process.stdout.write(`${formatScrapeLoad(o, stats, performance.now() - t0)}\n`);
  let errors = 0;
  for (const s of stats.values()) errors += s.errors;
  return errors > 0 ? 1 : 0;
}

// Run only as a script, so tests can import the parsers.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (c) => process.exit(c),
    (e: unknown) => {
      process.stderr.write(`scrape-load: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}

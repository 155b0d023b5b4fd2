/**
 * The real CLI (`node bin/fleetprobe.js ...`) as a child process, optionally inside a
 * network namespace (`ip netns exec NS node ...`: `ip` setns()es and then execs, so
 * the child's pid is node's own and signals reach it directly), plus small HTTP and
 * /metrics helpers that work from inside a namespace too (a namespace's loopback is
 * unreachable from the root namespace, so there the request runs in a node child
 * started with `ip netns exec`).
 *
 * Everything is bounded: every wait has a deadline, and stop() escalates to SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { inspect } from 'node:util';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequestRaw } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { stringify as toYaml } from 'yaml';
import { parsePrometheusText, type ParsedExposition, type Sample } from '../../src/metrics/text-parse.js';

/** Repository root (this file runs as dist/test/helpers/exporter-process.js). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI_PATH = join(REPO_ROOT, 'bin', 'fleetprobe.js');

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
/** Skip reason for tests that open raw ICMP sockets, or false. */
export const NEEDS_ROOT: string | false = isRoot ? false : 'needs root / CAP_NET_RAW: the exporter probes ICMP over raw sockets';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it returns a value other than undefined/false, or throw after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `; last error: ${(lastErr as Error).message ?? inspect(lastErr)}` : ''}`);
    }
    await sleep(everyMs);
  }
}

/** A temporary directory removed by `cleanup()` (call it from an after hook). */
/**
 * Where to make a directory another (unprivileged) uid must read: os.tmpdir() when every
 * directory above it lets others through, else /tmp. CI points TMPDIR at a private
 * (0700) directory, which a process that dropped to another uid cannot enter.
 */
export function tmpdirOthersCanEnter(): string {
  const base = tmpdir();
  for (let dir = base; ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return '/tmp';
    if (dirname(dir) === dir) return base;
  }
}

/**
 * A temporary directory with file() to write into it. `forOtherUsers`: made 0755 in a
 * place every uid can enter (see tmpdirOthersCanEnter), for a test that drops privileges.
 */
export function tempDir(
  prefix: string,
  opts: { forOtherUsers?: boolean } = {},
): { path: string; file(name: string, content: string | object): string; cleanup(): void } {
  const path = mkdtempSync(join(opts.forOtherUsers ? tmpdirOthersCanEnter() : tmpdir(), `${prefix}-`));
  if (opts.forOtherUsers) chmodSync(path, 0o755);
  return {
    path,
    file(name, content) {
      const p = join(path, name);
      writeFileSync(p, typeof content === 'string' ? content : name.endsWith('.json') ? JSON.stringify(content, null, 2) : toYaml(content));
      return p;
    },
    cleanup() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** Run inside this network namespace (needs root). */
  netns?: string;
  env?: Record<string, string>;
  /** How to run node (default [process.execPath]), e.g. ['setpriv', ..., '/path/to/node']. */
  runner?: readonly string[];
  /**
   * A command that execs the node command line after it, e.g. ['prlimit', '--nofile=1024:1024', '--']
   * (it must exec, so the child's pid stays node's own). Not with `netns`.
   */
  wrap?: readonly string[];
}

function spawnCli(args: readonly string[], opts: SpawnOptions): ChildProcess {
  const run = [...(opts.wrap ?? []), ...(opts.runner ?? [process.execPath]), CLI_PATH, ...args];
  const [cmd, argv] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, ...run]] : [run[0], run.slice(1)];
  return spawn(cmd, argv, { cwd: REPO_ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Run the CLI to completion (killed with SIGKILL after `timeoutMs`). */
export function runCli(args: readonly string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, opts);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A running `fleetprobe run` child. */
export class ExporterProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly netns: string | undefined;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  exit: Exit | null = null;

  /** `listen` is the host:port given to --web.listen-address (the config may also set it). */
  constructor(args: readonly string[], listen: string, opts: SpawnOptions = {}) {
    this.netns = opts.netns;
    this.url = `http://${listen}`;
    this.child = spawnCli(args, opts);
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.child.once('error', (err) => {
        this.stderr += `spawn error: ${err.message}\n`;
        this.exit = { code: null, signal: null };
        resolve(this.exit);
      });
    });
  }

  /** The last lines of the child's output, for assertion messages. */
  tail(lines = 30): string {
    const cut = (s: string) => s.split('\n').slice(-lines).join('\n');
    return `--- stdout ---\n${cut(this.stdout)}\n--- stderr ---\n${cut(this.stderr)}`;
  }

  request(path: string, opts: Omit<HttpRequestOptions, 'netns'> = {}): Promise<HttpResponse> {
    return httpRequest(this.url + path, { ...opts, netns: this.netns });
  }

  scrape(): Promise<Metrics> {
    return scrapeMetrics(this.url + '/metrics', { netns: this.netns });
  }

  /** Wait until /readyz answers 200; fails at once (with the output) if the child exits. */
  async waitReady(timeoutMs = 15_000): Promise<void> {
    let exitedEarly = false;
    const ready = waitFor(
      `${this.url}/readyz to answer 200`,
      // Once the child is gone, stop polling (the race below reports the exit).
      async () => exitedEarly || (await this.request('/readyz', { timeoutMs: 1000 })).status === 200,
      timeoutMs,
    );
    const early = this.exited.then((exit) => {
      exitedEarly = true;
      return exit;
    });
    const first = await Promise.race([ready.then(() => null), early]).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.tail()}`);
    });
    if (first !== null) throw new Error(`exporter exited before it was ready (${JSON.stringify(first)})\n${this.tail()}`);
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.exit) this.child.kill(sig);
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the exit and how long it took. */
  async stop(timeoutMs = 5000): Promise<Exit & { ms: number; killed: boolean }> {
    const t0 = Date.now();
    if (this.exit) return { ...this.exit, ms: 0, killed: false };
    this.child.kill('SIGTERM');
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      this.child.kill('SIGKILL');
    }, timeoutMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return { ...exit, ms: Date.now() - t0, killed };
  }
}

export interface HttpRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  netns?: string;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  /** The body as received (not decompressed). */
  body: Buffer;
  text(): string;
}

function response(status: number, headers: Record<string, string>, body: Buffer): HttpResponse {
  return { status, headers, body, text: () => body.toString('utf8') };
}

/** One request with node:http (no automatic decompression, unlike fetch). */
function directRequest(url: string, opts: HttpRequestOptions): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequestRaw(url, { method: opts.method ?? 'GET', headers: opts.headers, timeout: opts.timeoutMs ?? 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve(response(res.statusCode ?? 0, headers, Buffer.concat(chunks)));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}

/** The same request made by a node child inside the namespace; it prints JSON we parse. */
const NETNS_REQUEST_SCRIPT = `
import { request } from 'node:http';
const [url, optsJson] = process.argv.slice(1);
const o = JSON.parse(optsJson);
const req = request(url, { method: o.method ?? 'GET', headers: o.headers, timeout: o.timeoutMs ?? 5000 }, (res) => {
  const chunks = [];
  res.on('data', (c) => chunks.push(c));
  res.on('end', () => process.stdout.write(JSON.stringify({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('base64') })));
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (e) => { process.stderr.write(String(e.message)); process.exitCode = 1; });
if (o.body !== undefined) req.end(o.body); else req.end();
`;

async function netnsRequest(url: string, opts: HttpRequestOptions): Promise<HttpResponse> {
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(
      'ip',
      ['netns', 'exec', opts.netns!, process.execPath, '--input-type=module', '-e', NETNS_REQUEST_SCRIPT, url, JSON.stringify({ ...opts, netns: undefined })],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), (opts.timeoutMs ?? 5000) + 5000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  if (out.code !== 0) throw new Error(`request to ${url} in netns ${opts.netns} failed: ${out.stderr.trim() || `exit ${out.code}`}`);
  const j = JSON.parse(out.stdout) as { status: number; headers: Record<string, string | string[]>; body: string };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(j.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  return response(j.status, headers, Buffer.from(j.body, 'base64'));
}

export function httpRequest(url: string, opts: HttpRequestOptions = {}): Promise<HttpResponse> {
  return opts.netns ? netnsRequest(url, opts) : directRequest(url, opts);
}

/** A parsed scrape with lookups by name and label subset. */
export class Metrics {
  constructor(
    readonly parsed: ParsedExposition,
    readonly raw: string,
  ) {}

  /** Samples of `name` whose labels include every pair of `labels`. */
  find(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.parsed.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }

  /** The one sample's value, or undefined when absent; throws when several match. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const m = this.find(name, labels);
    if (m.length > 1) throw new Error(`${m.length} samples of ${name} match ${JSON.stringify(labels)}`);
    return m[0]?.value;
  }

  /** Sum over every matching sample (0 when none). */
  sum(name: string, labels: Record<string, string> = {}): number {
    return this.find(name, labels).reduce((a, s) => a + s.value, 0);
  }

  /** Distinct values of label `label` over the samples of `name`. */
  labelValues(name: string, label: string): Set<string> {
    return new Set(
      this.find(name)
        .map((s) => s.labels[label])
        .filter((v): v is string => v !== undefined),
    );
  }

  /** Family names (TYPE lines). */
  families(): string[] {
    return [...this.parsed.types.keys()];
  }
}

export function parseMetrics(text: string): Metrics {
  return new Metrics(parsePrometheusText(text), text);
}

/** GET a /metrics URL and parse it; gunzips when the response is gzip-encoded. */
export async function scrapeMetrics(url: string, opts: { netns?: string; gzip?: boolean } = {}): Promise<Metrics> {
  const r = await httpRequest(url, { netns: opts.netns, headers: opts.gzip ? { 'accept-encoding': 'gzip' } : {} });
  if (r.status !== 200) throw new Error(`GET ${url}: HTTP ${r.status}: ${r.text().slice(0, 300)}`);
  const body = r.headers['content-encoding'] === 'gzip' ? gunzipSync(r.body) : r.body;
  return parseMetrics(body.toString('utf8'));
}

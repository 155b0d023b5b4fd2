/**
 * Minimal timed HTTP GET on loopback for the benchmark: node:http with no agent
 * (a fresh connection per request, as Prometheus' first scrape), raw bytes
 * counted as they arrive (a gzip body is counted compressed), and the instant the
 * response headers arrived — the exporter snapshots its store when it starts
 * rendering, so that instant is when the counters in the body were read.
 */
import { execFile } from 'node:child_process';
import { request, type Agent } from 'node:http';
import { promisify } from 'node:util';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';

export interface TimedResponse {
  status: number;
  /** Body bytes on the wire (compressed when content-encoding is gzip). */
  bytes: number;
  /** performance.now() when the response headers arrived. */
  headersAt: number;
  /** Request start to last byte, ms. */
  totalMs: number;
  contentEncoding: string | undefined;
  contentType: string | undefined;
}

export interface GetOptions {
  gzip?: boolean;
  /** Accept header (e.g. the Prometheus protobuf exposition's type). */
  accept?: string;
  timeoutMs?: number;
  /** Connection reuse (keep-alive agent); default: a fresh connection per request. */
  agent?: Agent;
  /** Receives the decoded body as text chunks (gunzipped when needed). */
  onText?: (chunk: string) => void;
}

export function timedGet(url: string, opts: GetOptions = {}): Promise<TimedResponse> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { agent: opts.agent ?? false, headers: { ...(opts.gzip ? { 'accept-encoding': 'gzip' } : {}), ...(opts.accept ? { accept: opts.accept } : {}) } },
      (res) => {
        const headersAt = performance.now();
        let bytes = 0;
        const enc = res.headers['content-encoding'];
        const gunzip = opts.onText && enc === 'gzip' ? createGunzip() : null;
        gunzip?.on('error', reject);
        // Text decoded apart from the raw stream, so `bytes` counts wire bytes.
        const decoder = opts.onText && !gunzip ? new StringDecoder('utf8') : null;
        if (gunzip) {
          gunzip.setEncoding('utf8');
          gunzip.on('data', (s: string) => opts.onText!(s));
        }
        res.on('data', (b: Buffer) => {
          bytes += b.length;
          if (gunzip) gunzip.write(b);
          else if (decoder) opts.onText!(decoder.write(b));
        });
        res.on('error', reject);
        const finish = (): void =>
          resolve({
            status: res.statusCode ?? 0,
            bytes,
            headersAt,
            totalMs: performance.now() - started,
            contentEncoding: enc,
            contentType: res.headers['content-type'],
          });
        res.on('end', () => {
          if (gunzip) {
            gunzip.once('end', finish);
            gunzip.end();
          } else {
            if (decoder) opts.onText!(decoder.end());
            finish();
          }
        });
      },
    );
    req.setTimeout(opts.timeoutMs ?? 120_000, () => req.destroy(new Error(`GET ${url}: timed out after ${opts.timeoutMs ?? 120_000} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** GET and parse JSON (small API responses); throws on a non-2xx status. */
export async function getJson<T>(url: string, timeoutMs = 10_000): Promise<{ status: number; body: T }> {
  let text = '';
  const r = await timedGet(url, { timeoutMs, onText: (s) => (text += s) });
  return { status: r.status, body: (text ? JSON.parse(text) : null) as T };
}

/** GET returning status and text (readiness). */
export async function getText(url: string, timeoutMs = 5_000): Promise<{ status: number; text: string }> {
  let text = '';
  const r = await timedGet(url, { timeoutMs, onText: (s) => (text += s) });
  return { status: r.status, text };
}

const execFileAsync = promisify(execFile);

/**
 * One GET with curl as the client (the scrape goals are request to last byte
 * with curl), body discarded: bytes received and total seconds. `extra`: more curl
 * arguments (headers). Bounded by curl's --max-time 60.
 */
export async function curlTimed(url: string, extra: readonly string[] = []): Promise<{ bytes: number; seconds: number }> {
  const { stdout } = await execFileAsync('curl', ['-s', '-o', '/dev/null', '--max-time', '60', '-w', '%{size_download} %{time_total}', ...extra, url]);
  const [bytes, seconds] = stdout.trim().split(' ').map(Number);
  return { bytes, seconds };
}

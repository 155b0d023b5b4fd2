/**
 * The matrix in mesh mode: this node's server fetches every peer's own row
 * (GET /api/v1/console/matrix/local on the peer) and merges the rows, so one page
 * shows the whole mesh. The browser cannot do it itself: the peers are other origins
 * (and often other networks than the browser's).
 *
 * Where a peer is: its address from the peer list and this node's web port (every
 * node of a mesh serves its API on the same port, as it runs its responder on the
 * same ports; see the README). Plain HTTP.
 *
 * Bounded in every way: each fetch has a timeout, at most `maxConcurrent` run at
 * once, a body larger than `maxBytes` is refused, and answers are cached for `ttlMs`
 * (concurrent requests for the same row share one fetch), so consoles polling a big
 * mesh cost each peer at most one request per `ttlMs` per query.
 */
import { isIP } from 'node:net';
import { checkNodeRow, type MissingRow, type NodeRow } from '../../aggregate/matrix.js';
import type { PeerAddress } from './model.js';

export interface PeerRowsOptions {
  timeoutMs?: number;
  ttlMs?: number;
  maxConcurrent?: number;
  maxBytes?: number;
  /** Injected for tests that need a fault a real peer cannot produce; default globalThis.fetch. */
  fetch?: typeof fetch;
  now?: () => number;
}

export interface PeerRowResult {
  row: NodeRow | MissingRow;
  /** Milliseconds the fetch took (0 from the cache). */
  ms: number;
  cached: boolean;
}

interface Entry {
  at: number;
  value: Promise<{ row: NodeRow | MissingRow; ms: number }>;
}

export class PeerRows {
  private readonly timeoutMs: number;
  private readonly ttlMs: number;
  private readonly maxConcurrent: number;
  private readonly maxBytes: number;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;
  private readonly cache = new Map<string, Entry>();
  private running = 0;
  private readonly queue: (() => void)[] = [];
  /** Fetches made, and those that failed (for the console's own status). */
  fetches = 0;
  failures = 0;

  constructor(opts: PeerRowsOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 1500;
    this.ttlMs = opts.ttlMs ?? 2000;
    this.maxConcurrent = opts.maxConcurrent ?? 16;
    this.maxBytes = opts.maxBytes ?? 4 << 20;
    this.fetchFn = opts.fetch ?? globalThis.fetch;
    this.now = opts.now ?? Date.now;
  }

  /** The URL of a peer's row for a column label and window. */
  static url(peer: PeerAddress, port: number, colLabel: string, window: string): string {
    const host = isIP(peer.address) === 6 ? `[${peer.address}]` : peer.address;
    return `http://${host}:${port}/api/v1/console/matrix/local?cols=${encodeURIComponent(colLabel)}&window=${encodeURIComponent(window)}`;
  }

  /** A peer's row (or a MissingRow saying why not), from the cache when it is fresh. */
  async row(peer: PeerAddress, port: number, colLabel: string, window: string): Promise<PeerRowResult> {
    const url = PeerRows.url(peer, port, colLabel, window);
    const now = this.now();
    const hit = this.cache.get(url);
    if (hit && now - hit.at < this.ttlMs) {
      const v = await hit.value;
      return { row: withIdentity(v.row, peer), ms: 0, cached: true };
    }
    const value = this.limited(() => this.fetchRow(url, peer));
    this.prune(now);
    this.cache.set(url, { at: now, value });
    const v = await value;
    return { row: withIdentity(v.row, peer), ms: v.ms, cached: false };
  }

  private prune(now: number): void {
    if (this.cache.size < 1024) return;
    for (const [k, e] of this.cache) if (now - e.at >= this.ttlMs) this.cache.delete(k);
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.maxConcurrent) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.queue.shift()?.();
    }
  }

  private async fetchRow(url: string, peer: PeerAddress): Promise<{ row: NodeRow | MissingRow; ms: number }> {
    const t0 = performance.now();
    this.fetches++;
    const missing = (error: string): { row: MissingRow; ms: number } => {
      this.failures++;
      return { row: { node: peer.name, labels: peer.labels, error }, ms: performance.now() - t0 };
    };
    try {
      const res = await this.fetchFn(url, { signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: 'application/json' }, redirect: 'error' });
      if (!res.ok) {
        await res.body?.cancel();
        return missing(`HTTP ${res.status} from ${url}`);
      }
      const len = Number(res.headers.get('content-length') ?? '0');
      if (len > this.maxBytes) {
        await res.body?.cancel();
        return missing(`answer of ${len} bytes is larger than ${this.maxBytes} bytes`);
      }
      const text = await readCapped(res, this.maxBytes);
      if (text === null) return missing(`answer is larger than ${this.maxBytes} bytes`);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return missing('answer is not JSON');
      }
      const bad = checkNodeRow(body);
      if (bad) return missing(`malformed row: ${bad}`);
      return { row: body as NodeRow, ms: performance.now() - t0 };
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      const why = err.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : (err.cause?.code ?? err.message);
      return missing(`${why} (${url})`);
    }
  }
}

/** The row as this node knows the peer: its name and labels from the peer list (the row's cells from the peer). */
function withIdentity(row: NodeRow | MissingRow, peer: PeerAddress): NodeRow | MissingRow {
  return { ...row, node: peer.name, labels: peer.labels };
}

/** The body as text, or null once it passes `max` bytes (the rest is not read). */
async function readCapped(res: Response, max: number): Promise<string | null> {
  if (res.body === null) return '';
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

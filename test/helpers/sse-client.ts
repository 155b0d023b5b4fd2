/**
 * A Server-Sent Events client for tests: a real HTTP request (node:http, own
 * connection), the text/event-stream body parsed into events as it arrives.
 * Everything it waits for has a deadline.
 */
import { request, type IncomingMessage } from 'node:http';

export interface SseEvent {
  event: string;
  data: string;
  /** data parsed as JSON (null when it is not JSON). */
  json: Record<string, unknown> | null;
}

export class SseClient {
  readonly events: SseEvent[] = [];
  status = 0;
  headers: IncomingMessage['headers'] = {};
  /** The whole body when the response is not an event stream (errors). */
  body = '';
  ended = false;
  private buf = '';
  private res: IncomingMessage | null = null;
  private readonly req;
  private readonly waiters = new Set<() => void>();
  readonly response: Promise<void>;
  readonly closed: Promise<void>;

  constructor(url: string, headers: Record<string, string> = {}) {
    let closedResolve!: () => void;
    this.closed = new Promise((r) => (closedResolve = r));
    this.req = request(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false });
    this.response = new Promise((resolve, reject) => {
      this.req.on('response', (res) => {
        this.res = res;
        this.status = res.statusCode ?? 0;
        this.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (s: string) => this.onText(s));
        const done = (): void => {
          this.ended = true;
          this.notify();
          closedResolve();
        };
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
        resolve();
      });
      this.req.on('error', (err) => {
        this.ended = true;
        this.notify();
        closedResolve();
        reject(err);
      });
    });
    this.req.end();
  }

  private onText(s: string): void {
    if (!String(this.headers['content-type'] ?? '').startsWith('text/event-stream')) {
      this.body += s;
      return;
    }
    this.buf += s;
    let cut: number;
    while ((cut = this.buf.indexOf('\n\n')) >= 0) {
      const block = this.buf.slice(0, cut);
      this.buf = this.buf.slice(cut + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length === 0 && event === 'message') continue;
      const text = data.join('\n');
      let json: Record<string, unknown> | null;
      try {
        json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        json = null;
      }
      this.events.push({ event, data: text, json });
    }
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Wait until `check()` holds (re-checked on every event), or throw after `timeoutMs`. */
  async until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(test);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${this.events.length} events, last: ${JSON.stringify(this.events.slice(-3))}`));
      }, timeoutMs);
      const test = (): void => {
        if (check()) {
          clearTimeout(timer);
          this.waiters.delete(test);
          resolve();
        } else if (this.ended) {
          clearTimeout(timer);
          this.waiters.delete(test);
          reject(new Error(`stream ended while waiting for ${what}; ${this.events.length} events, last: ${JSON.stringify(this.events.slice(-3))}`));
        }
      };
      this.waiters.add(test);
    });
  }

  /** Events of one type. */
  of(event: string): SseEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  close(): void {
    this.req.destroy();
    this.res?.destroy();
  }
}

/** A request that is expected to be answered with an error (not a stream): status, body as JSON. */
export async function sseError(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingMessage['headers']; json: Record<string, unknown> }> {
  const c = new SseClient(url, headers);
  await c.response;
  await Promise.race([c.closed, new Promise((r) => setTimeout(r, 5000))]);
  c.close();
  return { status: c.status, headers: c.headers, json: JSON.parse(c.body) as Record<string, unknown> };
}

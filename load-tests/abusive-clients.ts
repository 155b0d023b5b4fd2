/**
 * Abusive HTTP clients for the web-port hardening benchmark and tests, on loopback
 * only: connections that send a request and never read the answer, and
 * connections that send nothing at all. Each group is bounded in count, opens its
 * connections with a bounded number of connects in flight, and is closed by the
 * caller (close() destroys every socket it still holds).
 *
 * "Never read": no 'data' listener and the socket paused, so Node stops reading
 * from the kernel once its 16 KiB read buffer is full; the server's response then
 * piles up in the kernel buffers and, behind them, in the server process.
 * Connections without a request read (and discard) whatever comes, so a FIN from
 * the server is seen; a paused one only notices a reset.
 */
import { connect, type Socket } from 'node:net';

export interface ConnectionGroup {
  /** Connections that were established. */
  readonly opened: number;
  /** Connects that failed (refused, reset, timed out). */
  readonly failed: number;
  /** Established connections the server has closed since (reset; FIN too for idle ones). */
  closedByServer(): number;
  /** Established connections still open. */
  stillOpen(): number;
  /** Destroy every socket of the group. */
  close(): void;
}

export interface OpenOptions {
  host: string;
  port: number;
  count: number;
  /** Bytes sent right after connecting (e.g. "GET /metrics HTTP/1.1..."); none: an idle connection. */
  request?: string;
  /** Connects in flight at once (default 200). */
  parallel?: number;
  /** Give up on one connect after this long (default 5000 ms). */
  connectTimeoutMs?: number;
}

/** A request line + headers for `path` that keeps the connection alive (HTTP/1.1 default). */
export function getRequest(path: string, host: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: fleetprobe-abuse\r\nAccept: */*\r\n\r\n`;
}

function isLoopback(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1' || host === 'localhost';
}

/** Open `count` connections that never read (and, without `request`, never write either). */
export async function openConnections(o: OpenOptions): Promise<ConnectionGroup> {
  if (!isLoopback(o.host)) throw new Error(`abusive clients connect to loopback only, not ${o.host}`);
  if (!(o.count >= 0 && o.count <= 100_000)) throw new RangeError(`count must be 0..100000, got ${o.count}`);
  const sockets: Socket[] = [];
  let opened = 0;
  let failed = 0;
  let closed = 0;
  const parallel = Math.max(1, o.parallel ?? 200);
  const connectTimeoutMs = o.connectTimeoutMs ?? 5000;

  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const s = connect({ host: o.host, port: o.port });
      if (o.request) s.pause();
      else s.on('data', () => {});
      let established = false;
      let serverClosed = false;
      const markClosed = (): void => {
        if (established && !serverClosed) {
          serverClosed = true;
          closed++;
        }
      };
      const timer = setTimeout(() => {
        if (!established) s.destroy(new Error('connect timeout'));
      }, connectTimeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        established = true;
        opened++;
        sockets.push(s);
        if (o.request) s.write(o.request);
        resolve();
      });
      s.on('end', markClosed);
      s.on('error', () => {
        markClosed();
        if (!established) {
          clearTimeout(timer);
          failed++;
          resolve();
        }
      });
      s.on('close', () => {
        markClosed();
        if (!established) {
          clearTimeout(timer);
          failed++;
          resolve();
        }
      });
    });

  let next = 0;
  const lanes = Array.from({ length: Math.min(parallel, o.count) }, async () => {
    while (next < o.count) {
      next++;
      await one();
    }
  });
  await Promise.all(lanes);
  return {
    opened,
    failed,
    closedByServer: () => closed,
    stillOpen: () => sockets.filter((s) => !s.destroyed && !s.readableEnded && s.readyState === 'open').length,
    close() {
      for (const s of sockets) s.destroy();
    },
  };
}

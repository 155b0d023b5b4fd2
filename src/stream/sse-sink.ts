/**
 * One SSE client: a StreamSink over the raw http.ServerResponse of a hijacked
 * Fastify reply.
 *
 * The backlog is the response's writableLength: bytes Node holds for this client
 * in user space (the socket's buffer included) because the kernel's socket buffer
 * is full, i.e. the client is not reading. The hub drops the client when it grows
 * past stream.max_buffer_bytes; then the last event (`event: dropped`) is queued
 * behind the backlog, the response ended, and the socket destroyed after a short
 * grace if the client still has not taken it, so a dead client holds nothing.
 */
import type { ServerResponse } from 'node:http';
import { SSE_HEARTBEAT, sseDropped, sseEnd } from './sse-format.js';
import type { DropReason, StreamSink } from './types.js';

export interface SseSinkOptions {
  /** Extra response headers (those set on the reply by earlier hooks). */
  headers?: Record<string, string | number | string[]>;
  /** A comment line is sent when nothing was written for this long (default 15 s). */
  heartbeatMs?: number;
  /**
   * After an end, drop or shutdown, the socket is destroyed once the client has made no
   * progress reading for this long (default 30 s, stream.stall_timeout): a dropped client
   * that reads again still gets its `event: dropped`; one that never does is cut.
   */
  graceMs?: number;
}

export class SseSink implements StreamSink<string> {
  readonly transport = 'sse' as const;
  private started = false;
  private closed = false;
  private readonly closeCallbacks: (() => void)[] = [];
  private lastWriteAt = performance.now();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly graceMs: number;

  constructor(
    private readonly res: ServerResponse,
    private readonly opts: SseSinkOptions = {},
  ) {
    this.graceMs = opts.graceMs ?? 30_000;
    const every = opts.heartbeatMs ?? 15_000;
    this.heartbeat = setInterval(() => {
      if (performance.now() - this.lastWriteAt >= every) this.write([SSE_HEARTBEAT]);
    }, every);
    this.heartbeat.unref();
    res.once('close', () => this.closedByPeer());
    // A write to a reset socket: 'close' follows and ends the subscription.
    res.on('error', () => {});
  }

  /** Send the response head (200, text/event-stream). Idempotent; write() calls it too. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    // The connection ends with the stream (Connection: close): a client that was
    // dropped or told `end` sees its socket close, not an idle keep-alive.
    this.res.shouldKeepAlive = false;
    this.res.writeHead(200, {
      ...this.opts.headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-store',
      // Reverse proxies (nginx) must not buffer a stream.
      'x-accel-buffering': 'no',
    });
    // Leading comment: clients and proxies see bytes at once.
    this.res.write(': fleetprobe live stream\n\n');
  }

  backlog(): number {
    return this.res.writableLength;
  }

  write(chunks: readonly string[]): void {
    if (this.closed || chunks.length === 0) return;
    this.start();
    this.res.write(chunks.length === 1 ? chunks[0] : chunks.join(''));
    this.lastWriteAt = performance.now();
  }

  below(bytes: number): Promise<void> {
    if (this.closed || this.res.writableLength < bytes) return Promise.resolve();
    return new Promise((resolve) => {
      // 'drain' is only emitted after a write that returned false; poll as well so a
      // backlog below the stream's high-water mark is seen to shrink too.
      const check = (): void => {
        if (this.closed || this.res.writableLength < bytes) done();
      };
      const timer = setInterval(check, 50);
      timer.unref();
      let settled = false;
      const done = (): void => {
        if (settled) return;
        settled = true;
        clearInterval(timer);
        this.res.off('drain', check);
        const i = this.closeCallbacks.indexOf(done);
        if (i >= 0) this.closeCallbacks.splice(i, 1);
        resolve();
      };
      this.res.on('drain', check);
      this.closeCallbacks.push(done);
    });
  }

  end(): void {
    this.finish(sseEnd('done'));
  }

  drop(reason: DropReason): void {
    this.finish(sseDropped(reason));
  }

  shutdown(): void {
    this.finish(sseEnd('shutdown'));
  }

  onClose(cb: () => void): void {
    if (this.closed) cb();
    else this.closeCallbacks.push(cb);
  }

  /** Forget a sink that never started (its subscription was refused): the reply answers normally. */
  abandon(): void {
    if (this.started) return;
    this.markClosed();
  }

  private finish(last: string): void {
    if (this.closed) return;
    this.write([last]);
    this.res.end();
    this.markClosed();
    // Cut the socket when the client stops taking what is left.
    let owed = this.res.writableLength;
    let idleSince = performance.now();
    const check = setInterval(
      () => {
        const now = performance.now();
        const left = this.res.writableLength;
        if (left < owed) {
          owed = left;
          idleSince = now;
        } else if (now - idleSince >= this.graceMs) {
          clearInterval(check);
          this.res.destroy();
        }
      },
      Math.min(1000, this.graceMs),
    );
    check.unref();
    this.res.once('close', () => clearInterval(check));
  }

  private closedByPeer(): void {
    this.markClosed();
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const cb of this.closeCallbacks.splice(0)) cb();
  }
}

/**
 * One gRPC Subscribe call as a StreamSink.
 *
 * Backlog: bytes handed to call.write() whose write callback has not fired yet. A
 * message's callback fires when HTTP/2 has let it out, and HTTP/2 flow control holds
 * messages back while the client does not read, so this is exactly what the client
 * owes us.
 *
 * Drop: the status (RESOURCE_EXHAUSTED) would queue behind the backlog like any
 * trailer, and never reach a client that does not read, so with a backlog the HTTP/2
 * stream is reset at once with ENHANCE_YOUR_CALM, which gRPC clients report as
 * RESOURCE_EXHAUSTED (gRPC's HTTP/2 error-code mapping). That needs the call's HTTP/2
 * stream, which @grpc/grpc-js does not expose: it is found on the call object and,
 * if a future version moves it, the drop falls back to ending the call (the backlog
 * stays bounded: nothing more is written to it).
 */
import { constants as http2, type ServerHttp2Stream } from 'node:http2';
import { status as Status, type ServerDuplexStream } from '@grpc/grpc-js';
import type { DropReason, StreamSink } from '../stream/types.js';

export type SubscribeCall = ServerDuplexStream<unknown, Buffer>;

/** grpc-js's call layers as far as http2StreamOf reads them: internals, outside its typed API. */
interface CallLayer {
  stream?: { close?: unknown; respond?: unknown };
  nextCall?: CallLayer;
}

/** The HTTP/2 stream under a server call (BaseServerInterceptingCall.stream, behind any interceptors). */
export function http2StreamOf(call: SubscribeCall): ServerHttp2Stream | null {
  let c = (call as unknown as { call?: CallLayer }).call;
  for (let depth = 0; c && depth < 8; depth++) {
    if (c.stream && typeof c.stream.close === 'function' && typeof c.stream.respond === 'function') return c.stream as unknown as ServerHttp2Stream;
    c = c.nextCall;
  }
  return null;
}

export class GrpcSink implements StreamSink<Buffer> {
  readonly transport = 'grpc' as const;
  private pending = 0;
  private closed = false;
  private readonly closeCallbacks: (() => void)[] = [];
  /** below() waiters: each wants the backlog under its threshold. */
  private waiters: { bytes: number; resolve: () => void }[] = [];

  constructor(private readonly call: SubscribeCall) {
    const closed = (): void => this.markClosed();
    call.once('cancelled', closed);
    call.once('close', closed);
    call.once('finish', closed);
  }

  backlog(): number {
    return this.pending;
  }

  write(chunks: readonly Buffer[]): void {
    if (this.closed) return;
    for (const c of chunks) {
      const n = c.length;
      this.pending += n;
      this.call.write(c, () => {
        this.pending -= n;
        if (this.waiters.length > 0) this.wakeWaiters();
      });
    }
  }

  below(bytes: number): Promise<void> {
    if (this.closed || this.pending < bytes) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ bytes, resolve }));
  }

  end(): void {
    if (this.closed) return;
    this.call.end();
    this.markClosed();
  }

  drop(reason: DropReason): void {
    if (this.closed) return;
    const details = `dropped: the client did not keep up (${reason})`;
    const h2 = this.pending > 0 ? http2StreamOf(this.call) : null;
    if (h2 !== null && !h2.destroyed) h2.close(http2.NGHTTP2_ENHANCE_YOUR_CALM);
    else this.call.emit('error', { code: Status.RESOURCE_EXHAUSTED, details });
    this.markClosed();
  }

  /** End the call with an error status (a bad later message); the subscription ends with it. */
  fail(code: Status, details: string): void {
    if (this.closed) return;
    this.call.emit('error', { code, details });
    this.markClosed();
  }

  shutdown(): void {
    if (this.closed) return;
    this.call.emit('error', { code: Status.UNAVAILABLE, details: 'fleetprobe is shutting down' });
    this.markClosed();
  }

  onClose(cb: () => void): void {
    if (this.closed) cb();
    else this.closeCallbacks.push(cb);
  }

  private wakeWaiters(): void {
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (this.closed || this.pending < w.bytes) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.wakeWaiters();
    for (const cb of this.closeCallbacks.splice(0)) cb();
  }
}

/**
 * TCP echo of tcp_ping_prometheus 16-byte frames (src/protocol/echo-frame.ts).
 *
 * Hot path: one 'data' event may carry several coalesced frames, or a part of one.
 * Whole frames are written back as a slice of the received Buffer (no copy: node
 * hands every read its own Buffer, never reused). Only a frame split across reads
 * costs a 16-byte buffer, which is then written and not touched again (a Buffer
 * given to write() must not change until flushed). Framing and abuse rules are in
 * limits.ts.
 *
 * Admission: node's server.maxConnections closes the excess connection right at
 * accept, before a Socket object exists, and emits 'drop' (counted). The allowlist
 * and then the per-source connection rate (rate-limit.ts) run on the 'connection'
 * event; a refused peer is destroyed at once.
 * setNoDelay: an echo must leave on the wire immediately, Nagle would hold it.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ECHO_FRAME_BYTES } from '../protocol/echo-frame.js';
import type { Allowlist } from './cidr.js';
import { Proto, Reject, type ListenAddress } from './limits.js';
import { closeServer, listenOn } from './listen.js';
import type { ResponderLogger } from './logger.js';
import type { ResponderStats } from './metrics.js';
import type { SourceRateLimiter } from './rate-limit.js';

export interface TcpEchoLimits {
  maxConnections: number;
  maxFrameBytes: number;
  idleTimeoutMs: number;
}

class EchoConnection {
  /** A frame split across reads: allocated when needed, handed to write() once complete. */
  private pending: Buffer | null = null;
  private pendingLen = 0;

  constructor(
    readonly socket: Socket,
    private readonly limits: TcpEchoLimits,
    private readonly stats: ResponderStats,
  ) {}

  readonly onData = (chunk: Buffer): void => {
    const socket = this.socket;
    // Closing (Responder.close() ended our side): whatever still arrives is discarded.
    if (socket.writableEnded) return;
    const stats = this.stats;
    let off = 0;
    if (this.pendingLen > 0) {
      const pending = this.pending as Buffer;
      const take = Math.min(ECHO_FRAME_BYTES - this.pendingLen, chunk.length);
      chunk.copy(pending, this.pendingLen, 0, take);
      this.pendingLen += take;
      off = take;
      if (this.pendingLen < ECHO_FRAME_BYTES) return;
      socket.write(pending);
      this.pending = null;
      this.pendingLen = 0;
      stats.tcpFrames++;
      stats.bytes[Proto.Tcp] += ECHO_FRAME_BYTES;
    }
    const rest = chunk.length - off;
    const tail = rest % ECHO_FRAME_BYTES;
    const whole = rest - tail;
    if (whole > 0) {
      socket.write(off === 0 && tail === 0 ? chunk : chunk.subarray(off, off + whole));
      stats.tcpFrames += whole / ECHO_FRAME_BYTES;
      stats.bytes[Proto.Tcp] += whole;
    }
    if (tail > 0) {
      const pending = Buffer.allocUnsafe(ECHO_FRAME_BYTES);
      chunk.copy(pending, 0, off + whole);
      this.pending = pending;
      this.pendingLen = tail;
    }
    // Echoes the peer does not read pile up in user space once the kernel buffers
    // are full; past the limit the peer is abusing us.
    if (socket.writableLength + this.pendingLen > this.limits.maxFrameBytes) {
      stats.reject(Proto.Tcp, Reject.Oversized);
      socket.destroy();
    }
  };

  readonly onEnd = (): void => {
    // The peer half-closed. Echoes already written are flushed, then node ends our
    // side (allowHalfOpen is false). Leftover bytes were not a 16-byte frame.
    if (this.pendingLen > 0) {
      this.stats.reject(Proto.Tcp, Reject.Malformed);
      this.pending = null;
      this.pendingLen = 0;
    }
  };

  readonly onTimeout = (): void => {
    this.stats.reject(Proto.Tcp, Reject.IdleTimeout);
    this.socket.destroy();
  };
}

export class TcpEchoServer {
  private readonly server: Server;
  private readonly open = new Set<Socket>();

  constructor(
    private readonly limits: TcpEchoLimits,
    private readonly allowlist: Allowlist,
    private readonly limiter: SourceRateLimiter,
    private readonly stats: ResponderStats,
    private readonly logger: ResponderLogger,
  ) {
    this.server = createServer({ noDelay: true, allowHalfOpen: false }, this.onConnection);
    this.server.maxConnections = limits.maxConnections;
    this.server.on('drop', () => stats.reject(Proto.Tcp, Reject.MaxConnections));
    // Accept errors (EMFILE...) after listen: log, keep serving.
    this.server.on('error', (err) => logger.error({ err }, 'tcp echo server error'));
  }

  private readonly onConnection = (socket: Socket): void => {
    const stats = this.stats;
    if (!this.allowlist.allows(socket.remoteAddress)) {
      stats.reject(Proto.Tcp, Reject.NotAllowed);
      socket.destroy();
      return;
    }
    if (!this.limiter.allow(socket.remoteAddress ?? '', performance.now())) {
      stats.reject(Proto.Tcp, Reject.RateLimited);
      socket.destroy();
      return;
    }
    stats.tcpConnectionsTotal++;
    stats.tcpConnectionsOpen++;
    this.open.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(this.limits.idleTimeoutMs);
    const conn = new EchoConnection(socket, this.limits, stats);
    socket.on('data', conn.onData);
    socket.on('end', conn.onEnd);
    socket.on('timeout', conn.onTimeout);
    // ECONNRESET, EPIPE: the peer went away; 'close' follows and cleans up.
    socket.on('error', (err) => this.logger.debug({ err }, 'tcp echo connection error'));
    socket.on('close', () => {
      stats.tcpConnectionsOpen--;
      this.open.delete(socket);
    });
  };

  listen(at: ListenAddress): Promise<void> {
    return listenOn(this.server, at);
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Stop accepting, end every connection (flushing echoes), destroy stragglers after graceMs. */
  async close(graceMs: number): Promise<void> {
    const closed = closeServer(this.server);
    for (const socket of this.open) socket.end();
    const timer = setTimeout(() => {
      for (const socket of this.open) socket.destroy();
    }, graceMs);
    // Not unref()ed: close() is awaited, and a half-open straggler may be the only
    // other thing alive; an unref()ed timer would let the process exit with close() pending.
    await closed;
    clearTimeout(timer);
    // The server reports drained when the last socket is destroyed, a tick before
    // that socket's 'close' (which keeps the connections gauge honest): wait for it.
    await Promise.all([...this.open].map((socket) => new Promise((resolve) => socket.once('close', resolve))));
  }
}

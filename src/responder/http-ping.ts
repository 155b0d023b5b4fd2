/**
 * HTTP ping: GET /v1/ping answers 200 with a small text body (httpBodyBytes bytes
 * of "pong\n" repeated); GET /v1/ping?size=N answers N bytes, N <= httpMaxBodyBytes,
 * for heavier tests. A size above the bound or not a decimal integer gets 400 (a
 * silently clamped body would make a throughput test lie). Sources outside the
 * allowlist get 403. HEAD is served too (Fastify's automatic HEAD route).
 *
 * Fastify, the project's HTTP server, on an instance of its own: new connections
 * cost the same as with bare node:http (Fastify sits on node:http), and the per
 * request work is a route lookup and one hook. Measured on a 2-core box, one new
 * connection per ping, client in the same process: ~2,900 pings/s with Fastify,
 * ~2,700/s with a bare node:http handler (noise), so node:http would buy nothing. The body is a slice of one buffer
 * built at start, so a ping never allocates its payload. Responses carry
 * Cache-Control: no-store so no proxy answers a probe in our place.
 */
import { RESPONDER_DEFAULTS } from './defaults.js';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Allowlist } from './cidr.js';
import { parseSizeParam, Proto, Reject, type ListenAddress } from './limits.js';
import type { ResponderLogger } from './logger.js';
import type { ResponderStats } from './metrics.js';

export interface HttpPingLimits {
  maxConnections: number;
  idleTimeoutMs: number;
  httpBodyBytes: number;
  httpMaxBodyBytes: number;
}

const BODY_PATTERN = 'pong\n';

/** `bytes` bytes of BODY_PATTERN repeated (a prefix of it when shorter). */
export function pingBody(bytes: number): Buffer {
  const body = Buffer.allocUnsafe(bytes);
  if (bytes > 0) body.fill(BODY_PATTERN, 'latin1');
  return body;
}

export class HttpPingServer {
  private readonly app: FastifyInstance;
  private readonly body: Buffer;

  constructor(
    private readonly limits: HttpPingLimits,
    private readonly allowlist: Allowlist,
    private readonly stats: ResponderStats,
    logger: ResponderLogger,
  ) {
    this.body = pingBody(limits.httpMaxBodyBytes);
    this.app = Fastify({
      logger: false, // Fastify wants a full pino; errors are logged through `logger` below
      connectionTimeout: limits.idleTimeoutMs, // idle sockets are closed by node
      keepAliveTimeout: limits.idleTimeoutMs,
      bodyLimit: 1024, // a ping has no body
      return503OnClosing: true,
      forceCloseConnections: 'idle',
    });
    const server = this.app.server;
    server.maxConnections = limits.maxConnections;
    server.on('drop', () => stats.reject(Proto.Http, Reject.MaxConnections));
    this.app.addHook('onRequest', this.checkSource);
    this.app.get(RESPONDER_DEFAULTS.httpPath, this.ping);
    this.app.setErrorHandler((err: FastifyError, _request, reply) => {
      logger.warn({ err }, 'http ping error');
      void reply.code(err.statusCode ?? 500).send();
    });
  }

  private readonly checkSource = (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    if (this.allowlist.allows(request.socket.remoteAddress)) {
      done();
      return;
    }
    this.stats.reject(Proto.Http, Reject.NotAllowed);
    void reply.code(403).send();
  };

  private readonly ping = (request: FastifyRequest, reply: FastifyReply): void => {
    let bytes = this.limits.httpBodyBytes;
    const size = (request.query as Record<string, string | string[] | undefined>).size;
    if (size !== undefined) {
      bytes = typeof size === 'string' ? parseSizeParam(size) : -1;
      if (bytes < 0) {
        this.stats.reject(Proto.Http, Reject.Malformed);
        void reply.code(400).type('text/plain').send('size must be a decimal integer\n');
        return;
      }
      if (bytes > this.limits.httpMaxBodyBytes) {
        this.stats.reject(Proto.Http, Reject.Oversized);
        void reply.code(400).type('text/plain').send(`size must be at most ${this.limits.httpMaxBodyBytes}\n`);
        return;
      }
    }
    this.stats.httpRequests++;
    if (request.method === 'GET') this.stats.bytes[Proto.Http] += bytes; // HEAD sends no body
    void reply
      .header('cache-control', 'no-store')
      .type('text/plain')
      .send(bytes === this.body.length ? this.body : this.body.subarray(0, bytes));
  };

  async listen(at: ListenAddress): Promise<void> {
    await this.app.listen({ host: at.host, port: at.port });
  }

  address(): AddressInfo {
    return this.app.server.address() as AddressInfo;
  }

  /** Stop accepting; in-flight requests finish, idle keep-alive connections are closed. */
  async close(): Promise<void> {
    await this.app.close();
  }
}

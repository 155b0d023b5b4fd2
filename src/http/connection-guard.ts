/**
 * Puts the web server's connections under a ConnectionTable and counts every
 * connection fleetprobe closes on its own.
 *
 * Node's http server events used:
 * - 'connection' (prepended, so it runs before Node sets the socket up): admit,
 *   evict the longest-idle connection, or refuse (destroy) the new one;
 * - 'request' and the response's 'close': busy / idle;
 * - 'timeout': the keep-alive timer (keepAliveTimeout) of an idle connection. With
 *   a listener, Node leaves the socket to us, so we destroy it here;
 * - 'clientError' (prepended): Node's headers/request timeout (ERR_HTTP_REQUEST_TIMEOUT)
 *   and unparsable requests. Fastify's own listener answers 408/400 and closes; this
 *   one only counts.
 */
import type { Server, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ConnectionTable } from './connection-table.js';
import { tcpSocketOf } from './tcp-socket.js';
import type { WebMetrics } from './web-metrics.js';

export interface ConnectionGuard {
  readonly table: ConnectionTable<Socket>;
}

export function installConnectionGuard(server: Server, opts: { maxConnections: number; metrics: WebMetrics; log?: Logger }): ConnectionGuard {
  const table = new ConnectionTable<Socket>(opts.maxConnections);
  const { metrics } = opts;
  const publish = (): void => metrics.connections(table.size);

  server.prependListener('connection', (socket: Socket) => {
    const r = table.open(socket);
    if (!r.admitted) {
      metrics.dropped('max_connections');
      opts.log?.debug({ remote: socket.remoteAddress, max: opts.maxConnections }, 'web connection refused: web.max_connections reached, none idle');
      socket.destroy();
      return;
    }
    if (r.evicted !== null) {
      metrics.dropped('idle_evicted');
      r.evicted.destroy();
    }
    socket.once('close', () => {
      table.close(socket);
      publish();
    });
    publish();
  });

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // Over TLS the request's socket wraps the accepted one the table holds.
    const socket = tcpSocketOf(req.socket);
    table.requestStarted(socket);
    res.once('close', () => table.requestEnded(socket));
  });

  server.on('timeout', (socket: Socket) => {
    metrics.dropped('idle_timeout');
    socket.destroy();
  });

  // Prepended: Fastify's listener (added when the app is created) answers and destroys the socket.
  server.prependListener('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // A reset by the client, or a socket already gone, is not fleetprobe closing anything.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    metrics.dropped(err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'read_timeout' : 'bad_request');
  });

  return { table };
}

/** Promise wrappers around listen/close for net.Server-like servers. */
import type { Server } from 'node:net';
import type { ListenAddress } from './limits.js';

/** Resolve once listening; reject with the listen error (EADDRINUSE, EACCES...). */
export function listenOn(server: Server, at: ListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Resolve when the server has stopped accepting and every connection has closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    // ERR_SERVER_NOT_RUNNING only means it was already closed: nothing to wait for.
    server.close(() => resolve());
  });
}

/**
 * The TCP connection under a request. Over plain HTTP, req.socket is the net.Socket
 * itself; over TLS it is a TLSSocket wrapping the net.Socket the server accepted (the
 * one its 'connection' event saw). The connection table is keyed by the accepted
 * socket, and only a TCP socket can be reset (resetAndDestroy() throws
 * ERR_INVALID_HANDLE_TYPE on a TLSSocket).
 *
 * Node keeps the wrapped socket in TLSSocket._parent (server side, every version since
 * TLS wrapping began); it is read here only, in one place.
 */
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

export function tcpSocketOf(socket: Socket): Socket {
  if (!(socket instanceof TLSSocket)) return socket;
  const parent = (socket as unknown as { _parent?: unknown })._parent;
  return parent instanceof Socket ? parent : socket;
}

/** Close a connection with a TCP RST (its unsent bytes are dropped, not lingered over). */
export function resetConnection(socket: Socket): void {
  const tcp = tcpSocketOf(socket);
  if (tcp instanceof TLSSocket) {
    socket.destroy(); // no TCP socket found under it: closed without the RST
    return;
  }
  if (tcp !== socket) {
    tcp.resetAndDestroy();
    socket.destroy();
    return;
  }
  socket.resetAndDestroy();
}

/**
 * Forged UDP datagrams on IPv4 loopback, through a raw socket (root / CAP_NET_RAW):
 * the raw socket carries our own UDP header, so its source PORT is whatever we
 * write; the kernel adds the IPv4 header with the route's source, 127.0.0.1 for a
 * loopback destination. That is exactly the forged "from the responder's own
 * address and port" datagram of finding F13. The UDP checksum is 0 ("none"),
 * which IPv4 allows. Loopback destinations only.
 */
import { Protocol, createSocket } from 'raw-socket';

export const canSpoof: boolean = typeof process.getuid === 'function' && process.getuid() === 0;
export const NEEDS_RAW: string | false = canSpoof ? false : 'needs root / CAP_NET_RAW: forges UDP datagrams with a raw socket';

/** A UDP header (checksum 0) followed by `payload`. */
export function udpDatagram(sourcePort: number, destPort: number, payload: Buffer): Buffer {
  const d = Buffer.alloc(8 + payload.length);
  d.writeUInt16BE(sourcePort, 0);
  d.writeUInt16BE(destPort, 2);
  d.writeUInt16BE(d.length, 4);
  d.writeUInt16BE(0, 6);
  payload.copy(d, 8);
  return d;
}

/** Send `count` forged datagrams 127.0.0.1:sourcePort → 127.0.0.1:destPort. */
export async function sendSpoofedUdp(sourcePort: number, destPort: number, payload: Buffer, count = 1, dest = '127.0.0.1'): Promise<void> {
  if (!/^127\.\d+\.\d+\.\d+$/.test(dest)) throw new Error(`refusing a non-loopback destination: ${dest}`);
  const socket = createSocket({ protocol: Protocol.UDP });
  // A raw UDP socket gets a copy of every UDP datagram on the host; we never read.
  socket.pauseRecv();
  const datagram = udpDatagram(sourcePort, destPort, payload);
  try {
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) => {
        socket.send(datagram, 0, datagram.length, dest, (err) => (err ? reject(err) : resolve()));
      });
    }
  } finally {
    socket.close();
  }
}

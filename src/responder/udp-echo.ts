/**
 * UDP echo (RFC 862): every datagram goes back to its source unchanged.
 *
 * The received Buffer is sent back as is (no copy). Checks run before the echo,
 * because a UDP echo is a reflection tool (and half of an endless loop) for anyone
 * who can spoof a source, cheapest first: the source must be in the allowlist
 * (`not_allowed`); its port must not be our own port (`self`) nor a service port
 * (`reflector_port`), see udp-guard.ts; the datagram must be no larger than
 * maxDatagramBytes (`oversized`); the source must be within its rate
 * (`rate_limited`, rate-limit.ts; last, so datagrams dropped anyway take no token).
 * Refused datagrams are dropped silently (an answer would itself be reflected
 * traffic) and counted.
 *
 * A listener on "::" is dual stack; IPv4 peers then appear as ::ffff:a.b.c.d, which
 * the allowlist matches against IPv4 networks.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP, type AddressInfo } from 'node:net';
import type { Allowlist } from './cidr.js';
import { Proto, Reject, type ListenAddress } from './limits.js';
import type { ResponderLogger } from './logger.js';
import type { ResponderStats } from './metrics.js';
import type { SourceRateLimiter } from './rate-limit.js';
import { udpSourceVerdict, UdpVerdict } from './udp-guard.js';

export class UdpEchoServer {
  private socket: Socket | null = null;
  /** The port we are bound to (the `self` rule), known once listening. */
  private localPort = -1;

  constructor(
    private readonly maxDatagramBytes: number,
    private readonly allowlist: Allowlist,
    private readonly limiter: SourceRateLimiter,
    private readonly stats: ResponderStats,
    private readonly logger: ResponderLogger,
  ) {}

  /** One callback for every send: no closure per datagram. */
  private readonly onSent = (err: Error | null): void => {
    if (err) {
      this.stats.udpSendErrors++;
      this.logger.debug({ err }, 'udp echo send failed');
    }
  };

  private readonly onMessage = (msg: Buffer, rinfo: { address: string; port: number }): void => {
    const socket = this.socket;
    if (socket === null) return; // closing
    const stats = this.stats;
    if (!this.allowlist.allows(rinfo.address)) {
      stats.reject(Proto.Udp, Reject.NotAllowed);
      return;
    }
    const verdict = udpSourceVerdict(rinfo.port, this.localPort);
    if (verdict !== UdpVerdict.Answer) {
      stats.reject(Proto.Udp, verdict === UdpVerdict.Self ? Reject.Self : Reject.ReflectorPort);
      return;
    }
    if (msg.length > this.maxDatagramBytes) {
      stats.reject(Proto.Udp, Reject.Oversized);
      return;
    }
    if (!this.limiter.allow(rinfo.address, performance.now())) {
      stats.reject(Proto.Udp, Reject.RateLimited);
      return;
    }
    stats.udpDatagrams++;
    stats.bytes[Proto.Udp] += msg.length;
    socket.send(msg, rinfo.port, rinfo.address, this.onSent);
  };

  listen(at: ListenAddress): Promise<void> {
    const socket = createSocket({ type: isIP(at.host) === 6 ? 'udp6' : 'udp4' });
    this.socket = socket;
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.bind({ address: at.host, port: at.port }, () => {
        socket.off('error', onError);
        this.localPort = socket.address().port;
        socket.on('error', (err) => this.logger.error({ err }, 'udp echo socket error'));
        socket.on('message', this.onMessage);
        resolve();
      });
    });
  }

  address(): AddressInfo {
    return (this.socket as Socket).address();
  }

  close(): Promise<void> {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve(); // never bound (listen failed): nothing to close
      }
    });
  }
}

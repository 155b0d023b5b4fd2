/**
 * udp: UDP echo (RFC 862). Works against any echo server (inetd echo, socat, fleetprobe's
 * responder): the payload carries cookie, slot, sequence and send time (udp-codec.ts) and
 * comes back unchanged, so a reply is matched by its contents plus its source address and
 * port, not by which socket it arrived on.
 *
 * Sockets: N unconnected sockets per address family per prober (= per worker), shared by
 * all targets; a target with options.sourcePorts = N (source_ports) sends successive probes from
 * sockets 0..N-1 in turn, so they leave from N different source ports and hash onto
 * different ECMP paths. Never a socket per target: at 10^5 targets that is 10^5 file
 * descriptors and 10^5 receive buffers for no gain.
 *
 * ICMP port unreachable: Linux reports it as ECONNREFUSED only on a *connected* UDP
 * socket (or with IP_RECVERR, which Node does not expose). Connecting would need a socket
 * per target, so these shared unconnected sockets never see it: a closed port shows up as
 * timeouts. The icmp and tcp kinds are the tools for telling "port closed" from "host
 * down"; this kind measures echo RTT and loss.
 *
 * Send errors (EHOSTUNREACH/ENETUNREACH/EPERM from sendto) fail that probe with
 * `send_failed`. Replies: first → reply, again → duplicate, after the timeout → late;
 * anything else is dropped and counted by DropReason.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { DropReason, ErrorReason } from '../../src/protocol/events.js';
import type { ShardSettings } from '../../src/protocol/messages.js';
import type { ShardTarget } from '../../src/targets/model.js';
import type { Prober, ProberFactory, ProbeSink } from './prober.js';
import { DeadlineTimer } from './tcp-udp-deadline-timer.js';
import { optionsOf } from '../../src/kinds/index.js';
import { SeqMatch, SeqWindow, windowCapacity } from './tcp-udp-seq-window.js';
import { decodeUdpProbe, encodeUdpProbe, udpPayloadSize, UdpProbeHeader, unwrapSeq32 } from './udp-codec.js';

const RECV_BUFFER_BYTES = 4 << 20;
/** Sends awaiting their completion callback, per target (ring size). */
const SEND_RING = 64;

class UdpTarget {
  readonly window: SeqWindow;
  readonly timer: DeadlineTimer;
  /** Reused payload buffer while no send is in progress (dgram holds it until the callback). */
  readonly buf: Buffer;
  pendingSends = 0;
  private readonly sendSeqs = new Float64Array(SEND_RING);
  private sendHead = 0;
  rr = 0;
  removed = false;
  /** One completion callback per target, not per probe. */
  readonly onSent: (err: Error | null) => void;

  constructor(
    private readonly prober: UdpProber,
    readonly slot: number,
    readonly ip: string,
    readonly port: number,
    readonly family: 4 | 6,
    readonly timeoutMs: number,
    readonly payloadSize: number,
    readonly sourcePorts: number,
    intervalMs: number,
    firstSeq: number,
  ) {
    this.window = new SeqWindow(windowCapacity(intervalMs, timeoutMs), firstSeq);
    this.timer = new DeadlineTimer(() => prober.expire(this));
    this.buf = Buffer.alloc(payloadSize);
    this.onSent = (err) => prober.sendDone(this, err);
  }

  pushSend(seq: number): void {
    this.sendSeqs[(this.sendHead + this.pendingSends) % SEND_RING] = seq;
    this.pendingSends++;
  }

  /** Sequence of the oldest send awaiting completion (dgram completes sends in order per socket). */
  shiftSend(): number {
    const seq = this.sendSeqs[this.sendHead];
    this.sendHead = (this.sendHead + 1) % SEND_RING;
    this.pendingSends--;
    return seq;
  }
}

export class UdpProber implements Prober {
  private readonly targets = new Map<number, UdpTarget>();
  private readonly sockets4: dgram.Socket[] = [];
  private readonly sockets6: dgram.Socket[] = [];
  private readonly header = new UdpProbeHeader();
  private readonly cookie: number;
  /**
   * First sequence number of the next target added: past every sequence a removed
   * target used. The payload names a probe by slot and sequence only, so a target that
   * takes a slot (or replaces its own, changed) must not reuse a sequence of the one
   * before, or that one's replies still on the way would match its probes (found by
   * test/integration/target-updates-in-flight: a 60 ms reply counted as a 2 ms one).
   */
  private nextFirstSeq = 1;

  constructor(
    private readonly sink: ProbeSink,
    settings: ShardSettings,
  ) {
    this.cookie = settings.cookie >>> 0;
  }

  add(t: ShardTarget): void {
    const fam = net.isIP(t.ip);
    if (fam === 0) throw new Error(`udp: ${JSON.stringify(t.ip)} is not an IP address`);
    if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new Error(`udp: bad port ${t.port}`);
    const { sourcePorts } = optionsOf(t.options, 'udp');
    const family = fam === 6 ? 6 : 4;
    // Replies are compared with rinfo.address, which is inet_ntop's spelling; use the same.
    const ip = new net.SocketAddress({ address: t.ip, family: family === 6 ? 'ipv6' : 'ipv4' }).address;
    this.remove(t.slot);
    const timeoutMs = Math.max(1, t.timeoutMs);
    const target = new UdpTarget(this, t.slot, ip, t.port, family, timeoutMs, udpPayloadSize(t.payloadSize), sourcePorts, Math.max(1, t.intervalMs), this.nextFirstSeq);
    this.ensureSockets(family, sourcePorts);
    this.targets.set(t.slot, target);
  }

  remove(slot: number): void {
    const t = this.targets.get(slot);
    if (!t) return;
    this.targets.delete(slot);
    t.removed = true;
    t.timer.cancel();
    if (t.window.nextSeq > this.nextFirstSeq) this.nextFirstSeq = t.window.nextSeq;
  }

  probe(slot: number): void {
    const t = this.targets.get(slot);
    if (!t) return;
    const sockets = t.family === 6 ? this.sockets6 : this.sockets4;
    const sock = sockets[t.rr];
    t.rr = t.rr + 1 >= t.sourcePorts ? 0 : t.rr + 1;
    const now = performance.now();
    this.sink.sent(slot);
    const seq = t.window.open(now);
    if (t.window.evicted) this.sink.timeout(slot);
    const buf = t.pendingSends === 0 ? t.buf : Buffer.alloc(t.payloadSize);
    encodeUdpProbe(buf, this.cookie, slot, seq, performance.timeOrigin + now);
    if (t.pendingSends >= SEND_RING) {
      // Sends are not completing (socket wedged): fail instead of losing track of the callback.
      t.window.fail(seq);
      this.sink.error(slot, ErrorReason.send_failed);
      return;
    }
    t.pushSend(seq);
    try {
      sock.send(buf, 0, t.payloadSize, t.port, t.ip, t.onSent);
    } catch {
      t.shiftSend();
      if (t.window.fail(seq)) this.sink.error(slot, ErrorReason.send_failed);
      return;
    }
    t.timer.arm(now + t.timeoutMs, now);
  }

  /** dgram completion callback of one send of target `t`. */
  sendDone(t: UdpTarget, err: Error | null): void {
    const seq = t.shiftSend();
    if (err && !t.removed && t.window.fail(seq)) this.sink.error(t.slot, ErrorReason.send_failed);
  }

  expire(t: UdpTarget): void {
    if (t.removed) return;
    const now = performance.now();
    for (let n = t.window.expire(now - t.timeoutMs); n > 0; n--) this.sink.timeout(t.slot);
    const oldest = t.window.oldestSentAt();
    if (oldest === oldest) t.timer.arm(oldest + t.timeoutMs, now);
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const now = performance.now();
    const h = this.header;
    if (!decodeUdpProbe(msg, h)) return this.sink.dropped(DropReason.short);
    if (h.cookie !== this.cookie) return this.sink.dropped(DropReason.bad_cookie);
    const t = this.targets.get(h.slot);
    if (t === undefined) return this.sink.dropped(DropReason.unknown_slot);
    if (rinfo.port !== t.port || rinfo.address !== t.ip) return this.sink.dropped(DropReason.address_mismatch);
    const seq = unwrapSeq32(h.seq32, t.window.nextSeq);
    switch (t.window.match(seq, now)) {
      case SeqMatch.Reply:
        return this.sink.reply(t.slot, t.window.rttMs / 1000, seq);
      case SeqMatch.Duplicate:
        return this.sink.duplicate(t.slot);
      case SeqMatch.Late:
        return this.sink.late(t.slot, t.window.rttMs / 1000);
      default:
        return this.sink.dropped(DropReason.bad_sequence);
    }
  }

  private ensureSockets(family: 4 | 6, n: number): void {
    const list = family === 6 ? this.sockets6 : this.sockets4;
    while (list.length < n) {
      const s = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
      s.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
      // Errors of an unconnected socket are per send (reported through the callback);
      // anything else must not crash the worker.
      s.on('error', () => {});
      s.bind({ port: 0, address: family === 6 ? '::' : '0.0.0.0' }, () => {
        try {
          if (s.getRecvBufferSize() < RECV_BUFFER_BYTES) s.setRecvBufferSize(RECV_BUFFER_BYTES);
        } catch {
          // capped by net.core.rmem_max; the default still works at lower rates
        }
      });
      list.push(s);
    }
  }

  /** Local ports of the sockets of one family (tests check source-port rotation with it). */
  localPorts(family: 4 | 6): number[] {
    return (family === 6 ? this.sockets6 : this.sockets4).map((s) => {
      try {
        return s.address().port;
      } catch {
        return 0;
      }
    });
  }

  async close(): Promise<void> {
    for (const t of this.targets.values()) {
      t.removed = true;
      t.timer.cancel();
    }
    this.targets.clear();
    const all = [...this.sockets4, ...this.sockets6];
    this.sockets4.length = 0;
    this.sockets6.length = 0;
    await Promise.all(all.map((s) => new Promise<void>((resolve) => {
      try {
        s.close(() => resolve());
      } catch {
        resolve();
      }
    })));
  }
}

export const udpProberFactory: ProberFactory = (sink: ProbeSink, settings: ShardSettings) => new UdpProber(sink, settings);

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
 * `send_failed`. Replies: first → reply, again → duplicate, after the timeout → late
 * (the InflightWindow's books, one ring per target and one timer for every deadline);
 * anything else is dropped and counted by DropReason.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { DropReason, ErrorReason } from '../../src/protocol/events.js';
import type { ShardSettings } from '../../src/protocol/messages.js';
import type { ShardTarget } from '../../src/targets/model.js';
import type { Prober, ProberFactory, ProbeSink } from './prober.js';
import { optionsOf } from '../../src/kinds/index.js';
import { SlotTable } from '../slot-index.js';
import { AfterFailure, ECHO_RING, InflightWindow, MAX_RING, Outcome } from '../inflight-window.js';
import { systemClock, type Clock } from '../time/clock.js';
import { decodeUdpProbe, encodeUdpProbe, udpPayloadSize, UdpProbeHeader } from './udp-codec.js';

const RECV_BUFFER_BYTES = 4 << 20;
/** Sends awaiting their completion callback, per target (ring size). */
const SEND_RING = 64;

class UdpTarget {
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
    prober: UdpProber,
    readonly slot: number,
    /** Local index in the prober's SlotTable (and InflightWindow). */
    readonly local: number,
    readonly ip: string,
    readonly port: number,
    readonly family: 4 | 6,
    readonly payloadSize: number,
    readonly sourcePorts: number,
  ) {
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
  private readonly targets = new SlotTable<UdpTarget>();
  private readonly sockets4: dgram.Socket[] = [];
  private readonly sockets6: dgram.Socket[] = [];
  private readonly header = new UdpProbeHeader();
  private readonly cookie: number;
  private readonly clock: Clock;
  private readonly window: InflightWindow;

  constructor(
    private readonly sink: ProbeSink,
    settings: ShardSettings,
    opts: { clock?: Clock } = {},
  ) {
    this.cookie = settings.cookie >>> 0;
    this.clock = opts.clock ?? systemClock;
    this.window = new InflightWindow(this.targets.index, sink, this.clock, ECHO_RING, MAX_RING);
  }

  add(t: ShardTarget): void {
    const fam = net.isIP(t.ip);
    if (fam === 0) throw new Error(`udp: ${JSON.stringify(t.ip)} is not an IP address`);
    if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new Error(`udp: bad port ${t.port}`);
    const { sourcePorts } = optionsOf(t.options, 'udp');
    const family = fam === 6 ? 6 : 4;
    // Replies are compared with rinfo.address, which is inet_ntop's spelling; use the same.
    const ip = new net.SocketAddress({ address: t.ip, family: family === 6 ? 'ipv6' : 'ipv4' }).address;
    const timeoutMs = Math.max(1, t.timeoutMs);
    // Room for every probe in flight (the ring grows for a timeout of many intervals; beyond
    // MAX_RING the oldest probe in flight is booked as a timeout when its entry is reused).
    this.window.admit(Math.max(1, t.intervalMs), timeoutMs);
    this.remove(t.slot);
    this.ensureSockets(family, sourcePorts);
    const target = this.targets.add(t.slot, (i) => new UdpTarget(this, t.slot, i, ip, t.port, family, udpPayloadSize(t.payloadSize), sourcePorts));
    this.window.start(target.local, timeoutMs);
  }

  remove(slot: number): void {
    const t = this.targets.remove(slot);
    if (t === undefined) return;
    t.removed = true;
    this.window.forget(t.local);
  }

  probe(slot: number): void {
    const t = this.targets.get(slot);
    if (t === undefined) return;
    const sockets = t.family === 6 ? this.sockets6 : this.sockets4;
    const sock = sockets[t.rr];
    t.rr = t.rr + 1 >= t.sourcePorts ? 0 : t.rr + 1;
    const now = this.clock.now();
    // Books Sent (and the timeout of a probe still pending in its ring entry).
    const e = this.window.open(t.local, now);
    const seq = this.window.seqAt(e);
    const buf = t.pendingSends === 0 ? t.buf : Buffer.alloc(t.payloadSize);
    encodeUdpProbe(buf, this.cookie, slot, seq, this.clock.originMs + now);
    if (t.pendingSends >= SEND_RING) {
      // Sends are not completing (socket wedged): fail instead of losing track of the callback.
      this.window.fail(e, ErrorReason.send_failed, AfterFailure.Unknown);
      return;
    }
    t.pushSend(seq);
    try {
      sock.send(buf, 0, t.payloadSize, t.port, t.ip, t.onSent);
    } catch {
      t.shiftSend();
      this.window.fail(e, ErrorReason.send_failed, AfterFailure.Unknown);
    }
  }

  /** dgram completion callback of one send of target `t`. */
  sendDone(t: UdpTarget, err: Error | null): void {
    const seq = t.shiftSend();
    if (!err || t.removed) return;
    // Still in the window (and pending) unless it was answered or timed out meanwhile.
    const e = this.window.find(t.local, seq);
    if (e >= 0) this.window.fail(e, ErrorReason.send_failed, AfterFailure.Unknown);
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const now = this.clock.now();
    const h = this.header;
    if (!decodeUdpProbe(msg, h)) return this.sink.dropped(DropReason.short);
    if (h.cookie !== this.cookie) return this.sink.dropped(DropReason.bad_cookie);
    const t = this.targets.get(h.slot);
    if (t === undefined) return this.sink.dropped(DropReason.unknown_slot);
    if (rinfo.port !== t.port || rinfo.address !== t.ip) return this.sink.dropped(DropReason.address_mismatch);
    const e = this.window.find(t.local, h.seq32);
    // Reply, Late or Duplicate are booked by the window; anything else is not ours to count.
    if (e < 0 || this.window.answer(e, now - this.window.sentAt(e)) === Outcome.Unknown) this.sink.dropped(DropReason.bad_sequence);
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
    for (const t of this.targets.values()) this.remove(t.slot);
    this.window.close();
    const all = [...this.sockets4, ...this.sockets6];
    this.sockets4.length = 0;
    this.sockets6.length = 0;
    await Promise.all(
      all.map(
        (s) =>
          new Promise<void>((resolve) => {
            try {
              s.close(() => resolve());
            } catch {
              resolve();
            }
          }),
      ),
    );
  }
}

export const udpProberFactory: ProberFactory = (sink: ProbeSink, settings: ShardSettings) => new UdpProber(sink, settings);

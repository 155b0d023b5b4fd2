/**
 * The raw ICMP socket of one address family, behind a small interface (IcmpConn) so
 * tests can substitute it to inject faults (pro-bing's packetconn, cloudprober's
 * icmpConn). One per family per worker, never one per target: every raw ICMP socket
 * receives a copy of every ICMP packet on the host.
 *
 * Kernel-side filtering, in order:
 *   1. ICMP_FILTER (v4; SOL_RAW=255, option 1): a 32-bit mask of BLOCKED types; we
 *      pass 0 (echo reply), 3 (unreachable), 11 (time exceeded).
 *   2. ICMP6_FILTER (v6; IPPROTO_ICMPV6=58, option 1): 256-bit mask, on Linux a SET
 *      bit BLOCKS the type (ICMP6_FILTER_SETPASS clears it); we pass 129, 1, 2, 3.
 *   3. A classic BPF program on our identifier (icmp-bpf.ts), attached through
 *      raw-socket's `attachFilter` (added by our patch; feature-detected: without it
 *      user-space validation still rejects foreign packets, at a CPU cost).
 * The socket receives from socket() on, and a filter never runs over packets already
 * queued: what arrived before the filters (other workers' replies, other processes'
 * pings) must not be read as ours. The patched attachFilter closes that race itself
 * (drop-all program, discard the queue, then our program, as libpcap does); without
 * BPF we discard the queue here after the type filter, before the first send.
 *
 * raw-socket internals used (raw-socket 1.8.1, documented here, not elsewhere):
 *   - Socket.send() queues and sends one packet per writable poll event; we call
 *     the native `wrap.send(buf, off, len, addr, cb)` directly instead: it runs
 *     sendto() synchronously (the socket is non-blocking) and calls cb before
 *     returning, so the send time we stamp is the send time, and one send buffer can
 *     be reused for every probe.
 *   - Socket.onRecvReady reads ONE packet per readiness event and allocates a slice
 *     and a closure for it; we replace the wrap's 'recvReady' listener with one that
 *     drains up to RECV_BURST packets into one preallocated buffer via `wrap.recv`
 *     (which throws EAGAIN when the queue is empty).
 *   - Our patch adds the per-packet fast paths `wrap.sendTo(buf, len, address, off)`
 *     and `wrap.recvInto(buf, source)`: the same sendto()/recvmsg() with the result
 *     as the return value (bytes, or -errno) instead of a callback into JS, the address
 *     as a number (v4) or 16 bytes (v6) instead of a string each way, and no exception
 *     for EAGAIN or a failed send (README, after the data plane's shared pieces: what
 *     a probe costs and the figures). Used when present (feature-detected), else
 *     send/recv as above.
 *
 * Kernel timestamps (our patch's `enableTimestamps`, SO_TIMESTAMPNS): the JS receive
 * time is taken after the event loop wakes up and the packet is read, tens of µs
 * after the packet arrived; `ping` reads the kernel's receive stamp instead. With
 * timestamps on, the native send() reads CLOCK_REALTIME right before sendto() and
 * recv() reports the kernel receive stamp (same clock), both written into one
 * preallocated Float64Array [tx s, tx ns, rx s, rx ns] (no per-packet allocation).
 * We hand them out as milliseconds since `stampEpochSec` (a whole second near the
 * socket's creation), which keeps them exact to well under a ns as doubles. They are
 * wall-clock times: the prober checks them against its monotonic times and falls
 * back when the clock stepped.
 */
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import { encodeBpf, icmp4Filter, icmp6Filter } from './icmp-bpf.js';
import type { IcmpSocketChoice } from '../../src/protocol/icmp-socket-mode.js';

/** The socket actually opened: raw (SOCK_RAW) or dgram (a Linux ping socket). */
export type IcmpSocketKind = 'raw' | 'dgram';

/**
 * recvTime: monotonic ms (performance.now() scale) when user space read the packet.
 * kernelRecvTime: the kernel's receive stamp, in ms on the conn's stamp scale (see
 * IcmpConn.sendStamp), or NaN when the packet has none (timestamps unavailable).
 * sourceBytes: when given, recvfrom()'s source address in network order (IPv4: its
 * first 4 bytes, IPv6: 16; reused, like buf) and `source` is '' (a conn on the
 * patched addon's recvInto makes no address string per packet); else `source` is it.
 */
export type PacketHandler = (buf: Buffer, length: number, source: string, recvTime: number, kernelRecvTime: number, sourceBytes?: Uint8Array) => void;

export interface FilterStatus {
  /** ICMP_FILTER / ICMP6_FILTER installed. */
  typeFilter: boolean;
  /** BPF identifier filter installed. */
  bpf: boolean;
  /** Kernel receive timestamps on (SO_TIMESTAMPNS); absent = not supported by this conn. */
  kernelTimestamps?: boolean;
  /** Why something could not be installed. */
  problems: string[];
}

export interface IcmpConn {
  readonly family: 4 | 6;
  /**
   * raw: every ICMP packet of the host arrives (filtered by type and BPF), IPv4 with its
   * IP header, errors as packets. dgram (ping socket): the kernel delivers only this
   * socket's echo replies, IPv4 without the IP header, and rewrites the identifier to the
   * socket's own; ICMP errors go to the error queue, which is not read (they time out).
   */
  readonly kind?: IcmpSocketKind;
  /** Send synchronously. Returns null on success or the error message (sendto failed). */
  send(buf: Buffer, length: number, address: string): string | null;
  /**
   * Optional, the per-probe path: send synchronously to an address given as numbers
   * rather than a string (IPv4: `v4` as a uint32, a.b.c.d = a·2^24 + b·2^16 + c·2^8 + d;
   * IPv6: the 16 bytes v6[v6Offset, v6Offset + 16)). Returns whether sendto() succeeded.
   */
  sendTo?(buf: Buffer, length: number, v4: number, v6: Uint8Array, v6Offset: number): boolean;
  /**
   * Optional: the clock reading taken right before the last successful send's
   * sendto(), in ms on the same (wall-clock) scale as a PacketHandler's
   * kernelRecvTime; NaN when timestamps are unavailable.
   */
  sendStamp?(): number;
  /** Register the one packet handler (buffer is reused: copy what you keep). */
  onPacket(handler: PacketHandler): void;
  /**
   * Optional: read whatever is queued right now (called between sends of a burst so
   * replies are timestamped when they arrive, not after the burst).
   */
  drainNow?(): void;
  /**
   * Install kernel filters for our identifier and discard what was queued before
   * them; call before the first send. Returns what could be installed.
   */
  setFilters(identifier: number): FilterStatus;
  close(): void;
}

// Linux socket option numbers.
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const SOL_RAW = 255;
const ICMP_FILTER = 1;
const IPPROTO_ICMPV6 = 58;
const ICMP6_FILTER = 1;

/**
 * Packets read per readiness event before yielding back to the loop. Must exceed
 * the scheduler's starts per turn, or under load replies queue up faster than they
 * are read and every RTT inflates (measured: collapse at 80k probes/s with 64).
 */
export const RECV_BURST = 1024;
const RECV_BUFFER_BYTES = 65_536;
const RCVBUF_BYTES = 4 << 20;

/** The subset of raw-socket we use (typed locally; the module ships no typings). */
interface RawWrap {
  send(buf: Buffer, offset: number, length: number, address: string, cb: (bytes: number) => void): unknown;
  recv(buf: Buffer, cb: (buf: Buffer, bytes: number, source: string) => void): unknown;
  /** Added by our patch (see the header): bytes sent or -errno; no callback, no exception. */
  sendTo?(buf: Buffer, length: number, address: number | Uint8Array, offset: number): number;
  /** Added by our patch: bytes read (source address bytes into `source`) or -errno (-EAGAIN: empty). */
  recvInto?(buf: Buffer, source: Uint8Array): number;
  on(event: string, fn: (...args: unknown[]) => void): unknown;
  removeAllListeners(event: string): unknown;
}
interface RawSocket {
  wrap?: RawWrap;
  setOption(level: number, option: number, value: Buffer | number, length?: number): void;
  /** Returns how many packets queued before the call it discarded (see the header). */
  attachFilter?: (program: Buffer) => number;
  enableTimestamps?: (stamps: Float64Array) => void;
  on(event: string, fn: (...args: unknown[]) => void): unknown;
  close(): unknown;
}
interface RawSocketModule {
  createSocket(opts: { protocol: number; addressFamily: number; bufferSize?: number; type?: number }): RawSocket;
  Protocol: { ICMP: number; ICMPv6: number };
  /** Added by our patch: Datagram opens a ping socket. */
  SocketType?: { Raw: number; Datagram: number };
  AddressFamily: { IPv4: number; IPv6: number };
}

let rawModule: RawSocketModule | null = null;
function loadRaw(): RawSocketModule {
  if (rawModule === null) rawModule = createRequire(import.meta.url)('raw-socket') as RawSocketModule;
  return rawModule;
}

/** ICMP_FILTER value: bit t set = type t blocked. */
export function icmp4TypeMask(passTypes: readonly number[]): number {
  let mask = 0xffffffff;
  for (const t of passTypes) mask &= ~(1 << t);
  return mask >>> 0;
}

/** struct icmp6_filter (8 host-order u32): bit t set = type t blocked (Linux). */
export function icmp6TypeFilter(passTypes: readonly number[]): Buffer {
  const words = new Uint32Array(8).fill(0xffffffff);
  for (const t of passTypes) words[t >> 5] &= ~(1 << (t & 31));
  return Buffer.from(words.buffer); // Uint32Array is host order, as the kernel wants
}

function writeHostU32(value: number): Buffer {
  const b = Buffer.alloc(4);
  if (endianness() === 'LE') b.writeUInt32LE(value >>> 0);
  else b.writeUInt32BE(value >>> 0);
  return b;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A real raw ICMP (v4) or ICMPv6 socket. Throws if it cannot be opened (EPERM without CAP_NET_RAW). */
export class RawIcmpConn implements IcmpConn {
  private readonly sock: RawSocket;
  private readonly wrap: RawWrap;
  private readonly rxBuf = Buffer.alloc(RECV_BUFFER_BYTES);
  /** recvInto's source address (network order), handed to the handler as sourceBytes. */
  private readonly rxSourceBytes = Buffer.alloc(16);
  /** The patched addon's fast paths, when it has them (see the header). */
  private readonly fast: boolean;
  private handler: PacketHandler | null = null;
  private closed = false;
  // Filled by the recv callback; read right after wrap.recv returns.
  private rxBytes = 0;
  private rxSource = '';
  private sendError: string | null = null;
  private readonly onRecv = (_buf: Buffer, bytes: number, source: string): void => {
    this.rxBytes = bytes;
    this.rxSource = source;
  };
  private readonly onSent = (): void => {};
  private readonly onReadable = (): void => this.drain();
  /** Written by the addon: [tx s, tx ns, rx s, rx ns] (CLOCK_REALTIME); all 0 = none. */
  private readonly stamps = new Float64Array(new ArrayBuffer(4 * 8));
  private stampsOn = false;
  private stampsProblem: string | null = null;
  /** Whole second subtracted from stamps so ms values stay small (exact). */
  readonly stampEpochSec = Math.floor(Date.now() / 1000);

  constructor(
    readonly family: 4 | 6,
    readonly kind: IcmpSocketKind = 'raw',
  ) {
    const raw = loadRaw();
    if (kind === 'dgram' && raw.SocketType === undefined) throw new Error('raw-socket has no SocketType (unpatched): no ping sockets');
    this.sock = raw.createSocket({
      protocol: family === 4 ? raw.Protocol.ICMP : raw.Protocol.ICMPv6,
      addressFamily: family === 4 ? raw.AddressFamily.IPv4 : raw.AddressFamily.IPv6,
      ...(kind === 'dgram' ? { type: raw.SocketType!.Datagram } : {}),
    });
    const wrap = this.sock.wrap;
    if (!wrap || typeof wrap.send !== 'function' || typeof wrap.recv !== 'function') {
      this.sock.close();
      throw new Error('raw-socket: unsupported version (no native wrap.send/recv)');
    }
    this.wrap = wrap;
    this.fast = typeof wrap.sendTo === 'function' && typeof wrap.recvInto === 'function';
    if (this.fast) this.sendTo = this.sendFast;
    wrap.removeAllListeners('recvReady');
    wrap.on('recvReady', this.onReadable);
    // raw-socket closes the socket on 'error' and re-emits it; an unhandled 'error'
    // would kill the thread, so we own it.
    this.sock.on('error', () => {});
    if (typeof this.sock.enableTimestamps === 'function') {
      try {
        this.sock.enableTimestamps(this.stamps);
        this.stampsOn = true;
      } catch (err) {
        this.stampsProblem = `kernel timestamps: ${message(err)}`;
      }
    } else {
      this.stampsProblem = 'kernel timestamps: raw-socket has no enableTimestamps (unpatched); RTT measured in JS';
    }
    try {
      this.sock.setOption(SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF_BYTES);
    } catch {
      try {
        this.sock.setOption(SOL_SOCKET, SO_RCVBUF, RCVBUF_BYTES);
      } catch {
        /* keep the default buffer */
      }
    }
  }

  send(buf: Buffer, length: number, address: string): string | null {
    if (this.closed) return 'socket closed';
    this.sendError = null;
    try {
      this.wrap.send(buf, 0, length, address, this.onSent);
    } catch (err) {
      this.sendError = message(err);
    }
    return this.sendError;
  }

  /** IcmpConn.sendTo: set in the constructor when the addon has the fast paths. */
  sendTo?: (buf: Buffer, length: number, v4: number, v6: Uint8Array, v6Offset: number) => boolean;

  private readonly sendFast = (buf: Buffer, length: number, v4: number, v6: Uint8Array, v6Offset: number): boolean => {
    if (this.closed) return false;
    return this.wrap.sendTo!(buf, length, this.family === 4 ? v4 : v6, v6Offset) >= 0;
  };

  sendStamp(): number {
    return this.stampMs(0);
  }

  /** stamps[at], stamps[at+1] (s, ns) as ms since stampEpochSec; NaN if absent. */
  private stampMs(at: number): number {
    const sec = this.stamps[at];
    if (!this.stampsOn || sec === 0) return NaN;
    return (sec - this.stampEpochSec) * 1000 + this.stamps[at + 1] / 1e6;
  }

  onPacket(handler: PacketHandler): void {
    this.handler = handler;
  }

  setFilters(identifier: number): FilterStatus {
    const status: FilterStatus = { typeFilter: false, bpf: false, kernelTimestamps: this.stampsOn, problems: [] };
    if (this.stampsProblem !== null) status.problems.push(this.stampsProblem);
    // A ping socket gets only its own echo replies (the kernel matches them by the
    // identifier it chose): no type filter or BPF to install, nothing foreign queued.
    if (this.kind === 'dgram') return status;
    try {
      if (this.family === 4) this.sock.setOption(SOL_RAW, ICMP_FILTER, writeHostU32(icmp4TypeMask([0, 3, 11])), 4);
      else this.sock.setOption(IPPROTO_ICMPV6, ICMP6_FILTER, icmp6TypeFilter([129, 1, 2, 3]), 32);
      status.typeFilter = true;
    } catch (err) {
      status.problems.push(`type filter: ${message(err)}`);
    }
    if (typeof this.sock.attachFilter === 'function') {
      try {
        const prog = this.family === 4 ? icmp4Filter(identifier) : icmp6Filter(identifier);
        this.sock.attachFilter(encodeBpf(prog));
        status.bpf = true;
      } catch (err) {
        status.problems.push(`bpf: ${message(err)}`);
      }
    } else {
      status.problems.push('bpf: raw-socket has no attachFilter (unpatched); filtering by identifier in user space');
    }
    // attachFilter discarded what was queued before it (see the header). Without it,
    // packets queued before the type filter were never filtered: discard them here.
    // Nothing of ours is in flight yet.
    if (!status.bpf) {
      const h = this.handler;
      this.handler = null;
      this.drain(RECV_BURST * 64);
      this.handler = h;
    }
    return status;
  }

  drainNow(): void {
    this.drain(RECV_BURST);
  }

  /** Read up to `max` queued packets; level-triggered polling calls us again for the rest. */
  private drain(max = RECV_BURST): void {
    if (this.fast) return this.drainFast(max);
    for (let n = 0; n < max && !this.closed; n++) {
      this.rxBytes = -1;
      try {
        this.wrap.recv(this.rxBuf, this.onRecv);
      } catch {
        return; // EAGAIN: queue empty (or a transient error; the poll will tell us again)
      }
      if (this.rxBytes < 0) return;
      const now = performance.now();
      const h = this.handler;
      if (h !== null) h(this.rxBuf, this.rxBytes, this.rxSource, now, this.stampMs(2));
    }
  }

  /** drain() over recvInto: no callback, no address string, no exception per packet. */
  private drainFast(max: number): void {
    const wrap = this.wrap;
    const buf = this.rxBuf;
    const source = this.rxSourceBytes;
    for (let n = 0; n < max && !this.closed; n++) {
      const bytes = wrap.recvInto!(buf, source);
      if (bytes < 0) return; // -EAGAIN: queue empty (or a transient error; the poll will tell us again)
      const now = performance.now();
      const h = this.handler;
      if (h !== null) h(buf, bytes, '', now, this.stampMs(2), source);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = null;
    try {
      this.sock.close();
    } catch {
      /* already closed */
    }
  }
}

export function openRawIcmpConn(family: 4 | 6): IcmpConn {
  return new RawIcmpConn(family);
}

const PERMISSION = /not permitted|EPERM|EACCES|permission denied/i;

/**
 * The ICMP socket icmp.socket asks for. auto: raw, and when that is refused for lack of
 * privilege, a ping socket. Throws with both causes when nothing opens.
 */
export function openIcmpConn(family: 4 | 6, choice: IcmpSocketChoice = 'auto'): IcmpConn {
  if (choice === 'raw') return new RawIcmpConn(family, 'raw');
  if (choice === 'dgram') return openDgram(family, null);
  try {
    return new RawIcmpConn(family, 'raw');
  } catch (err) {
    if (!PERMISSION.test(message(err))) throw err;
    return openDgram(family, message(err));
  }
}

function openDgram(family: 4 | 6, rawProblem: string | null): IcmpConn {
  try {
    return new RawIcmpConn(family, 'dgram');
  } catch (err) {
    const dgram = message(err);
    const hint = PERMISSION.test(dgram) ? `the process's groups are outside sysctl net.ipv4.ping_group_range (it governs IPv6 ping sockets too)` : dgram;
    throw new Error(
      rawProblem === null
        ? `cannot open an ICMPv${family === 4 ? 4 : 6} ping socket (icmp.socket dgram): ${dgram}; ${hint}`
        : `cannot open a raw ICMPv${family === 4 ? 4 : 6} socket (${rawProblem}: needs CAP_NET_RAW) nor a ping socket (${dgram}: ${hint})`,
      { cause: err },
    );
  }
}

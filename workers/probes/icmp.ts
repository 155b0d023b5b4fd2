/**
 * The ICMP echo prober (IPv4 and IPv6) of one shard.
 *
 * Books: every probe() reports Sent and then exactly one of Reply (in time),
 * Timeout, or Error (ICMP error or sendto failure). A second reply for an answered
 * probe is a Duplicate; a reply after the timeout is Late (its Timeout stays counted).
 * The InflightWindow keeps these books (the same for udp and tcp_echo).
 *
 * State, all in typed-array columns of a SlotIndex (slot → dense local index):
 *   - per target: address bytes, family, payload size;
 *   - the InflightWindow's columns: per target the last sequence sent and the timeout,
 *     and a ring of RING (16) entries indexed by seq % RING: the sequence, the send
 *     time and a state; plus, here, the kernel's send stamp of each entry. A target
 *     whose timeout spans more than RING-1 intervals is rejected (its ring would be
 *     overwritten while probes are in flight); the window's one DeadlineTimer holds
 *     every probe's deadline;
 *   - seq16 → (local, seq) tables (65,536 entries), for ICMP errors that quote only
 *     8 bytes of our request (no payload to read the slot from).
 * Nothing is allocated per probe or per reply (the v6 source address arrives as a
 * string from recvfrom; it is parsed into a scratch array).
 *
 * A reply is accepted only if: it is an echo reply, has our identifier, our cookie,
 * a slot we probe, comes from that target's address, and its sequence was sent
 * recently and its payload send time is the one we stamped; otherwise it is counted
 * as a DropReason and ignored.
 *
 * RTT: from the kernel's stamps when the socket has them (see icmp-socket.ts):
 * receive = the kernel's receive timestamp, send = the clock read right before
 * sendto(), as ping does; so the event loop's wake-up and our own read and parse
 * time are not in the RTT. Those stamps are wall-clock (CLOCK_REALTIME): a clock
 * step between send and receive would corrupt them, so they are used only when
 * 0 <= kernel RTT <= monotonic RTT (our JS send time is taken earlier and our JS
 * receive time later than the kernel's, so a consistent clock always satisfies it);
 * otherwise the monotonic RTT (performance.now() at send and at read) is used and
 * counted in stats.clockFallbacks. Whether a reply is in time is judged on the RTT
 * used. Which clock timed each reply leaves the worker through the batch header
 * (reportStats) and becomes fleetprobe_worker_icmp_rtt_clock_total: the monotonic RTT
 * also holds the worker's wake-up and read time (load-tests/rtt-accuracy.js on the
 * 2-core machine: 0.17 ms more than the kernel's at load 14, 2.5 to 3 ms more with two
 * CPU spinners added), so a share of monotonic RTTs explains a mean above ping's.
 */
import { Header, IcmpSocketBits } from '../../src/protocol/batch.js';
import { ErrorReason, DropReason } from '../../src/protocol/events.js';
import type { ShardSettings } from '../../src/protocol/messages.js';
import type { ShardTarget } from '../../src/targets/model.js';
import { systemClock, type Clock } from '../time/clock.js';
import { SlotIndex } from '../slot-index.js';
import { InflightWindow, Outcome, type InflightBooks } from '../inflight-window.js';
import {
  PAYLOAD_MAX,
  PacketKind,
  ParsedPacket,
  effectivePayloadSize,
  fillPadding,
  parseIPv4,
  parseIPv6Into,
  writeEchoRequest,
  ICMP_HEADER_BYTES,
} from './icmp-codec.js';
import { openIcmpConn, type FilterStatus, type IcmpConn } from './icmp-socket.js';
import type { Prober, ProberFactory, ProbeSink } from './prober.js';

/**
 * In-flight ring entries per target (power of two). 16 and not more: the ring's columns
 * cost 21 bytes per entry (sequence, send time, kernel stamp, state) for every target,
 * and icmp is the kind run at hundreds of thousands of targets. The main thread refuses
 * a timeout spanning more than TIMEOUT_MAX_INTERVALS (15, src/kinds/timing.ts) intervals,
 * so every target it sends fits: test/unit/inflight-window.test.ts holds the two numbers
 * together, and add() still rejects a target that does not fit. The ring
 * never grows (the window's maxRing is RING): entStamp below is keyed by its entries.
 */
export const RING = 16;
/**
 * Within a burst of sends, read the sockets every this many sends: on a fast path
 * (loopback, LAN) replies are queued while we are still sending, and reading them
 * only after the burst would add the burst's duration to their RTT.
 */
export const DRAIN_EVERY_SENDS = 8;

export interface IcmpProberOptions {
  /** Opens the socket of a family (default: a real raw socket). */
  openConn?: (family: 4 | 6) => IcmpConn;
  clock?: Clock;
}

/** Counters for diagnostics and tests (the exported counters come from the batches). */
export interface IcmpProberStats extends InflightBooks {
  dropped: number;
  /** Replies and late replies whose RTT came from the kernel's timestamps. */
  kernelRtt: number;
  /** Replies and late replies timed by the monotonic clock (no kernel stamps, or inconsistent ones). */
  monotonicRtt: number;
  /** Of those, replies with kernel stamps that were inconsistent (clock step). */
  clockFallbacks: number;
}

export class IcmpProber implements Prober {
  private readonly clock: Clock;
  private readonly openConn: (family: 4 | 6) => IcmpConn;
  private readonly identifier: number;
  private readonly cookie: number;

  private readonly conns: (IcmpConn | null)[] = [null, null];
  /** Why a family's socket could not be opened (then its targets are rejected). */
  private readonly connError: (string | null)[] = [null, null];
  readonly filterStatus: (FilterStatus | null)[] = [null, null];

  private readonly index = new SlotIndex(64);
  private readonly familyOf = this.index.column(Uint8Array);
  private readonly ipOf = this.index.values('');
  private readonly addr4 = this.index.column(Uint32Array);
  private readonly addr6 = this.index.column(Uint8Array, 16);
  private readonly payloadOf = this.index.column(Uint32Array);
  private readonly window: InflightWindow;
  /** The conn's send stamp (wall-clock ms, NaN = none) of each ring entry of the window. */
  private readonly entStamp = this.index.column(Float64Array, RING);

  /** seq16 → local index + 1 (0 = none) and full sequence of the probe that used it. */
  private readonly seq16Local = new Int32Array(65_536);
  private readonly seq16Seq = new Uint32Array(65_536);
  private seq16 = 0;
  private sendsSinceDrain = 0;

  private closed = false;

  private readonly txBuf = Buffer.alloc(ICMP_HEADER_BYTES + PAYLOAD_MAX);
  private readonly txView = new DataView(this.txBuf.buffer, this.txBuf.byteOffset, this.txBuf.byteLength);
  private readonly pkt = new ParsedPacket();
  private rxView: DataView | null = null;
  private rxViewBuf: Buffer | null = null;
  private readonly scratch6 = new Uint8Array(16);

  readonly stats: IcmpStats;
  /** stats as of the previous reportStats() (deltas go into the batch header). */
  private readonly reported = { kernelRtt: 0, monotonicRtt: 0, clockFallbacks: 0 };

  private readonly onPacket4 = (buf: Buffer, len: number, source: string, t: number, kt: number, sb?: Uint8Array): void =>
    this.receive(4, buf, len, source, t, kt, sb);
  private readonly onPacket6 = (buf: Buffer, len: number, source: string, t: number, kt: number, sb?: Uint8Array): void =>
    this.receive(6, buf, len, source, t, kt, sb);

  constructor(
    private readonly sink: ProbeSink,
    settings: ShardSettings,
    opts: IcmpProberOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.window = new InflightWindow(this.index, sink, this.clock, RING);
    this.stats = new IcmpStats(this.window.books);
    const choice = settings.icmpSocket ?? 'auto';
    this.openConn = opts.openConn ?? ((family) => openIcmpConn(family, choice));
    this.identifier = settings.icmpIdentifier & 0xffff;
    this.cookie = settings.cookie >>> 0;
    fillPadding(this.txBuf);
  }

  get size(): number {
    return this.index.size;
  }

  add(target: ShardTarget): void {
    if (this.closed) throw new Error('icmp prober closed');
    const family = target.family;
    if (family !== 4 && family !== 6) throw new Error(`icmp: bad address family ${String(family)}`);
    let v4 = 0;
    if (family === 4) {
      v4 = parseIPv4(target.ip);
      if (v4 < 0) throw new Error(`icmp: not an IPv4 address: ${target.ip}`);
    } else if (!parseIPv6Into(target.ip, this.scratch6, 0)) {
      throw new Error(`icmp: not an IPv6 address: ${target.ip}`);
    }
    if (!(target.intervalMs > 0) || !(target.timeoutMs > 0)) throw new Error('icmp: interval and timeout must be > 0');
    if (!this.window.admit(target.intervalMs, target.timeoutMs)) {
      throw new Error(`icmp: timeout ${target.timeoutMs} ms spans more than ${RING - 1} intervals of ${target.intervalMs} ms`);
    }
    const payload = effectivePayloadSize(target.payloadSize);
    if (payload > PAYLOAD_MAX) throw new Error(`icmp: payload ${target.payloadSize} bytes too large (max ${PAYLOAD_MAX})`);
    this.connFor(family); // throws if the socket cannot be opened

    let i = this.index.localOf(target.slot);
    if (i < 0) i = this.index.add(target.slot);
    // New, or re-added (a changed target): its in-flight probes are forgotten.
    this.window.start(i, target.timeoutMs);
    this.familyOf.data[i] = family;
    this.ipOf.data[i] = target.ip;
    this.addr4.data[i] = v4;
    if (family === 6) this.addr6.data.set(this.scratch6, i * 16);
    this.payloadOf.data[i] = payload;
  }

  reserve(targets: number): void {
    this.index.reserve(targets);
  }

  remove(slot: number): void {
    const i = this.index.localOf(slot);
    if (i < 0) return;
    this.window.forget(i);
    this.index.remove(slot);
    this.ipOf.data[i] = '';
  }

  probe(slot: number): void {
    const i = this.index.localOf(slot);
    if (i < 0 || this.closed) return;
    const now = this.clock.now();
    // Books Sent (and the timeout of a probe still pending in its ring entry).
    const e = this.window.open(i, now);
    const seq = this.window.seqAt(e);

    const s16 = this.seq16;
    this.seq16 = (s16 + 1) & 0xffff;
    this.seq16Local[s16] = i + 1;
    this.seq16Seq[s16] = seq;

    const family = this.familyOf.data[i] as 4 | 6;
    const conn = this.conns[family === 4 ? 0 : 1]!;
    const len = writeEchoRequest(this.txBuf, this.txView, family, this.identifier, s16, this.cookie, slot, seq, now, this.payloadOf.data[i]);
    const sent =
      conn.sendTo !== undefined
        ? conn.sendTo(this.txBuf, len, this.addr4.data[i], this.addr6.data, i * 16)
        : conn.send(this.txBuf, len, this.ipOf.data[i]) === null;
    if (!sent) {
      this.window.fail(e, ErrorReason.send_failed);
      return;
    }
    this.entStamp.data[e] = conn.sendStamp !== undefined ? conn.sendStamp() : NaN;
    if (++this.sendsSinceDrain >= DRAIN_EVERY_SENDS) {
      this.sendsSinceDrain = 0;
      this.conns[0]?.drainNow?.();
      this.conns[1]?.drainNow?.();
    }
  }

  reportStats(h: Float64Array): void {
    const st = this.stats;
    const r = this.reported;
    h[Header.IcmpRttKernel] += st.kernelRtt - r.kernelRtt;
    h[Header.IcmpRttMonotonic] += st.monotonicRtt - r.monotonicRtt;
    h[Header.IcmpStampsRejected] += st.clockFallbacks - r.clockFallbacks;
    r.kernelRtt = st.kernelRtt;
    r.monotonicRtt = st.monotonicRtt;
    r.clockFallbacks = st.clockFallbacks;
    h[Header.IcmpSocket4] = socketBits(this.conns[0], this.filterStatus[0]);
    h[Header.IcmpSocket6] = socketBits(this.conns[1], this.filterStatus[1]);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.window.close();
    for (let f = 0; f < 2; f++) {
      this.conns[f]?.close();
      this.conns[f] = null;
    }
  }

  // ---- receive path -------------------------------------------------------

  private receive(family: 4 | 6, buf: Buffer, len: number, source: string, recvTime: number, kernelRecvTime: number, sourceBytes?: Uint8Array): void {
    try {
      this.handlePacket(family, buf, len, source, recvTime, kernelRecvTime, sourceBytes);
    } catch {
      // Never let one packet kill the shard; a bug here shows up as 'garbage' drops.
      this.drop(DropReason.garbage);
    }
  }

  private drop(reason: number): void {
    this.stats.dropped++;
    this.sink.dropped(reason);
  }

  private handlePacket(
    family: 4 | 6,
    buf: Buffer,
    len: number,
    source: string,
    recvTime: number,
    kernelRecvTime: number,
    sourceBytes: Uint8Array | undefined,
  ): void {
    if (this.rxViewBuf !== buf) {
      this.rxViewBuf = buf;
      this.rxView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    const p = this.pkt;
    const dgram = this.conns[family === 4 ? 0 : 1]?.kind === 'dgram';
    const kind = p.parse(buf, this.rxView!, len, family, dgram);
    if (kind === PacketKind.Drop) return this.drop(p.drop);
    // A ping socket's identifier is the kernel's choice, and the kernel already
    // delivered only this socket's replies: the cookie, slot and sequence still check.
    if (!dgram && p.identifier !== this.identifier) return this.drop(DropReason.foreign_identifier);

    let i: number;
    let seq: number;
    if (p.hasPayload) {
      if (p.cookie !== this.cookie) return this.drop(DropReason.bad_cookie);
      const li = this.index.localOf(p.slot);
      if (li < 0 || this.familyOf.data[li] !== family) return this.drop(DropReason.unknown_slot);
      i = li;
      seq = p.seq;
    } else {
      // An error quoting only our header: (identifier, seq16) names the probe.
      const owner = this.seq16Local[p.seq16];
      if (owner === 0) return this.drop(DropReason.bad_sequence);
      i = owner - 1;
      if (!this.index.inUse(i) || this.familyOf.data[i] !== family) return this.drop(DropReason.unknown_slot);
      seq = this.seq16Seq[p.seq16];
    }
    if (!this.addressMatches(i, family, buf, p.addrOffset, source, sourceBytes)) return this.drop(DropReason.address_mismatch);

    const e = this.window.find(i, seq);
    if (e < 0) return this.drop(DropReason.bad_sequence);
    if (p.hasPayload && p.sendTime !== this.window.sentAt(e)) return this.drop(DropReason.bad_sequence);

    // An error for a probe whose outcome is already booked adds nothing (and is no drop).
    if (kind === PacketKind.Error) {
      this.window.fail(e, p.error);
      return;
    }
    if (this.window.answer(e, this.rttOf(e, recvTime, kernelRecvTime)) === Outcome.Unknown) this.drop(DropReason.bad_sequence);
  }

  /** RTT in ms of ring entry e: from the kernel's stamps if consistent, else monotonic. */
  private rttOf(e: number, recvTime: number, kernelRecvTime: number): number {
    const monotonic = recvTime - this.window.sentAt(e);
    const kernel = kernelRecvTime - this.entStamp.data[e]; // NaN if either stamp is missing
    if (kernel >= 0 && kernel <= monotonic) {
      this.stats.kernelRtt++;
      return kernel;
    }
    this.stats.monotonicRtt++;
    if (kernel === kernel) {
      // Both stamps present but impossible: the wall clock stepped in between.
      if (this.stats.clockFallbacks++ === 0) {
        this.sink.log?.('warn', 'icmp: kernel timestamps inconsistent (wall clock stepped?); using monotonic RTT for such replies', {
          kernelRttMs: kernel,
          monotonicRttMs: monotonic,
        });
      }
    }
    return monotonic;
  }

  /**
   * Whether the packet names target i's address: at `off` in the packet, or (off < 0)
   * recvfrom()'s source, as bytes (sourceBytes) or as the string `source`.
   */
  private addressMatches(i: number, family: 4 | 6, buf: Buffer, off: number, source: string, sourceBytes: Uint8Array | undefined): boolean {
    if (family === 4) {
      let b: Uint8Array = buf;
      if (off < 0) {
        // ping socket: recvfrom()'s source
        if (sourceBytes === undefined) return parseIPv4(source) === this.addr4.data[i];
        b = sourceBytes;
        off = 0;
      }
      if (off + 4 > b.length) return false;
      return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0 === this.addr4.data[i];
    }
    let a: Uint8Array;
    let ao: number;
    if (off < 0 && sourceBytes !== undefined) {
      a = sourceBytes;
      ao = 0;
    } else if (off < 0) {
      if (!parseIPv6Into(source, this.scratch6, 0)) return false;
      a = this.scratch6;
      ao = 0;
    } else {
      if (off + 16 > buf.length) return false;
      a = buf;
      ao = off;
    }
    const t = this.addr6.data;
    const to = i * 16;
    for (let k = 0; k < 16; k++) if (a[ao + k] !== t[to + k]) return false;
    return true;
  }

  // ---- bookkeeping -----------------------------------------------------------

  private connFor(family: 4 | 6): IcmpConn {
    const f = family === 4 ? 0 : 1;
    const existing = this.conns[f];
    if (existing) return existing;
    if (this.connError[f] !== null) throw new Error(this.connError[f]);
    let conn: IcmpConn;
    try {
      conn = this.openConn(family);
    } catch (err) {
      // Remember: retrying a raw socket per target would spam the same EPERM.
      const detail = err instanceof Error ? err.message : String(err);
      const hint = /not permitted|EPERM|EACCES|permission denied/i.test(detail) ? ' (see "Running unprivileged" in the README)' : '';
      const msg = `icmp: ${detail}${hint}`;
      this.connError[f] = msg;
      throw new Error(msg, { cause: err });
    }
    conn.onPacket(family === 4 ? this.onPacket4 : this.onPacket6);
    const status = conn.setFilters(this.identifier);
    this.filterStatus[f] = status;
    if (status.problems.length > 0) {
      this.sink.log?.('warn', 'icmp socket setup incomplete', {
        family,
        typeFilter: status.typeFilter,
        bpf: status.bpf,
        kernelTimestamps: status.kernelTimestamps,
        problems: status.problems,
      });
    }
    this.conns[f] = conn;
    return conn;
  }
}

/** IcmpProberStats over the window's books (live: read when asked) plus the prober's own counters. */
class IcmpStats implements IcmpProberStats {
  dropped = 0;
  kernelRtt = 0;
  monotonicRtt = 0;
  clockFallbacks = 0;
  constructor(private readonly books: InflightBooks) {}
  get sent(): number {
    return this.books.sent;
  }
  get replies(): number {
    return this.books.replies;
  }
  get timeouts(): number {
    return this.books.timeouts;
  }
  get errors(): number {
    return this.books.errors;
  }
  get duplicates(): number {
    return this.books.duplicates;
  }
  get late(): number {
    return this.books.late;
  }
}

/** IcmpSocketBits of one family's socket (0 when it is not open). */
function socketBits(conn: IcmpConn | null, status: FilterStatus | null): number {
  if (conn === null) return 0;
  let bits = IcmpSocketBits.Open;
  if (status?.bpf) bits |= IcmpSocketBits.BpfFilter;
  if (status?.typeFilter) bits |= IcmpSocketBits.TypeFilter;
  if (status?.kernelTimestamps) bits |= IcmpSocketBits.KernelTimestamps;
  if (conn.kind === 'dgram') bits |= IcmpSocketBits.PingSocket;
  return bits;
}

export const icmpProberFactory: ProberFactory = (sink, settings) => new IcmpProber(sink, settings);

/**
 * tcp_echo: RTT over a persistent TCP connection per target, wire compatible with
 * tcp_ping_prometheus: each probe writes one 16-byte frame (uint64 BE sequence, uint64 BE
 * Unix ns) and the server echoes it unchanged.
 *
 * - RTT is measured against the send time kept locally per sequence (SeqWindow), never
 *   against the timestamp on the wire (that one is only for compatibility with peers).
 * - TCP is a byte stream: one read may hold half a frame or several frames. A per
 *   connection 16-byte carry buffer reassembles frames across reads.
 * - A frame not echoed within timeoutMs is a timeout (it stays recorded, so a later echo
 *   counts as late). An echo whose sequence we never sent, or cannot remember, is dropped
 *   and counted as garbage.
 * - Nagle is disabled (setNoDelay): a 16-byte frame must leave at once, not wait for the
 *   ACK of the previous one, or RTTs would include up to 40 ms of delayed-ACK stall.
 * - Connection lost: probes in flight fail with `reset`/`closed`; the prober reconnects
 *   with capped exponential backoff (options.reconnectMinBackoffMs, default 100,
 *   doubling up to options.reconnectMaxBackoffMs, default 30,000; each wait drawn
 *   uniformly from [backoff/2, backoff] so a fleet does not reconnect in lockstep). The
 *   backoff resets after the first echoed frame on a new connection, so a server that
 *   accepts and immediately closes is still retried at a slowing pace.
 * - Probes due while disconnected are counted Sent + Error with the last connect failure
 *   (`refused`, `connect_failed`, ...), so downtime shows as loss with its cause. The only
 *   exception is the very first connection attempt of a target: probes due before it
 *   resolves are skipped (no Sent), so starting up is not reported as loss.
 *   Books: sent = replies + timeouts + errors + in flight.
 * - Records: ProbeEvent.Connect (value: connect seconds) on every established connection,
 *   ProbeEvent.Connected aux=1 when it comes up and aux=0 when it goes down.
 */
import net from 'node:net';
import { DropReason, ErrorReason, ProbeEvent } from '../../src/protocol/events.js';
import type { ShardSettings } from '../../src/protocol/messages.js';
import type { ShardTarget } from '../../src/targets/model.js';
import type { Prober, ProberFactory, ProbeSink } from './prober.js';
import { DeadlineTimer } from './tcp-udp-deadline-timer.js';
import { connectErrorReason, errorCode, establishedErrorReason } from './tcp-errors.js';
import { ECHO_FRAME_BYTES, readEchoSeq, writeEchoFrame } from './tcp-echo-wire.js';
import { optionsOf } from '../../src/kinds/index.js';
import { SeqMatch, SeqWindow, windowCapacity } from './tcp-udp-seq-window.js';

const enum ConnState {
  Connecting = 1,
  Up = 2,
  /** Waiting for the reconnect backoff to elapse. */
  Down = 3,
  Removed = 4,
}

const TCP_KEEPALIVE_MS = 10_000;

class EchoConnection {
  state = ConnState.Down;
  socket: net.Socket | null = null;
  /** True once the target was up or a connect failed: from then on, probes while down count as errors. */
  settled = false;
  lastReason: number = ErrorReason.connect_failed;
  backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private connectStartedAt = 0;
  /** Error seen on the current socket before it closed, if any. */
  private socketErrorCode: string | undefined;
  private readonly carry = Buffer.alloc(ECHO_FRAME_BYTES);
  private carryLen = 0;
  /** Whether an echo arrived on the current connection (resets the backoff once). */
  private echoedOnThisConnection = false;
  readonly window: SeqWindow;
  readonly timer: DeadlineTimer;

  constructor(
    private readonly sink: ProbeSink,
    readonly slot: number,
    readonly ip: string,
    readonly port: number,
    readonly family: 4 | 6,
    readonly timeoutMs: number,
    private readonly connectTimeoutMs: number,
    private readonly minBackoffMs: number,
    private readonly maxBackoffMs: number,
    intervalMs: number,
  ) {
    this.backoffMs = minBackoffMs;
    this.window = new SeqWindow(windowCapacity(intervalMs, timeoutMs));
    this.timer = new DeadlineTimer(() => this.expire());
  }

  connect(): void {
    if (this.state === ConnState.Removed) return;
    this.reconnectTimer = null;
    this.state = ConnState.Connecting;
    this.socketErrorCode = undefined;
    this.carryLen = 0;
    this.echoedOnThisConnection = false;
    this.connectStartedAt = performance.now();
    const s = net.connect({ host: this.ip, port: this.port, family: this.family, noDelay: true });
    this.socket = s;
    // One set of listeners per connection (not per probe); they ignore a socket that is no longer current.
    s.on('connect', () => s === this.socket && this.onConnect());
    s.on('data', (chunk: Buffer) => s === this.socket && this.onData(chunk));
    s.on('error', (err: Error) => {
      if (s === this.socket) this.socketErrorCode ??= errorCode(err) ?? 'EUNKNOWN';
    });
    s.on('close', () => s === this.socket && this.onClose());
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      if (s === this.socket && this.state === ConnState.Connecting) {
        this.socketErrorCode ??= 'ETIMEDOUT';
        s.destroy();
      }
    }, this.connectTimeoutMs);
  }

  private onConnect(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    const s = this.socket!;
    s.setNoDelay(true);
    // Detect a peer that vanished without a RST while no probe is outstanding.
    s.setKeepAlive(true, TCP_KEEPALIVE_MS);
    this.state = ConnState.Up;
    this.settled = true;
    this.sink.record(this.slot, ProbeEvent.Connect, 0, 0, (performance.now() - this.connectStartedAt) / 1000);
    this.sink.record(this.slot, ProbeEvent.Connected, 0, 1, 0);
  }

  private onClose(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.socket = null;
    const code = this.socketErrorCode;
    if (this.state === ConnState.Up) {
      this.sink.record(this.slot, ProbeEvent.Connected, 0, 0, 0);
      const reason = code === undefined ? ErrorReason.closed : establishedErrorReason(code);
      this.lastReason = reason;
      for (let n = this.window.failAll(); n > 0; n--) this.sink.error(this.slot, reason);
    } else {
      this.lastReason = code === 'ETIMEDOUT' || code === undefined ? ErrorReason.connect_failed : connectErrorReason(code);
      this.settled = true;
    }
    if (this.state === ConnState.Removed) return;
    this.state = ConnState.Down;
    const wait = this.backoffMs * (0.5 + Math.random() * 0.5);
    this.backoffMs = Math.min(this.maxBackoffMs, this.backoffMs * 2);
    this.reconnectTimer = setTimeout(() => this.connect(), wait);
  }

  probe(): void {
    if (this.state !== ConnState.Up) {
      if (!this.settled) return; // first connection attempt still pending: not sent, not lost
      this.sink.sent(this.slot);
      this.sink.error(this.slot, this.lastReason);
      return;
    }
    const now = performance.now();
    this.sink.sent(this.slot);
    const seq = this.window.open(now);
    if (this.window.evicted) this.sink.timeout(this.slot);
    // A fresh 16-byte slice of Node's buffer pool: the write may be queued, so the bytes must not be reused.
    const frame = Buffer.allocUnsafe(ECHO_FRAME_BYTES);
    writeEchoFrame(frame, 0, seq, performance.timeOrigin + now);
    this.socket!.write(frame);
    this.timer.arm(now + this.timeoutMs, now);
  }

  private onData(chunk: Buffer): void {
    const now = performance.now();
    let off = 0;
    if (this.carryLen > 0) {
      const take = Math.min(ECHO_FRAME_BYTES - this.carryLen, chunk.length);
      chunk.copy(this.carry, this.carryLen, 0, take);
      this.carryLen += take;
      off = take;
      if (this.carryLen < ECHO_FRAME_BYTES) return;
      this.carryLen = 0;
      this.onFrame(this.carry, 0, now);
    }
    while (chunk.length - off >= ECHO_FRAME_BYTES) {
      this.onFrame(chunk, off, now);
      off += ECHO_FRAME_BYTES;
    }
    if (off < chunk.length) {
      chunk.copy(this.carry, 0, off);
      this.carryLen = chunk.length - off;
    }
  }

  private onFrame(buf: Buffer, off: number, now: number): void {
    const seq = readEchoSeq(buf, off);
    const m = seq < 0 ? SeqMatch.Unknown : this.window.match(seq, now);
    switch (m) {
      case SeqMatch.Reply:
        this.sink.reply(this.slot, this.window.rttMs / 1000);
        if (!this.echoedOnThisConnection) {
          this.echoedOnThisConnection = true;
          this.backoffMs = this.minBackoffMs;
        }
        break;
      case SeqMatch.Duplicate:
        this.sink.duplicate(this.slot);
        break;
      case SeqMatch.Late:
        this.sink.late(this.slot, this.window.rttMs / 1000);
        break;
      default:
        this.sink.dropped(DropReason.garbage);
    }
  }

  private expire(): void {
    if (this.state === ConnState.Removed) return;
    const now = performance.now();
    for (let n = this.window.expire(now - this.timeoutMs); n > 0; n--) this.sink.timeout(this.slot);
    const oldest = this.window.oldestSentAt();
    if (oldest === oldest) this.timer.arm(oldest + this.timeoutMs, now);
  }

  /** Stop for good; in-flight probes are forgotten (Prober.remove contract). */
  dispose(): void {
    this.state = ConnState.Removed;
    this.timer.cancel();
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.reconnectTimer = this.connectTimer = null;
    const s = this.socket;
    this.socket = null; // listeners ignore a socket that is no longer current
    if (s) {
      s.on('error', () => {});
      s.destroy();
    }
  }
}

export class TcpEchoProber implements Prober {
  private readonly conns = new Map<number, EchoConnection>();

  constructor(private readonly sink: ProbeSink) {}

  add(t: ShardTarget): void {
    if (net.isIP(t.ip) === 0) throw new Error(`tcp_echo: ${JSON.stringify(t.ip)} is not an IP address`);
    if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new Error(`tcp_echo: bad port ${t.port}`);
    const timeoutMs = Math.max(1, t.timeoutMs);
    // Validated and normalised by the main thread (src/kinds/tcp-echo.ts), every default applied.
    const o = optionsOf(t.options, 'tcp_echo');
    this.remove(t.slot);
    const c = new EchoConnection(this.sink, t.slot, t.ip, t.port, t.family, timeoutMs, o.connectTimeoutMs, o.reconnectMinBackoffMs, o.reconnectMaxBackoffMs, Math.max(1, t.intervalMs));
    this.conns.set(t.slot, c);
    c.connect();
  }

  remove(slot: number): void {
    const c = this.conns.get(slot);
    if (!c) return;
    this.conns.delete(slot);
    c.dispose();
  }

  probe(slot: number): void {
    this.conns.get(slot)?.probe();
  }

  close(): void {
    for (const c of this.conns.values()) c.dispose();
    this.conns.clear();
  }
}

export const tcpEchoProberFactory: ProberFactory = (sink: ProbeSink, _settings: ShardSettings) => new TcpEchoProber(sink);

/**
 * tcp_echo: RTT over a persistent TCP connection per target, wire compatible with
 * tcp_ping_prometheus: each probe writes one 16-byte frame (uint64 BE sequence, uint64 BE
 * Unix ns) and the server echoes it unchanged.
 *
 * - RTT is measured against the send time kept locally per sequence (the prober's
 *   InflightWindow: one ring per target, one timer for every deadline), never against
 *   the timestamp on the wire (that one is only for compatibility with peers).
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
import { connectErrorReason, errorCode, establishedErrorReason } from './socket-errors.js';
import { ECHO_FRAME_BYTES, readEchoSeq, writeEchoFrame } from './tcp-echo-wire.js';
import { optionsOf } from '../../src/kinds/index.js';
import { SlotTable } from '../slot-index.js';
import { AfterFailure, ECHO_RING, InflightWindow, MAX_RING, Outcome } from '../inflight-window.js';
import { systemClock, type Clock } from '../time/clock.js';

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
  /** Connection lifecycle timers (rare: per connect, not per probe), on the prober's clock. */
  private reconnectTimer: unknown = null;
  private connectTimer: unknown = null;
  private connectStartedAt = 0;
  /** Error seen on the current socket before it closed, if any. */
  private socketErrorCode: string | undefined;
  private readonly carry = Buffer.alloc(ECHO_FRAME_BYTES);
  private carryLen = 0;
  /** Whether an echo arrived on the current connection (resets the backoff once). */
  private echoedOnThisConnection = false;

  constructor(
    private readonly sink: ProbeSink,
    private readonly window: InflightWindow,
    private readonly clock: Clock,
    readonly slot: number,
    /** Local index in the prober's SlotTable (and InflightWindow). */
    readonly local: number,
    readonly ip: string,
    readonly port: number,
    readonly family: 4 | 6,
    private readonly connectTimeoutMs: number,
    private readonly minBackoffMs: number,
    private readonly maxBackoffMs: number,
  ) {
    this.backoffMs = minBackoffMs;
  }

  connect(): void {
    if (this.state === ConnState.Removed) return;
    this.reconnectTimer = null;
    this.state = ConnState.Connecting;
    this.socketErrorCode = undefined;
    this.carryLen = 0;
    this.echoedOnThisConnection = false;
    this.connectStartedAt = this.clock.now();
    const s = net.connect({ host: this.ip, port: this.port, family: this.family, noDelay: true });
    this.socket = s;
    // One set of listeners per connection (not per probe); they ignore a socket that is no longer current.
    s.on('connect', () => s === this.socket && this.onConnect());
    s.on('data', (chunk: Buffer) => s === this.socket && this.onData(chunk));
    s.on('error', (err: Error) => {
      if (s === this.socket) this.socketErrorCode ??= errorCode(err) ?? 'EUNKNOWN';
    });
    s.on('close', () => s === this.socket && this.onClose());
    this.connectTimer = this.clock.setTimeout(() => {
      this.connectTimer = null;
      if (s === this.socket && this.state === ConnState.Connecting) {
        this.socketErrorCode ??= 'ETIMEDOUT';
        s.destroy();
      }
    }, this.connectTimeoutMs);
  }

  private onConnect(): void {
    if (this.connectTimer !== null) this.clock.clearTimeout(this.connectTimer);
    this.connectTimer = null;
    const s = this.socket!;
    s.setNoDelay(true);
    // Detect a peer that vanished without a RST while no probe is outstanding.
    s.setKeepAlive(true, TCP_KEEPALIVE_MS);
    this.state = ConnState.Up;
    this.settled = true;
    this.sink.record(this.slot, ProbeEvent.Connect, 0, 0, (this.clock.now() - this.connectStartedAt) / 1000);
    this.sink.record(this.slot, ProbeEvent.Connected, 0, 1, 0);
  }

  private onClose(): void {
    if (this.connectTimer !== null) this.clock.clearTimeout(this.connectTimer);
    this.connectTimer = null;
    this.socket = null;
    const code = this.socketErrorCode;
    if (this.state === ConnState.Up) {
      this.sink.record(this.slot, ProbeEvent.Connected, 0, 0, 0);
      const reason = code === undefined ? ErrorReason.closed : establishedErrorReason(code);
      this.lastReason = reason;
      // Their echoes cannot come any more: an echo of one on a new connection is garbage.
      this.window.failAll(this.local, reason, AfterFailure.Unknown);
    } else {
      this.lastReason = code === 'ETIMEDOUT' || code === undefined ? ErrorReason.connect_failed : connectErrorReason(code);
      this.settled = true;
    }
    if (this.state === ConnState.Removed) return;
    this.state = ConnState.Down;
    const wait = this.backoffMs * (0.5 + Math.random() * 0.5);
    this.backoffMs = Math.min(this.maxBackoffMs, this.backoffMs * 2);
    this.reconnectTimer = this.clock.setTimeout(() => this.connect(), wait);
  }

  probe(): void {
    if (this.state !== ConnState.Up) {
      if (!this.settled) return; // first connection attempt still pending: not sent, not lost
      this.sink.sent(this.slot);
      this.sink.error(this.slot, this.lastReason);
      return;
    }
    const now = this.clock.now();
    // Books Sent (and the timeout of a probe still pending in its ring entry).
    const e = this.window.open(this.local, now);
    // A fresh 16-byte slice of Node's buffer pool: the write may be queued, so the bytes must not be reused.
    const frame = Buffer.allocUnsafe(ECHO_FRAME_BYTES);
    writeEchoFrame(frame, 0, this.window.seqAt(e), this.clock.originMs + now);
    this.socket!.write(frame);
  }

  private onData(chunk: Buffer): void {
    const now = this.clock.now();
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
    const e = this.window.find(this.local, readEchoSeq(buf, off)); // readEchoSeq: -1 for a sequence we cannot have sent
    // Reply, Late or Duplicate are booked by the window.
    const outcome = e < 0 ? Outcome.Unknown : this.window.answer(e, now - this.window.sentAt(e));
    if (outcome === Outcome.Unknown) {
      this.sink.dropped(DropReason.garbage);
    } else if (outcome !== Outcome.Duplicate && !this.echoedOnThisConnection) {
      // The peer echoes on this connection: the next reconnect starts from the shortest backoff.
      this.echoedOnThisConnection = true;
      this.backoffMs = this.minBackoffMs;
    }
  }

  /** Stop for good; in-flight probes are forgotten (Prober.remove contract). */
  dispose(): void {
    this.state = ConnState.Removed;
    this.window.forget(this.local);
    if (this.reconnectTimer !== null) this.clock.clearTimeout(this.reconnectTimer);
    if (this.connectTimer !== null) this.clock.clearTimeout(this.connectTimer);
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
  private readonly conns = new SlotTable<EchoConnection>();
  private readonly clock: Clock;
  private readonly window: InflightWindow;

  constructor(
    private readonly sink: ProbeSink,
    opts: { clock?: Clock } = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.window = new InflightWindow(this.conns.index, sink, this.clock, ECHO_RING, MAX_RING);
  }

  add(t: ShardTarget): void {
    if (net.isIP(t.ip) === 0) throw new Error(`tcp_echo: ${JSON.stringify(t.ip)} is not an IP address`);
    if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new Error(`tcp_echo: bad port ${t.port}`);
    const timeoutMs = Math.max(1, t.timeoutMs);
    // Validated and normalised by the main thread (src/kinds/tcp-echo.ts), every default applied.
    const o = optionsOf(t.options, 'tcp_echo');
    // Room for every probe in flight (the ring grows for a timeout of many intervals; beyond
    // MAX_RING the oldest probe in flight is booked as a timeout when its entry is reused).
    this.window.admit(Math.max(1, t.intervalMs), timeoutMs);
    this.remove(t.slot);
    const c = this.conns.add(
      t.slot,
      (i) =>
        new EchoConnection(
          this.sink,
          this.window,
          this.clock,
          t.slot,
          i,
          t.ip,
          t.port,
          t.family,
          o.connectTimeoutMs,
          o.reconnectMinBackoffMs,
          o.reconnectMaxBackoffMs,
        ),
    );
    this.window.start(c.local, timeoutMs);
    c.connect();
  }

  remove(slot: number): void {
    this.conns.remove(slot)?.dispose();
  }

  probe(slot: number): void {
    this.conns.get(slot)?.probe();
  }

  close(): void {
    for (const c of this.conns.values()) this.remove(c.slot);
    this.window.close();
  }
}

export const tcpEchoProberFactory: ProberFactory = (sink: ProbeSink, _settings: ShardSettings) => new TcpEchoProber(sink);

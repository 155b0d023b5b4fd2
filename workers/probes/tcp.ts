/**
 * tcp: TCP connect time to ip:port. One probe = one connect(); RTT = time until the
 * three-way handshake completes (the SYN-ACK came back and our ACK went out).
 *
 * Closing: by default the socket is closed with a RST (socket.resetAndDestroy(),
 * SO_LINGER 0) right after the handshake, not with a FIN. The side that sends the first
 * FIN keeps the connection in TIME_WAIT for 60 s on Linux; at 5,000 targets probed every
 * second that is 300,000 TIME_WAIT entries on the prober (above the default
 * net.ipv4.tcp_max_tw_buckets, and a strain on the ephemeral port range per destination).
 * A RST frees the 4-tuple at once on both ends. The cost: the server sees a reset instead
 * of an orderly close (an error line in some server logs). options.close = "fin" restores
 * the orderly close for servers that alert on resets.
 *
 * Outcomes: handshake done → reply; RST to the SYN → error `refused`; ENETUNREACH /
 * EHOSTUNREACH → net_/host_unreachable; other errors → connect_failed; nothing within
 * timeoutMs → timeout (the socket is destroyed, the kernel stops retrying the SYN).
 *
 * No per-probe closures or timers: attempts are pooled objects; socket listeners are shared
 * functions that find their attempt through the socket (`this` in an EventEmitter listener);
 * one timer holds every attempt's deadline (AttemptPool).
 */
import net from 'node:net';
import type { ShardSettings } from '../../src/protocol/messages.js';
import type { ShardTarget } from '../../src/targets/model.js';
import type { Prober, ProberFactory, ProbeSink } from './prober.js';
import { connectErrorReason, errorCode } from './socket-errors.js';
import { optionsOf } from '../../src/kinds/index.js';
import { SlotTable } from '../slot-index.js';
import { systemClock, type Clock } from '../time/clock.js';
import { AttemptPool } from './attempt-pool.js';

interface TcpTarget {
  slot: number;
  ip: string;
  port: number;
  family: 4 | 6;
  timeoutMs: number;
  resetOnClose: boolean;
  /** Attempts still waiting for an outcome (usually 0 or 1). */
  attempts: Set<TcpAttempt>;
}

const ATTEMPT = Symbol('fleetprobe.tcpAttempt');
type AttemptSocket = net.Socket & { [ATTEMPT]?: TcpAttempt };

/** One connect in flight; pooled (target and socket are set while it is in flight). */
class TcpAttempt {
  done = true;
  target: TcpTarget | null = null;
  socket: AttemptSocket | null = null;
  startedAt = 0;
  constructor(
    readonly prober: TcpProber,
    /** Its id in the prober's AttemptPool. */
    readonly id: number,
  ) {}
}

function onConnect(this: AttemptSocket): void {
  const a = this[ATTEMPT];
  if (a) a.prober.finish(a, 0, a.prober.clock.now() - a.startedAt);
}

function onError(this: AttemptSocket, err: Error): void {
  const a = this[ATTEMPT];
  if (a) a.prober.finish(a, 1 + connectErrorReason(errorCode(err)), 0);
}

function ignoreError(): void {
  // after the outcome is reported a late error on the socket is of no interest,
  // but an 'error' without a listener would crash the worker.
}

export class TcpProber implements Prober {
  private readonly targets = new SlotTable<TcpTarget>();
  readonly clock: Clock;
  /** An attempt past its deadline is a timeout (the socket is destroyed, the kernel stops retrying the SYN). */
  private readonly attempts: AttemptPool<TcpAttempt>;

  constructor(
    private readonly sink: ProbeSink,
    opts: { clock?: Clock } = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.attempts = new AttemptPool(
      this.clock,
      (id) => new TcpAttempt(this, id),
      (a) => this.finish(a, -1, 0),
    );
  }

  add(t: ShardTarget): void {
    if (net.isIP(t.ip) === 0) throw new Error(`tcp: ${JSON.stringify(t.ip)} is not an IP address`);
    if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new Error(`tcp: bad port ${t.port}`);
    const target: TcpTarget = {
      slot: t.slot,
      ip: t.ip,
      port: t.port,
      family: t.family,
      timeoutMs: Math.max(1, t.timeoutMs),
      resetOnClose: optionsOf(t.options, 'tcp').close === 'reset',
      attempts: new Set(),
    };
    this.remove(t.slot);
    this.targets.add(t.slot, () => target);
  }

  remove(slot: number): void {
    const t = this.targets.remove(slot);
    if (t === undefined) return;
    for (const a of t.attempts) this.abandon(a);
    t.attempts.clear();
  }

  probe(slot: number): void {
    const t = this.targets.get(slot);
    if (t === undefined) return;
    this.sink.sent(slot);
    let socket: AttemptSocket;
    const startedAt = this.clock.now();
    try {
      socket = net.connect({ host: t.ip, port: t.port, family: t.family, noDelay: true });
    } catch (err) {
      this.sink.error(slot, connectErrorReason(errorCode(err)));
      return;
    }
    const a = this.attempts.acquire();
    a.done = false;
    a.target = t;
    a.socket = socket;
    a.startedAt = startedAt;
    socket[ATTEMPT] = a;
    socket.once('connect', onConnect);
    socket.on('error', onError);
    this.attempts.setDeadline(a, startedAt + t.timeoutMs);
    t.attempts.add(a);
  }

  /** outcome: 0 reply, -1 timeout, 1+reason error. Exactly one call reports. */
  finish(a: TcpAttempt, outcome: number, rttMs: number): void {
    if (a.done) return;
    const t = a.target!;
    const s = a.socket!;
    this.release(a);
    t.attempts.delete(a);
    s.removeListener('error', onError);
    s.on('error', ignoreError);
    if (outcome === 0) {
      this.sink.reply(t.slot, rttMs / 1000);
      if (t.resetOnClose) s.resetAndDestroy();
      else s.destroySoon(); // orderly FIN, then release the handle; the kernel finishes the close
    } else {
      s.destroy();
      if (outcome === -1) this.sink.timeout(t.slot);
      else this.sink.error(t.slot, outcome - 1);
    }
  }

  private abandon(a: TcpAttempt): void {
    const s = a.socket!;
    this.release(a);
    s.on('error', ignoreError);
    s.destroy();
  }

  /** Detach an attempt from its socket (listeners then ignore it) and return it to the pool. */
  private release(a: TcpAttempt): void {
    a.done = true;
    a.socket![ATTEMPT] = undefined;
    a.socket = null;
    a.target = null;
    this.attempts.release(a);
  }

  close(): void {
    for (const t of this.targets.values()) this.remove(t.slot);
    this.attempts.close();
  }
}

export const tcpProberFactory: ProberFactory = (sink: ProbeSink, _settings: ShardSettings) => new TcpProber(sink);

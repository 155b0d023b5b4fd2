/**
 * http: one HTTP/1.1 request per probe to target.url with per-phase timings, the columns of
 * pingmesh/perftest: dns, connect, tls, first_byte, total (seconds, ProbeEvent.Phase with
 * aux = index in HTTP_PHASE_NAMES), plus ProbeEvent.Status with aux = status code.
 *
 * Why not node:http: a probe measures the network, it needs no general client. node:http
 * costs ~300-450 µs of CPU per request (ClientRequest, IncomingMessage, agent, header
 * objects, streams), which capped a 2-core box at ~1,000 new-connection probes/s with the
 * responder beside it. Here a request is one fixed buffer built per target
 * (http-request.ts) written on a plain net.Socket / tls.TLSSocket, and the answer is read
 * by a small incremental parser (http-response-parser.ts: status line, Content-Length,
 * chunked, read-until-close; anything else → `protocol`) straight from one shared read
 * buffer (the socket `onread` option), so the body is never copied into Buffers.
 *
 * Timing comes from socket events, read with the prober's clock (performance.now()):
 *   start ─ 'lookup' ─ 'connect' ─ 'secureConnect' ─ first response byte ─ end of response
 *   dns = lookup-start (0 for an IP literal: Node does not resolve it), connect = connect -
 *   (lookup|start), tls = secureConnect-connect, first_byte = first byte - (the last of
 *   secureConnect|connect|start), total = end-start. On a reused keep-alive connection
 *   only first_byte and total are non-zero.
 *
 * Connections: by default a new connection per probe (what a user coming from nowhere
 * sees), with "Connection: close", so the *server* closes first and carries the TIME_WAIT,
 * not the prober: after the response the socket waits (at most until the probe's deadline)
 * for the server's FIN and then closes. TLS: one SecureContext per target, built at add();
 * no session is ever reused, so every probe measures a full handshake. options.keep_alive
 * = true keeps one idle connection per target and reuses it while the server allows it
 * (HTTP/1.1 without Connection: close and a delimited body); a probe due while it is busy
 * opens another connection. A server may close an idle connection just as a probe is
 * written on it: that probe fails (`closed`/`reset`), as with node's keep-alive agent.
 *
 * Outcomes: an accepted status (options.expect_status) → reply(total); any other status
 * → error status_4xx / status_5xx / status_other; no complete response within timeoutMs →
 * timeout; failures → refused / dns / tls / reset / net_unreachable / host_unreachable /
 * connect_failed / protocol (not a response this parser accepts) / closed (the peer closed
 * before the response was complete). A failure during the TLS handshake (certificate not
 * trusted, wrong name, protocol alert, peer gone) is `tls`.
 * After options.max_body_bytes (default 1 MiB) of body the connection is cut and the probe
 * counts as answered at that moment.
 *
 * Name resolution uses Node's default (dns.lookup via getaddrinfo), re-done for every new
 * connection, which is what the dns phase measures.
 *
 * Hot path: attempts are pooled, listeners are shared functions that find their attempt
 * through a tag on the socket, one timer holds every attempt's deadline (AttemptPool), reads
 * land in one buffer shared by every socket of the thread (read callbacks are synchronous
 * and nothing keeps a reference to it).
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { ErrorReason, HTTP_PHASE_NAMES, ProbeEvent, type HttpPhaseName } from '../../src/protocol/events.js';
import type { ShardSettings } from '../../src/protocol/messages.js';
import type { ShardTarget } from '../../src/targets/model.js';
import type { Prober, ProberFactory, ProbeSink } from './prober.js';
import { buildHttpRequest } from './http-request.js';
import { HttpResponseParser, ParseState } from './http-response-parser.js';
import { statusAccepted, statusErrorReason, statusTable } from './http-status.js';
import { connectErrorReason, errorCode, establishedErrorReason } from './socket-errors.js';
import { optionsOf } from '../../src/kinds/index.js';
import { systemClock, type Clock } from '../time/clock.js';
import { AttemptPool } from './attempt-pool.js';
import { SlotTable } from '../slot-index.js';

const phaseIndex = (name: HttpPhaseName): number => HTTP_PHASE_NAMES.indexOf(name);
const PHASE_DNS = phaseIndex('dns');
const PHASE_CONNECT = phaseIndex('connect');
const PHASE_TLS = phaseIndex('tls');
const PHASE_FIRST_BYTE = phaseIndex('first_byte');
const PHASE_TOTAL = phaseIndex('total');

/** Size of the read buffer shared by all probe sockets of a thread. */
const READ_BUFFER_BYTES = 64 * 1024;

const ATTEMPT = Symbol('fleetprobe.httpAttempt');
type ProbeSocket = net.Socket & { [ATTEMPT]?: HttpAttempt };

const enum Phase {
  /** In the pool. */
  Free = 0,
  /** Waiting for the response: exactly one outcome will be reported. */
  Active = 1,
  /** Outcome reported; waiting (until the deadline) for the server's FIN before closing. */
  Linger = 2,
}

interface HttpTarget {
  slot: number;
  https: boolean;
  /** Options for net.connect / tls.connect, built once (including the secure context). */
  connect: net.NetConnectOpts & tls.ConnectionOptions;
  /** The host is a name: listen for 'lookup' (the dns phase). */
  resolves: boolean;
  request: Buffer;
  headRequest: boolean;
  timeoutMs: number;
  accept: Uint8Array;
  maxBodyBytes: number;
  keepAlive: boolean;
  /** keep_alive: the connection kept for the next probe. */
  idle: ProbeSocket | null;
  /** Active and lingering attempts (usually 0 or 1). */
  attempts: HttpAttempt[];
}

class HttpAttempt {
  phase = Phase.Free;
  target: HttpTarget | null = null;
  socket: ProbeSocket | null = null;
  start = 0;
  deadline = 0;
  tLookup = 0;
  tConnect = 0;
  tSecure = 0;
  tFirstByte = 0;
  /** The request went out on an already-connected keep-alive socket. */
  reused = false;
  readonly parser = new HttpResponseParser();
  constructor(
    readonly prober: HttpProber,
    /** Its id in the prober's AttemptPool. */
    readonly id: number,
  ) {}
}

// Shared listeners (no closures per probe): each finds its attempt through the socket's tag.
function onLookup(this: ProbeSocket): void {
  const a = this[ATTEMPT];
  if (a !== undefined && a.phase === Phase.Active) a.tLookup = a.prober.clock.now();
}
function onConnect(this: ProbeSocket): void {
  const a = this[ATTEMPT];
  if (a !== undefined && a.phase === Phase.Active) a.tConnect = a.prober.clock.now();
}
function onSecureConnect(this: ProbeSocket): void {
  const a = this[ATTEMPT];
  if (a !== undefined && a.phase === Phase.Active) a.tSecure = a.prober.clock.now();
}
/**
 * The `onread` callback. Node calls it as a method of the socket (`this` is the socket; not
 * in the typings, relied on and checked by the tests), `buf` is the shared read buffer.
 */
function onRead(this: ProbeSocket, nread: number, buf: Uint8Array): boolean {
  const a = this[ATTEMPT];
  if (a === undefined) {
    // Bytes on an idle keep-alive connection: nothing was asked, so it cannot be reused.
    this.destroy();
  } else if (a.phase === Phase.Active) {
    a.prober.received(a, buf as Buffer, nread);
  }
  return true;
}
function onEnd(this: ProbeSocket): void {
  const a = this[ATTEMPT];
  if (a === undefined) {
    this.destroy();
    return;
  }
  if (a.phase === Phase.Active) a.prober.peerClosed(a);
  else a.prober.release(a);
}
function onError(this: ProbeSocket, err: Error): void {
  const a = this[ATTEMPT];
  if (a === undefined) {
    this.destroy();
    return;
  }
  if (a.phase === Phase.Active) a.prober.fail(a, err);
  else a.prober.release(a);
}

/** TLS failures: OpenSSL verification codes (CERT_*, UNABLE_TO_*, ...), ERR_TLS_*, ERR_SSL_*. */
function isTlsErrorCode(code: string | undefined): boolean {
  if (code === undefined) return false;
  return (
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    code.startsWith('CERT_') ||
    code.startsWith('UNABLE_TO_') ||
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'HOSTNAME_MISMATCH' ||
    code === 'EPROTO'
  );
}

export class HttpProber implements Prober {
  private readonly targets = new SlotTable<HttpTarget>();
  readonly clock: Clock;
  /** Past its deadline, an active attempt is a timeout and a lingering one is closed. */
  private readonly attempts: AttemptPool<HttpAttempt>;
  private readonly readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  private readonly onread: net.OnReadOpts = { buffer: this.readBuffer, callback: onRead };

  constructor(
    private readonly sink: ProbeSink,
    opts: { clock?: Clock } = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.attempts = new AttemptPool(
      this.clock,
      (id) => new HttpAttempt(this, id),
      (a) => this.expire(a),
    );
  }

  add(t: ShardTarget): void {
    if (!t.url) throw new Error('http: target has no url');
    const url = new URL(t.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`http: unsupported scheme ${url.protocol}`);
    const isHttps = url.protocol === 'https:';
    // Validated and normalised by the main thread (src/kinds/http.ts): nothing to default here.
    const { method, expectStatus, keepAlive, maxBodyBytes, caFile, insecureSkipVerify, serverName, headers } = optionsOf(t.options, 'http');
    const accept = statusTable(expectStatus);
    const request = buildHttpRequest({ method, url, keepAlive, headers });
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const connect: net.NetConnectOpts & tls.ConnectionOptions = {
      host: hostname,
      port: url.port === '' ? (isHttps ? 443 : 80) : Number(url.port),
      onread: this.onread,
    };
    if (isHttps) {
      // Built once: tls.connect would otherwise build a context (and parse the CA) per probe.
      connect.secureContext = tls.createSecureContext(caFile !== null ? { ca: readFileSync(caFile, 'utf8') } : {});
      connect.rejectUnauthorized = !insecureSkipVerify;
      if (serverName !== null) connect.servername = serverName;
      else if (net.isIP(hostname) === 0) connect.servername = hostname;
    }
    this.remove(t.slot);
    const target: HttpTarget = {
      slot: t.slot,
      https: isHttps,
      connect,
      resolves: net.isIP(hostname) === 0,
      request,
      headRequest: method === 'HEAD',
      timeoutMs: Math.max(1, t.timeoutMs),
      accept,
      maxBodyBytes,
      keepAlive,
      idle: null,
      attempts: [],
    };
    this.targets.add(t.slot, () => target);
  }

  remove(slot: number): void {
    const t = this.targets.remove(slot);
    if (t === undefined) return;
    while (t.attempts.length > 0) this.release(t.attempts[t.attempts.length - 1]);
    t.idle?.destroy();
    t.idle = null;
  }

  probe(slot: number): void {
    const t = this.targets.get(slot);
    if (t === undefined) return;
    this.sink.sent(slot);
    const a = this.attempts.acquire();
    a.phase = Phase.Active;
    a.target = t;
    a.start = this.clock.now();
    a.deadline = a.start + t.timeoutMs;
    a.tLookup = a.tConnect = a.tSecure = a.tFirstByte = 0;
    a.parser.reset(t.headRequest);
    let socket = t.idle;
    t.idle = null;
    if (socket !== null && (socket.destroyed || socket.readableEnded || !socket.writable)) {
      socket.destroy();
      socket = null;
    }
    a.reused = socket !== null;
    if (socket === null) {
      try {
        socket = t.https ? tls.connect(t.connect) : net.connect(t.connect);
      } catch (err) {
        a.phase = Phase.Free;
        a.target = null;
        this.attempts.release(a);
        this.sink.error(slot, connectErrorReason(errorCode(err)));
        return;
      }
      if (t.resolves) socket.once('lookup', onLookup);
      socket.once('connect', onConnect);
      if (t.https) socket.once('secureConnect', onSecureConnect);
      socket.on('end', onEnd);
      socket.on('error', onError);
    }
    socket[ATTEMPT] = a;
    a.socket = socket;
    t.attempts.push(a);
    this.attempts.setDeadline(a, a.deadline);
    socket.write(t.request); // queued until connected (and the TLS handshake is done)
  }

  /** Response bytes for an active attempt. */
  received(a: HttpAttempt, buf: Buffer, nread: number): void {
    if (a.tFirstByte === 0) a.tFirstByte = this.clock.now();
    const p = a.parser;
    const state = p.feed(buf, 0, nread);
    if (state === ParseState.Done) this.complete(a, false);
    else if (state === ParseState.Error) this.failWith(a, ErrorReason.protocol);
    else if (p.bodyBytes > a.target!.maxBodyBytes) this.complete(a, true);
  }

  /** The peer closed (FIN) while the attempt was active. */
  peerClosed(a: HttpAttempt): void {
    if (a.parser.eof() === ParseState.Done) this.complete(a, false);
    else if (a.parser.headDone || a.tFirstByte !== 0) this.failWith(a, a.parser.headDone ? ErrorReason.closed : ErrorReason.protocol);
    else this.failWith(a, a.target!.https && a.tSecure === 0 && !a.reused ? ErrorReason.tls : ErrorReason.closed);
  }

  /** A response arrived in full (or was cut off at max_body_bytes). */
  private complete(a: HttpAttempt, truncated: boolean): void {
    const end = this.clock.now();
    const t = a.target!;
    const slot = t.slot;
    const status = a.parser.status;
    const startConnect = a.tLookup || a.start;
    const afterSetup = a.tSecure || a.tConnect || a.start;
    const total = (end - a.start) / 1000;
    this.sink.record(slot, ProbeEvent.Phase, 0, PHASE_DNS, a.tLookup ? (a.tLookup - a.start) / 1000 : 0);
    this.sink.record(slot, ProbeEvent.Phase, 0, PHASE_CONNECT, a.tConnect ? (a.tConnect - startConnect) / 1000 : 0);
    this.sink.record(slot, ProbeEvent.Phase, 0, PHASE_TLS, a.tSecure && a.tConnect ? (a.tSecure - a.tConnect) / 1000 : 0);
    this.sink.record(slot, ProbeEvent.Phase, 0, PHASE_FIRST_BYTE, (a.tFirstByte - afterSetup) / 1000);
    this.sink.record(slot, ProbeEvent.Phase, 0, PHASE_TOTAL, total);
    this.sink.record(slot, ProbeEvent.Status, 0, status, 0);
    const accepted = statusAccepted(t.accept, status);
    const bodyBytes = a.parser.bodyBytes;

    // The connection's fate is settled before the outcome is reported: reporting it can
    // remove the target (an on-demand test whose last probe this is ends there, and its
    // target is removed at once, releasing this attempt and its socket).
    const socket = a.socket!;
    if (truncated || socket.readableEnded) {
      this.release(a);
    } else if (t.keepAlive && a.parser.reusable && t.idle === null) {
      socket[ATTEMPT] = undefined;
      a.socket = null;
      t.idle = socket;
      this.release(a);
    } else {
      // Let the server close first (it carries the TIME_WAIT); onEnd or the deadline releases.
      a.phase = Phase.Linger;
    }

    if (accepted) {
      this.sink.transferred?.(slot, bodyBytes, total);
      this.sink.reply(slot, total);
    } else this.sink.error(slot, statusErrorReason(status));
  }

  fail(a: HttpAttempt, err: Error): void {
    this.failWith(a, this.failureReason(a, errorCode(err)));
  }

  private failWith(a: HttpAttempt, reason: number): void {
    const slot = a.target!.slot;
    this.release(a);
    this.sink.error(slot, reason);
  }

  /** Past its deadline: an active attempt is a timeout, a lingering one is closed. */
  private expire(a: HttpAttempt): void {
    const wasActive = a.phase === Phase.Active;
    const slot = a.target!.slot;
    this.release(a);
    if (wasActive) this.sink.timeout(slot);
  }

  private failureReason(a: HttpAttempt, code: string | undefined): number {
    const https = a.target!.https;
    if (https && isTlsErrorCode(code)) return ErrorReason.tls;
    if (a.tConnect === 0 && !a.reused) return connectErrorReason(code);
    // Connected but the TLS handshake did not finish: whatever the code, it is a TLS failure.
    if (https && a.tSecure === 0 && !a.reused) return ErrorReason.tls;
    return establishedErrorReason(code);
  }

  /** Close the attempt's socket (if it still has one) and return the attempt to the pool. */
  release(a: HttpAttempt): void {
    const t = a.target;
    if (t !== null) {
      const i = t.attempts.indexOf(a);
      if (i >= 0) {
        t.attempts[i] = t.attempts[t.attempts.length - 1];
        t.attempts.pop();
      }
    }
    const socket = a.socket;
    if (socket !== null) {
      socket[ATTEMPT] = undefined;
      socket.destroy();
    }
    a.socket = null;
    a.target = null;
    a.phase = Phase.Free;
    this.attempts.release(a);
  }

  close(): void {
    for (const t of this.targets.values()) this.remove(t.slot);
    this.attempts.close();
  }
}

export const httpProberFactory: ProberFactory = (sink: ProbeSink, _settings: ShardSettings) => new HttpProber(sink);

/**
 * http: one request per probe to target.url with per-phase timings, the columns of
 * pingmesh/perftest: dns, connect, tls, first_byte, total (seconds, ProbeEvent.Phase with
 * aux = index in HTTP_PHASE_NAMES), plus ProbeEvent.Status with aux = status code.
 *
 * Timing comes from socket events, read with performance.now():
 *   start ─ 'lookup' ─ 'connect' ─ 'secureConnect' ─ 'response' (headers) ─ res 'end'
 *   dns = lookup-start (0 for an IP literal: Node does not resolve it), connect = connect -
 *   (lookup|start), tls = secureConnect-connect, first_byte = response - (the last of
 *   secureConnect|connect|start), total = end-start. On a reused keep-alive connection
 *   only first_byte and total are non-zero.
 *
 * Connections: by default a new connection per probe (what a user coming from nowhere
 * sees), through one shared non-keep-alive Agent per scheme. The client sends
 * "Connection: close", so the *server* closes first and carries the TIME_WAIT, not the
 * prober. TLS session caching is off (maxCachedSessions 0) so every probe measures a
 * full handshake rather than a resumption. options.keep_alive = true gives the target its
 * own keep-alive Agent with one socket, so successive probes reuse the connection.
 *
 * Outcomes: an accepted status (options.expect_status) → reply(total); any other status
 * → error status_4xx / status_5xx / status_other; no complete response within timeoutMs →
 * timeout; failures → refused / dns / tls / reset / net_unreachable / host_unreachable /
 * connect_failed / protocol (unparseable response) / closed. A failure during the TLS
 * handshake (certificate not trusted, wrong name, protocol alert) is `tls`.
 * The body is drained and discarded; after options.max_body_bytes (default 1 MiB) the
 * response is cut off and the probe counts as answered at that moment.
 *
 * Name resolution uses Node's default (dns.lookup via getaddrinfo), re-done for every new
 * connection, which is what the dns phase measures.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Socket } from 'node:net';
import { ErrorReason, HTTP_PHASE_NAMES, ProbeEvent, type HttpPhaseName } from '../../src/protocol/events.js';
import type { ShardSettings } from '../../src/protocol/messages.js';
import type { ShardTarget } from '../../src/targets/model.js';
import type { Prober, ProberFactory, ProbeSink } from './prober.js';
import { parseExpectStatus, statusAccepted, statusErrorReason } from './http-status.js';
import { connectErrorReason, errorCode, establishedErrorReason } from './tcp-errors.js';
import { boolOption, numberOption, stringOption } from './tcp-options.js';

const phaseIndex = (name: HttpPhaseName): number => HTTP_PHASE_NAMES.indexOf(name);
const PHASE_DNS = phaseIndex('dns');
const PHASE_CONNECT = phaseIndex('connect');
const PHASE_TLS = phaseIndex('tls');
const PHASE_FIRST_BYTE = phaseIndex('first_byte');
const PHASE_TOTAL = phaseIndex('total');

export const HTTP_DEFAULT_MAX_BODY_BYTES = 1 << 20;
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);

interface HttpTarget {
  slot: number;
  https: boolean;
  options: https.RequestOptions;
  timeoutMs: number;
  accept: Uint8Array;
  maxBodyBytes: number;
  /** Per-target keep-alive agent, when options.keep_alive. */
  ownAgent: http.Agent | null;
  attempts: Set<HttpAttempt>;
}

const ATTEMPT = Symbol('fleetprobe.httpAttempt');
type Tagged<T> = T & { [ATTEMPT]?: HttpAttempt };

class HttpAttempt {
  done = false;
  tLookup = 0;
  tConnect = 0;
  tSecure = 0;
  tFirstByte = 0;
  bodyBytes = 0;
  status = 0;
  /** The request went out on an already-connected keep-alive socket. */
  reused = false;
  timer: NodeJS.Timeout | null = null;
  req: Tagged<http.ClientRequest> | null = null;
  res: Tagged<http.IncomingMessage> | null = null;
  socket: Tagged<Socket> | null = null;
  constructor(
    readonly prober: HttpProber,
    readonly target: HttpTarget,
    readonly start: number,
  ) {}
}

// Shared listeners (no closures per probe): each finds its attempt through a tag on the emitter.
function onSocket(this: Tagged<http.ClientRequest>, socket: Tagged<Socket>): void {
  const a = this[ATTEMPT];
  if (!a || a.done) return;
  a.socket = socket;
  socket[ATTEMPT] = a;
  a.reused = !socket.connecting;
  if (!a.reused) {
    socket.once('lookup', onLookup);
    socket.once('connect', onConnect);
    if (a.target.https) socket.once('secureConnect', onSecureConnect);
  }
}
function onLookup(this: Tagged<Socket>): void {
  const a = this[ATTEMPT];
  if (a && !a.done) a.tLookup = performance.now();
}
function onConnect(this: Tagged<Socket>): void {
  const a = this[ATTEMPT];
  if (a && !a.done) a.tConnect = performance.now();
}
function onSecureConnect(this: Tagged<Socket>): void {
  const a = this[ATTEMPT];
  if (a && !a.done) a.tSecure = performance.now();
}
function onResponse(this: Tagged<http.ClientRequest>, res: Tagged<http.IncomingMessage>): void {
  const a = this[ATTEMPT];
  if (!a || a.done) {
    res.resume();
    return;
  }
  a.tFirstByte = performance.now();
  a.status = res.statusCode ?? 0;
  a.res = res;
  res[ATTEMPT] = a;
  res.on('data', onBody);
  res.on('end', onEnd);
  res.on('error', onResError);
}
function onBody(this: Tagged<http.IncomingMessage>, chunk: Buffer): void {
  const a = this[ATTEMPT];
  if (!a || a.done) return;
  a.bodyBytes += chunk.length;
  if (a.bodyBytes > a.target.maxBodyBytes) a.prober.complete(a, true);
}
function onEnd(this: Tagged<http.IncomingMessage>): void {
  const a = this[ATTEMPT];
  if (a && !a.done) a.prober.complete(a, false);
}
function onReqError(this: Tagged<http.ClientRequest>, err: Error): void {
  const a = this[ATTEMPT];
  if (a && !a.done) a.prober.fail(a, err);
}
function onResError(this: Tagged<http.IncomingMessage>, err: Error): void {
  const a = this[ATTEMPT];
  if (a && !a.done) a.prober.fail(a, err);
}
function onTimeout(a: HttpAttempt): void {
  a.timer = null;
  if (!a.done) a.prober.timeOut(a);
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
  private readonly targets = new Map<number, HttpTarget>();
  private readonly httpAgent = new http.Agent({ keepAlive: false });
  private readonly httpsAgent = new https.Agent({ keepAlive: false, maxCachedSessions: 0 });

  constructor(private readonly sink: ProbeSink) {}

  add(t: ShardTarget): void {
    if (!t.url) throw new Error('http: target has no url');
    const url = new URL(t.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`http: unsupported scheme ${url.protocol}`);
    const isHttps = url.protocol === 'https:';
    const o = t.options;
    const method = stringOption(o, 'method', 'GET').toUpperCase();
    if (!HTTP_METHODS.has(method)) throw new Error(`option method: unsupported ${JSON.stringify(method)}`);
    const keepAlive = boolOption(o, 'keep_alive', false);
    const accept = parseExpectStatus(o?.expect_status);
    const maxBodyBytes = numberOption(o, 'max_body_bytes', HTTP_DEFAULT_MAX_BODY_BYTES, 0, 1 << 30);
    const caFile = stringOption(o, 'ca_file', '');
    const insecure = boolOption(o, 'insecure_skip_verify', false);
    const serverName = stringOption(o, 'server_name', '');
    const headers: Record<string, string> = { 'user-agent': 'fleetprobe', accept: '*/*' };
    const extra = o?.headers;
    if (extra !== undefined && extra !== null) {
      if (typeof extra !== 'object' || Array.isArray(extra)) throw new Error('option headers: expected an object of strings');
      for (const [k, v] of Object.entries(extra)) {
        if (typeof v !== 'string') throw new Error(`option headers.${k}: expected a string`);
        headers[k.toLowerCase()] = v;
      }
    }
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const ownAgent = keepAlive
      ? isHttps
        ? new https.Agent({ keepAlive: true, maxSockets: 1 })
        : new http.Agent({ keepAlive: true, maxSockets: 1 })
      : null;
    const options: https.RequestOptions = {
      protocol: url.protocol,
      hostname,
      port: url.port === '' ? (isHttps ? 443 : 80) : Number(url.port),
      path: url.pathname + url.search,
      method,
      headers,
      agent: ownAgent ?? (isHttps ? this.httpsAgent : this.httpAgent),
    };
    if (url.username !== '' || url.password !== '') options.auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    if (isHttps) {
      if (caFile !== '') options.ca = readFileSync(caFile, 'utf8'); // once, here; a missing file rejects the target
      options.rejectUnauthorized = !insecure;
      if (serverName !== '') options.servername = serverName;
      else if (net.isIP(hostname) === 0) options.servername = hostname;
    }
    this.remove(t.slot);
    this.targets.set(t.slot, {
      slot: t.slot,
      https: isHttps,
      options,
      timeoutMs: Math.max(1, t.timeoutMs),
      accept,
      maxBodyBytes,
      ownAgent,
      attempts: new Set(),
    });
  }

  remove(slot: number): void {
    const t = this.targets.get(slot);
    if (!t) return;
    this.targets.delete(slot);
    for (const a of t.attempts) this.release(a);
    t.attempts.clear();
    t.ownAgent?.destroy();
  }

  probe(slot: number): void {
    const t = this.targets.get(slot);
    if (!t) return;
    this.sink.sent(slot);
    const a = new HttpAttempt(this, t, performance.now());
    let req: Tagged<http.ClientRequest>;
    try {
      req = (t.https ? https : http).request(t.options);
    } catch (err) {
      this.sink.error(slot, connectErrorReason(errorCode(err)));
      return;
    }
    a.req = req;
    req[ATTEMPT] = a;
    req.on('socket', onSocket);
    req.on('response', onResponse);
    req.on('error', onReqError);
    a.timer = setTimeout(onTimeout, t.timeoutMs, a);
    t.attempts.add(a);
    req.end();
  }

  /** A response arrived in full (or was cut off at max_body_bytes). */
  complete(a: HttpAttempt, truncated: boolean): void {
    const end = performance.now();
    const slot = a.target.slot;
    this.settle(a);
    if (truncated) a.req?.destroy();
    const startConnect = a.tLookup || a.start;
    const afterSetup = a.tSecure || a.tConnect || a.start;
    this.sink.record(slot, ProbeEvent.Phase, 0, PHASE_DNS, a.tLookup ? (a.tLookup - a.start) / 1000 : 0);
    this.sink.record(slot, ProbeEvent.Phase, 0, PHASE_CONNECT, a.tConnect ? (a.tConnect - startConnect) / 1000 : 0);
    this.sink.record(slot, ProbeEvent.Phase, 0, PHASE_TLS, a.tSecure && a.tConnect ? (a.tSecure - a.tConnect) / 1000 : 0);
    this.sink.record(slot, ProbeEvent.Phase, 0, PHASE_FIRST_BYTE, (a.tFirstByte - afterSetup) / 1000);
    this.sink.record(slot, ProbeEvent.Phase, 0, PHASE_TOTAL, (end - a.start) / 1000);
    this.sink.record(slot, ProbeEvent.Status, 0, a.status, 0);
    if (statusAccepted(a.target.accept, a.status)) this.sink.reply(slot, (end - a.start) / 1000);
    else this.sink.error(slot, statusErrorReason(a.status));
  }

  fail(a: HttpAttempt, err: Error): void {
    this.settle(a);
    a.req?.destroy();
    this.sink.error(a.target.slot, this.failureReason(a, errorCode(err)));
  }

  timeOut(a: HttpAttempt): void {
    this.settle(a);
    a.req?.destroy();
    this.sink.timeout(a.target.slot);
  }

  private failureReason(a: HttpAttempt, code: string | undefined): number {
    if (code !== undefined && code.startsWith('HPE_')) return ErrorReason.protocol;
    if (a.target.https && isTlsErrorCode(code)) return ErrorReason.tls;
    if (a.tConnect === 0 && !a.reused) return connectErrorReason(code);
    // Connected but the TLS handshake did not finish: whatever the code, it is a TLS failure.
    if (a.target.https && a.tSecure === 0 && !a.reused) return ErrorReason.tls;
    return establishedErrorReason(code);
  }

  /** Mark done and drop the timer and bookkeeping (exactly-once guard for the outcome). */
  private settle(a: HttpAttempt): void {
    a.done = true;
    if (a.timer !== null) clearTimeout(a.timer);
    a.timer = null;
    a.target.attempts.delete(a);
  }

  /** Abandon without an outcome (target removed / prober closed). */
  private release(a: HttpAttempt): void {
    a.done = true;
    if (a.timer !== null) clearTimeout(a.timer);
    a.timer = null;
    a.req?.destroy();
  }

  close(): void {
    for (const slot of [...this.targets.keys()]) this.remove(slot);
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

export const httpProberFactory: ProberFactory = (sink: ProbeSink, _settings: ShardSettings) => new HttpProber(sink);

/**
 * The web configuration, live: what the web port and the gRPC port do with a checked
 * WebSecurityConfig (load.ts), and how it changes while running.
 *
 * On every HTTP request (a Fastify onRequest hook, before any route):
 *   1. http_server_config.headers are set on the response (a route may set its own);
 *   2. /healthz and /readyz go on: liveness and readiness probes (kubelet, load
 *      balancers) cannot always send credentials, and these two answer only "ok" or
 *      "not ready: why". Everything else (metrics, API, console, streams, /-/reload,
 *      unknown paths) is protected, as exporter-toolkit protects every path;
 *   3. rate_limit: one token bucket for the port; an empty bucket is 429;
 *   4. basic_auth_users: Basic credentials (basic-auth.ts), or the API token as
 *      "Authorization: Bearer" (a request has one Authorization header, so a client of
 *      the token-protected API could not send both); else 401 with
 *      `WWW-Authenticate: Basic`.
 *
 * TLS (tls_server_config) is on from start: the server is created with it. After each
 * handshake the client certificate is judged (client-cert.ts). When the certificate,
 * key or client CA files change on disk they are read again and served to new
 * connections (tls.Server#setSecureContext; the gRPC credentials likewise) without a
 * restart; files that fail to read or do not match keep the previous ones, reported.
 *
 * A reload (SIGHUP, POST /-/reload) applies a new web configuration file at once:
 * users, headers, rate limit, certificates, versions, suites and allowed SANs. Turning
 * TLS on or off, and changing client_auth_type, take effect on restart (the listening
 * server's TLS mode is fixed when it is created); update() says so.
 */
import type { Server } from 'node:net';
import type { TLSSocket, Server as TlsServer, SecureContextOptions } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ServerCredentials } from '@grpc/grpc-js';
import type { WebTlsServerCredentials } from './grpc-credentials.js';
import { bearerToken, tokenMatches } from '../../auth/token.js';
import { FileWatcher } from '../../targets/file-watch.js';
import { SourceRateLimiter } from '../../responder/rate-limit.js';
import { BasicAuth, type BasicAuthOptions, type BasicAuthResult } from './basic-auth.js';
import { judgeClientCert, peerView } from './client-cert.js';
import { readTlsMaterial, type WebSecurityConfig } from './load.js';
import { CLIENT_AUTH_POLICIES } from './names.js';
import type { TlsSpec } from './parse.js';
import { clientCertServerOptions, secureContextOptions } from './tls-options.js';
import { registerWebSecurityMetrics, type WebSecurityMetrics } from './metrics.js';

/** Paths that need no credentials (see the file header). */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

/** Quiet time after the last change of a certificate file before it is read again (cert and key are often written one after the other). */
export const CERT_RELOAD_DEBOUNCE_MS = 500;
const CERT_RELOAD_MAX_DELAY_MS = 5000;

export interface WebSecurityOptions {
  logger: Logger;
  registry: Registry;
  /** How often the certificate files are also checked by stat (file_watch.check_interval). */
  checkIntervalMs: number;
  /** The API token (api.token / api.token_file), read on each request: a reload may change it. */
  apiToken?: () => string | null;
  basicAuth?: BasicAuthOptions;
}

function sameUsers(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [u, h] of a) if (b.get(u) !== h) return false;
  return true;
}

function pemFiles(tls: TlsSpec | null): string[] {
  if (tls === null) return [];
  return [tls.cert, tls.key, ...(tls.clientCa ? [tls.clientCa] : [])].flatMap((s) => ('file' in s ? [s.file] : []));
}

export class WebSecurity {
  private config: WebSecurityConfig | null;
  /** The TLS spec the servers were created with (null: plain); its client_auth_type stays until restart. */
  private readonly startTls: TlsSpec | null;
  /** The TLS spec in force: the newest one, with the start's client auth. */
  private tlsSpec: TlsSpec | null;
  private readonly basicAuth: BasicAuth;
  private limiter: SourceRateLimiter | null = null;
  private headers: Array<[string, string]> = [];
  private readonly servers = new Set<TlsServer>();
  private grpcCreds: WebTlsServerCredentials | null = null;
  private watcher: FileWatcher | null = null;
  private readonly metrics: WebSecurityMetrics;
  private readonly log: Logger;

  constructor(
    config: WebSecurityConfig | null,
    private readonly opts: WebSecurityOptions,
  ) {
    this.log = opts.logger;
    this.metrics = registerWebSecurityMetrics(opts.registry);
    this.config = config;
    this.startTls = config?.spec.tls ?? null;
    this.tlsSpec = this.startTls;
    this.basicAuth = new BasicAuth(config?.spec.users ?? new Map(), opts.basicAuth);
    this.applyHttp(config);
    this.metrics.certificateNotAfter(config?.certNotAfter ?? null);
    this.watchCertificates();
  }

  /** TLS is on (fixed at start). */
  get tls(): boolean {
    return this.startTls !== null;
  }

  /** Basic authentication is asked for right now. */
  get basicAuthEnabled(): boolean {
    return this.basicAuth.enabled;
  }

  /** Options for an HTTPS server (merged into Fastify's `https`), or null for plain HTTP. */
  serverTlsOptions(): (SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean }) | null {
    if (this.startTls === null || this.config?.material == null) return null;
    return { ...secureContextOptions(this.startTls, this.config.material), ...clientCertServerOptions(this.startTls) };
  }

  /** Protect every route of `app` and judge its TLS connections. Call right after the app is created, before its routes. */
  install(app: FastifyInstance): void {
    app.addHook('onRequest', (req, reply, done) => this.onRequest(req, reply, done));
    if (this.startTls !== null) this.attachTls(app.server as unknown as TlsServer, 'web');
  }

  /**
   * gRPC server credentials (TLS from the same file), or undefined for plaintext. Async:
   * grpc-js is imported only here and by the gRPC server, so an exporter without
   * grpc.listen_address never loads it.
   */
  async grpcCredentials(): Promise<ServerCredentials | undefined> {
    if (this.startTls === null || this.config?.material == null) return undefined;
    const credentials = await import('./grpc-credentials.js');
    this.grpcCreds ??= new credentials.WebTlsServerCredentials(
      clientCertServerOptions(this.startTls),
      secureContextOptions(this.startTls, this.config.material),
      () => this.tlsSpec?.clientAllowedSans ?? null,
      (details) => {
        this.metrics.tlsRefused('grpc', 'client_san_not_allowed');
        this.log.debug({ listener: 'grpc' }, `gRPC call refused: ${details}`);
      },
    );
    return this.grpcCreds;
  }

  private onRequest(req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    for (const [name, value] of this.headers) reply.raw.setHeader(name, value);
    const q = req.url.indexOf('?');
    if (OPEN_PATHS.has(q < 0 ? req.url : req.url.slice(0, q))) {
      done();
      return;
    }
    if (this.limiter !== null && !this.limiter.allow('', performance.now())) {
      this.metrics.rateLimited();
      void reply.code(429).header('retry-after', '1').type('text/plain; charset=utf-8').send('Too Many Requests\n');
      return;
    }
    if (!this.basicAuth.enabled) {
      done();
      return;
    }
    const authorization = req.headers.authorization;
    const token = this.opts.apiToken?.() ?? null;
    if (token !== null) {
      const presented = bearerToken(authorization);
      if (presented !== null && tokenMatches(presented, token)) {
        done();
        return;
      }
    }
    const finish = (r: BasicAuthResult): void => {
      if (r.ok) {
        if (!r.cached) this.metrics.bcryptRun();
        done();
        return;
      }
      if (r.reason === 'bad_credentials') this.metrics.bcryptRun();
      this.metrics.authFailed(r.reason);
      if (r.reason === 'busy') {
        void reply.code(429).header('retry-after', '1').type('text/plain; charset=utf-8').send('Too Many Requests: too many logins being verified\n');
        return;
      }
      void reply.code(401).header('www-authenticate', 'Basic').type('text/plain; charset=utf-8').send('Unauthorized\n');
    };
    const r = this.basicAuth.check(authorization);
    if (r instanceof Promise) r.then(finish, (err: unknown) => done(err as Error));
    else finish(r);
  }

  /** Judge the client certificate of every connection after its handshake; count failed handshakes. */
  private attachTls(server: TlsServer, listener: 'web'): void {
    this.servers.add(server);
    server.on('secureConnection', (socket: TLSSocket) => {
      const spec = this.tlsSpec;
      if (spec === null) return;
      const refusal = judgeClientCert(CLIENT_AUTH_POLICIES[spec.clientAuth], spec.clientAllowedSans, peerView(socket));
      if (refusal === null) return;
      this.metrics.tlsRefused(listener, refusal);
      this.log.debug({ listener, reason: refusal, remote: socket.remoteAddress }, 'TLS connection refused after its handshake');
      socket.destroy();
    });
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      this.metrics.tlsRefused(listener, 'handshake');
      this.log.debug({ listener, remote: socket.remoteAddress, error: err.message }, 'TLS handshake failed');
      socket.destroy();
    });
    (server as unknown as Server).once('close', () => this.servers.delete(server));
  }

  private applyHttp(config: WebSecurityConfig | null): void {
    this.headers = config?.spec.headers ?? [];
    const rl = config?.spec.rateLimit ?? null;
    const was = this.config?.spec.rateLimit ?? null;
    // A new bucket only when the limit changed: a reload does not refill it.
    if (rl === null) this.limiter = null;
    else if (this.limiter === null || was === null || was.intervalMs !== rl.intervalMs || was.burst !== rl.burst)
      this.limiter = new SourceRateLimiter(1000 / rl.intervalMs, rl.burst, 1);
  }

  /** Serve `material` of the current spec on every TLS listener. False (logged) when Node refuses it. */
  private serveContext(config: WebSecurityConfig): boolean {
    if (this.tlsSpec === null || config.material === null) return false;
    const context = secureContextOptions(this.tlsSpec, config.material);
    try {
      for (const s of this.servers) s.setSecureContext(context);
    } catch (err) {
      this.log.error({ err, file: config.file }, 'the new TLS settings were refused; still serving the previous ones');
      return false;
    }
    this.grpcCreds?.update(context);
    this.metrics.certificateNotAfter(config.certNotAfter);
    return true;
  }

  /**
   * A reloaded configuration (already checked by the config loader). Applies what can
   * change on a running server and returns the changes that need a restart, for the log.
   */
  update(next: WebSecurityConfig | null): string[] {
    const restart: string[] = [];
    const nextTls = next?.spec.tls ?? null;
    if ((this.startTls === null) !== (nextTls === null)) {
      restart.push(this.startTls === null ? 'turning TLS on (tls_server_config)' : 'turning TLS off');
    } else if (this.startTls !== null && nextTls !== null && nextTls.clientAuth !== this.startTls.clientAuth) {
      restart.push(`client_auth_type ${this.startTls.clientAuth} -> ${nextTls.clientAuth}`);
    }
    this.applyHttp(next);
    const users = next?.spec.users ?? new Map<string, string>();
    if (!sameUsers(users, this.config?.spec.users ?? new Map())) this.basicAuth.setUsers(users);
    if (this.startTls !== null && nextTls !== null && next !== null && next.material !== null) {
      // The client auth type stays the start's (and with it the allowed SANs, when it changed).
      this.tlsSpec =
        nextTls.clientAuth === this.startTls.clientAuth
          ? nextTls
          : { ...nextTls, clientAuth: this.startTls.clientAuth, clientAllowedSans: this.tlsSpec?.clientAllowedSans ?? null };
      if (this.serveContext(next)) this.config = next;
      else this.config = { ...next, material: this.config?.material ?? null, certNotAfter: this.config?.certNotAfter ?? null };
    } else {
      // TLS stays as it started (on with the old files, or off) until a restart.
      this.config =
        next === null
          ? null
          : { ...next, spec: { ...next.spec, tls: this.tlsSpec }, material: this.config?.material ?? null, certNotAfter: this.config?.certNotAfter ?? null };
    }
    this.watchCertificates();
    return restart;
  }

  /** Watch the PEM files of the TLS in force (none without TLS). */
  private watchCertificates(): void {
    const files = this.startTls === null ? [] : pemFiles(this.tlsSpec);
    if (files.length === 0 && this.watcher === null) return;
    this.watcher ??= new FileWatcher({
      debounceMs: CERT_RELOAD_DEBOUNCE_MS,
      maxDelayMs: CERT_RELOAD_MAX_DELAY_MS,
      checkIntervalMs: this.opts.checkIntervalMs,
      onChange: (changed) => this.reloadCertificates(changed),
      onWatchError: (dir, err) =>
        this.log.warn({ dir, error: err.message }, 'cannot watch the directory of a TLS file; checking it every file_watch.check_interval'),
    });
    this.watcher.setPaths(files, this.opts.checkIntervalMs);
  }

  /** The certificate, key or CA files changed: read them again and serve them, or keep the previous ones. */
  reloadCertificates(changed: readonly string[] = []): boolean {
    const config = this.config;
    const spec = this.tlsSpec;
    if (config === null || spec === null) return false;
    const read = readTlsMaterial(spec);
    if (read.material === null) {
      this.metrics.certificateReloaded(false);
      this.log.error(
        { file: config.file, changed, problems: read.problems.map((p) => `${p.key}: ${p.message}`) },
        'TLS files changed but cannot be used; still serving the previous certificate',
      );
      return false;
    }
    const next: WebSecurityConfig = { ...config, material: read.material, certNotAfter: read.certNotAfter };
    if (!this.serveContext(next)) {
      this.metrics.certificateReloaded(false);
      return false;
    }
    this.config = next;
    this.metrics.certificateReloaded(true);
    this.log.info(
      { changed, notAfter: read.certNotAfter === null ? null : new Date(read.certNotAfter).toISOString() },
      'TLS files changed; serving the new certificate to new connections',
    );
    return true;
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
  }
}

/**
 * Metrics of the web configuration (TLS and authentication), on the self-metrics
 * registry. Every label value is declared here and every series exists from the start
 * at 0, with or without a web configuration file.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BasicAuthFailure } from './basic-auth.js';
import { CLIENT_CERT_REFUSALS, type ClientCertRefusal } from './client-cert.js';

const AUTH_FAILURES: readonly BasicAuthFailure[] = ['missing', 'bad_credentials', 'busy'];
/** Why a TLS connection was refused: its handshake failed, or the check after it (client-cert.ts). */
export type TlsRefusal = 'handshake' | ClientCertRefusal;
const TLS_REFUSALS: readonly TlsRefusal[] = ['handshake', ...CLIENT_CERT_REFUSALS];
const LISTENERS = ['web', 'grpc'] as const;

export interface WebSecurityMetrics {
  authFailed(reason: BasicAuthFailure): void;
  bcryptRun(): void;
  rateLimited(): void;
  tlsRefused(listener: (typeof LISTENERS)[number], reason: TlsRefusal): void;
  certificateReloaded(ok: boolean): void;
  certificateNotAfter(ms: number | null): void;
}

export function registerWebSecurityMetrics(registry: Registry): WebSecurityMetrics {
  const auth = new Counter({
    name: 'fleetprobe_web_auth_failures_total',
    help: 'Requests refused by basic authentication (web config basic_auth_users), by reason: missing (no or malformed credentials, 401), bad_credentials (401), busy (too many verifications waiting, 429).',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of AUTH_FAILURES) auth.inc({ reason }, 0);
  const bcrypt = new Counter({
    name: 'fleetprobe_web_auth_bcrypt_verifications_total',
    help: 'bcrypt verifications run for basic authentication (successes are cached, so a steady scraper costs one per cache lifetime).',
    registers: [registry],
  });
  const limited = new Counter({
    name: 'fleetprobe_web_rate_limited_requests_total',
    help: 'Requests answered 429 by the web config rate_limit.',
    registers: [registry],
  });
  const refused = new Counter({
    name: 'fleetprobe_tls_refused_connections_total',
    help: 'TLS connections refused, by listener and reason: handshake (failed handshake, e.g. no or an unverifiable client certificate under RequireAndVerifyClientCert), client_cert_missing, client_cert_unverified, client_san_not_allowed.',
    labelNames: ['listener', 'reason'],
    registers: [registry],
  });
  for (const listener of LISTENERS) for (const reason of TLS_REFUSALS) refused.inc({ listener, reason }, 0);
  const reloads = new Counter({
    name: 'fleetprobe_web_tls_certificate_reloads_total',
    help: 'Certificate, key or client CA files read again after they changed on disk, by result (a failure keeps serving the previous ones).',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of ['success', 'failure']) reloads.inc({ result }, 0);
  const notAfter = new Gauge({
    name: 'fleetprobe_web_tls_certificate_not_after_timestamp_seconds',
    help: 'When the certificate served on the web port (and the gRPC port) expires, in seconds since the epoch; 0 without TLS.',
    registers: [registry],
  });
  notAfter.set(0);
  return {
    authFailed: (reason) => auth.inc({ reason }),
    bcryptRun: () => bcrypt.inc(),
    rateLimited: () => limited.inc(),
    tlsRefused: (listener, reason) => refused.inc({ listener, reason }),
    certificateReloaded: (ok) => reloads.inc({ result: ok ? 'success' : 'failure' }),
    certificateNotAfter: (ms) => notAfter.set(ms === null ? 0 : ms / 1000),
  };
}

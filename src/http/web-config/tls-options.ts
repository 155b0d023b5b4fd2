/**
 * A checked TLS spec and its PEM material -> the options Node's TLS server takes.
 *
 * Two parts, because Node treats them differently:
 * - the secure context (certificate, key, CA, versions, suites, curves) can be replaced
 *   on a running server (tls.Server#setSecureContext), which is how a rotated
 *   certificate is served without a restart;
 * - requestCert/rejectUnauthorized are fixed when the server is created, so a change of
 *   client_auth_type takes effect on restart.
 */
import type { SecureContextOptions } from 'node:tls';
import { CLIENT_AUTH_POLICIES } from './names.js';
import type { TlsSpec } from './parse.js';

/** The PEM texts a TLS spec names, read (load.ts) and checked to work together. */
export interface TlsMaterial {
  cert: string;
  key: string;
  /** null: client certificates (if asked for) are verified against Node's default roots. */
  ca: string | null;
}

export function secureContextOptions(tls: TlsSpec, m: TlsMaterial): SecureContextOptions {
  const o: SecureContextOptions = {
    cert: m.cert,
    key: m.key,
    minVersion: tls.minVersion,
    maxVersion: tls.maxVersion,
    honorCipherOrder: tls.preferServerCipherSuites,
  };
  if (m.ca !== null) o.ca = m.ca;
  // Only TLS 1.2 names: Node keeps its default TLS 1.3 suites, as Go does.
  if (tls.cipherSuites.length > 0) o.ciphers = tls.cipherSuites.join(':');
  if (tls.curves.length > 0) o.ecdhCurve = tls.curves.join(':');
  return o;
}

/** Server options fixed at creation (see the file header). */
export function clientCertServerOptions(tls: TlsSpec): { requestCert: boolean; rejectUnauthorized: boolean } {
  const p = CLIENT_AUTH_POLICIES[tls.clientAuth];
  return { requestCert: p.requestCert, rejectUnauthorized: p.rejectUnauthorized };
}

/**
 * web.config_file -> the checked web configuration (src/http/web-config/load.ts), read
 * at load like the token file: an unreadable file, bad YAML, an unknown key, a bad
 * hash, a certificate that does not match its key, an unreadable CA, an unsupported
 * version... each is a problem named "web.config_file <key in that file>", reported with
 * every other problem before anything starts (and a reload with one is refused).
 */
import type { ConfigProblem } from './errors.js';
import { loadWebConfig, type WebSecurityConfig } from '../http/web-config/load.js';
import { CLIENT_AUTH_POLICIES } from '../http/web-config/names.js';

export function buildWebSecurity(
  configured: string | null,
  abs: (f: string) => string,
  grpcListen: string | null,
  problems: ConfigProblem[],
): WebSecurityConfig | null {
  if (configured === null) return null;
  const file = abs(configured);
  const loaded = loadWebConfig(file);
  for (const p of loaded.problems) {
    if (p.key === '(file)') problems.push({ key: 'web.config_file', value: configured, message: p.message });
    else problems.push({ key: `web.config_file ${p.key}`, value: p.value, message: p.message });
  }
  const tls = loaded.config?.spec.tls;
  if (tls && grpcListen !== null) {
    const policy = CLIENT_AUTH_POLICIES[tls.clientAuth];
    // grpc-js shows a call only a certificate that verified (see grpc-credentials.ts).
    if (policy.requestCert && !policy.rejectUnauthorized && (policy.requireCert || policy.verifyIfGiven)) {
      problems.push({
        key: 'web.config_file tls_server_config.client_auth_type',
        value: tls.clientAuth,
        message: `${tls.clientAuth} cannot be enforced on the gRPC listener (grpc.listen_address): use RequireAndVerifyClientCert, RequestClientCert or NoClientCert, or turn gRPC off`,
      });
    }
  }
  return loaded.config;
}

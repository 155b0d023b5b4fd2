/**
 * An exporter-toolkit web configuration file (the YAML behind --web.config.file), as
 * parsed data -> a checked WebConfigSpec. Pure: no file is read here (load.ts reads the
 * file and the certificates it names). Every problem is collected with its key, so one
 * run names them all, as for the main configuration.
 *
 * The format is exporter-toolkit's (docs/web-configuration.md there): the same keys,
 * names and defaults, strict about unknown keys as exporter-toolkit's UnmarshalStrict.
 * Differences, each refused with a message rather than accepted and ignored:
 * - TLS 1.0/1.1 (see names.ts) and `http2: true` (the web server speaks HTTP/1.1; a
 *   client offering h2 over ALPN gets http/1.1);
 * - TLS settings without a certificate (exporter-toolkit would silently serve plain HTTP);
 * - a basic_auth_users name with ":" (Basic authentication splits user and password at
 *   the first ":", so that user could never log in).
 */
import { isAbsolute, resolve } from 'node:path';
import { parseDuration } from '../../values/duration.js';
import { checkBcryptHash } from './bcrypt-hash.js';
import {
  CIPHER_SUITES,
  CLIENT_AUTH_ALIASES,
  CLIENT_AUTH_POLICIES,
  CLIENT_AUTH_TYPES,
  CURVES,
  EXTRA_HEADERS,
  REFUSED_TLS_VERSIONS,
  TLS_VERSION_ORDER,
  TLS_VERSIONS,
  type ClientAuthType,
  type NodeTlsVersion,
} from './names.js';

export interface WebConfigProblem {
  /** Key inside the web configuration file: "tls_server_config.cert_file", "basic_auth_users.alice". */
  key: string;
  value: unknown;
  message: string;
}

/** One PEM input: a file (absolute path) or text written inline in the web config. */
export type PemSource = { file: string } | { inline: string };

export interface TlsSpec {
  cert: PemSource;
  key: PemSource;
  /** CA certificates that client certificates are verified against; null: Node's default roots. */
  clientCa: PemSource | null;
  clientAuth: ClientAuthType;
  /** client_allowed_sans: a client certificate must carry one of these SANs; null: any. */
  clientAllowedSans: string[] | null;
  minVersion: NodeTlsVersion;
  maxVersion: NodeTlsVersion;
  /** OpenSSL names of the TLS 1.2 suites chosen, in order; empty: Node's defaults. */
  cipherSuites: string[];
  preferServerCipherSuites: boolean;
  /** OpenSSL group names, in order; empty: Node's defaults. */
  curves: string[];
}

export interface WebConfigSpec {
  /** null: plain HTTP. */
  tls: TlsSpec | null;
  /** user -> bcrypt hash; empty: no basic authentication. */
  users: Map<string, string>;
  /** http_server_config.headers: set on every response. */
  headers: Array<[string, string]>;
  /** rate_limit: one token bucket for the whole web port; null: no limit. */
  rateLimit: { intervalMs: number; burst: number } | null;
}

const SECTIONS = ['tls_server_config', 'http_server_config', 'basic_auth_users', 'rate_limit'] as const;
const TLS_KEYS = [
  'cert',
  'key',
  'client_ca',
  'cert_file',
  'key_file',
  'client_auth_type',
  'client_ca_file',
  'client_allowed_sans',
  'min_version',
  'max_version',
  'cipher_suites',
  'prefer_server_cipher_suites',
  'curve_preferences',
] as const;
const HTTP_KEYS = ['http2', 'headers'] as const;
const RATE_LIMIT_KEYS = ['interval', 'burst'] as const;

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

class Collector {
  readonly problems: WebConfigProblem[] = [];
  add(key: string, value: unknown, message: string): void {
    this.problems.push({ key, value, message });
  }
  /** A mapping section's entries, reporting unknown keys; null/absent: empty. */
  section(key: string, value: unknown, known: readonly string[]): Record<string, unknown> {
    if (value === null || value === undefined) return {};
    if (!isMapping(value)) {
      this.add(key, value, `must be a mapping of ${known.join(', ')}`);
      return {};
    }
    for (const k of Object.keys(value)) if (!known.includes(k)) this.add(key ? `${key}.${k}` : k, value[k], `unknown key (known here: ${known.join(', ')})`);
    return value;
  }
}

/** A non-empty string, or null when absent/empty (exporter-toolkit treats "" as unset). */
function optionalString(c: Collector, key: string, v: unknown): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') {
    c.add(key, v, 'must be a string');
    return null;
  }
  return v;
}

function optionalBool(c: Collector, key: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') {
    c.add(key, v, 'must be true or false');
    return dflt;
  }
  return v;
}

/** A list of strings each mapped by `pick` (null: bad, reported by pick). */
function stringList<T>(c: Collector, key: string, v: unknown, pick: (s: string, at: string) => T | null): T[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) {
    c.add(key, v, 'must be a list');
    return null;
  }
  const out: T[] = [];
  v.forEach((item, i) => {
    const at = `${key}[${i}]`;
    if (typeof item !== 'string' || item === '') {
      c.add(at, item, 'must be a non-empty string');
      return;
    }
    const picked = pick(item, at);
    if (picked !== null) out.push(picked);
  });
  return out;
}

function tlsVersion(c: Collector, key: string, v: unknown, dflt: NodeTlsVersion): NodeTlsVersion {
  if (v === undefined || v === null || v === '') return dflt;
  if (typeof v === 'string' && Object.prototype.hasOwnProperty.call(TLS_VERSIONS, v)) return TLS_VERSIONS[v as keyof typeof TLS_VERSIONS];
  if (typeof v === 'string' && REFUSED_TLS_VERSIONS[v] !== undefined) c.add(key, v, REFUSED_TLS_VERSIONS[v]);
  else
    c.add(
      key,
      v,
      `unknown TLS version (known: ${[...Object.keys(TLS_VERSIONS), ...Object.keys(REFUSED_TLS_VERSIONS)].sort().join(', ')}; fleetprobe serves TLS12 and TLS13)`,
    );
  return dflt;
}

/** `<name>` and `<name>_file` are two ways to give one PEM; at most one may be set. */
function pemSource(c: Collector, t: Record<string, unknown>, name: string, baseDir: string): PemSource | null {
  const inlineKey = `tls_server_config.${name}`;
  const fileKey = `tls_server_config.${name}_file`;
  const inline = optionalString(c, inlineKey, t[name]);
  const file = optionalString(c, fileKey, t[`${name}_file`]);
  if (inline !== null && file !== null) {
    c.add(inlineKey, '(inline PEM)', `set either ${name} or ${name}_file, not both`);
    return null;
  }
  if (file !== null) return { file: isAbsolute(file) ? file : resolve(baseDir, file) };
  if (inline !== null) return { inline };
  return null;
}

function parseTls(c: Collector, raw: unknown, baseDir: string): TlsSpec | null {
  const t = c.section('tls_server_config', raw, TLS_KEYS);
  const certKey = t.cert_file !== undefined ? 'cert_file' : 'cert';
  const keyKey = t.key_file !== undefined ? 'key_file' : 'key';
  const cert = pemSource(c, t, 'cert', baseDir);
  const key = pemSource(c, t, 'key', baseDir);
  const clientCa = pemSource(c, t, 'client_ca', baseDir);

  let clientAuth: ClientAuthType = 'NoClientCert';
  const authRaw = t.client_auth_type;
  if (authRaw !== undefined && authRaw !== null && authRaw !== '') {
    if (typeof authRaw === 'string' && (CLIENT_AUTH_TYPES as readonly string[]).includes(authRaw)) clientAuth = authRaw as ClientAuthType;
    else if (typeof authRaw === 'string' && CLIENT_AUTH_ALIASES[authRaw] !== undefined) clientAuth = CLIENT_AUTH_ALIASES[authRaw];
    else c.add('tls_server_config.client_auth_type', authRaw, `unknown client auth type (known: ${CLIENT_AUTH_TYPES.join(', ')})`);
  }
  if (clientCa !== null && clientAuth === 'NoClientCert') {
    c.add(
      'tls_server_config.client_auth_type',
      authRaw ?? null,
      'client_ca_file (or client_ca) is set but client_auth_type asks for no client certificate: set client_auth_type, e.g. RequireAndVerifyClientCert',
    );
  }

  const sans = stringList(c, 'tls_server_config.client_allowed_sans', t.client_allowed_sans, (s) => s);
  if (sans !== null && !CLIENT_AUTH_POLICIES[clientAuth].requireCert) {
    c.add(
      'tls_server_config.client_allowed_sans',
      t.client_allowed_sans,
      `needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert (with ${clientAuth} a client may send no certificate, leaving no SAN to match)`,
    );
  }

  const minVersion = tlsVersion(c, 'tls_server_config.min_version', t.min_version, 'TLSv1.2');
  const maxVersion = tlsVersion(c, 'tls_server_config.max_version', t.max_version, 'TLSv1.3');
  if (TLS_VERSION_ORDER[minVersion] > TLS_VERSION_ORDER[maxVersion]) {
    c.add('tls_server_config.min_version', t.min_version, `is above max_version (${String(t.max_version)})`);
  }

  const suites = stringList(c, 'tls_server_config.cipher_suites', t.cipher_suites, (s, at) => {
    if (!Object.prototype.hasOwnProperty.call(CIPHER_SUITES, s)) {
      c.add(at, s, 'unknown cipher suite (Go tls.CipherSuites() names, e.g. TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)');
      return null;
    }
    return s;
  });
  // Go names -> OpenSSL names; TLS 1.3 names map to null (cipher_suites does not choose them).
  const cipherSuites = (suites ?? []).map((s) => CIPHER_SUITES[s]).filter((s): s is string => s !== null);
  if (suites !== null && suites.length > 0 && cipherSuites.length === 0 && minVersion === 'TLSv1.2') {
    // Only TLS 1.3 names: TLS 1.2 would get no suite at all.
    c.add(
      'tls_server_config.cipher_suites',
      t.cipher_suites,
      'lists only TLS 1.3 suites, which cipher_suites does not choose (as in Go); list TLS 1.2 suites, or set min_version: TLS13',
    );
  }
  const curves = stringList(c, 'tls_server_config.curve_preferences', t.curve_preferences, (s, at) => {
    if (!Object.prototype.hasOwnProperty.call(CURVES, s)) {
      c.add(at, s, `unknown curve (known: ${Object.keys(CURVES).join(', ')})`);
      return null;
    }
    return CURVES[s];
  });
  const preferServerCipherSuites = optionalBool(c, 'tls_server_config.prefer_server_cipher_suites', t.prefer_server_cipher_suites, true);

  // exporter-toolkit turns TLS on when any of these is set; the rest alone are settings of nothing.
  const enabled = cert !== null || key !== null || clientCa !== null || clientAuth !== 'NoClientCert' || t.cert !== undefined || t.cert_file !== undefined;
  if (!enabled) {
    const stray = Object.keys(t).filter((k) => (TLS_KEYS as readonly string[]).includes(k));
    if (stray.length > 0)
      c.add(
        'tls_server_config',
        stray.join(', '),
        'sets TLS options but no certificate: add cert_file and key_file (or remove tls_server_config to serve plain HTTP)',
      );
    return null;
  }
  if (cert === null) c.add(`tls_server_config.${certKey}`, t[certKey] ?? null, 'missing: TLS needs cert_file (or cert)');
  if (key === null) c.add(`tls_server_config.${keyKey}`, t[keyKey] ?? null, 'missing: TLS needs key_file (or key)');
  if (cert === null || key === null) return null;
  return {
    cert,
    key,
    clientCa,
    clientAuth,
    clientAllowedSans: sans,
    minVersion,
    maxVersion,
    cipherSuites,
    preferServerCipherSuites,
    curves: curves ?? [],
  };
}

function parseHttp(c: Collector, raw: unknown): Array<[string, string]> {
  const h = c.section('http_server_config', raw, HTTP_KEYS);
  if (h.http2 === true) {
    c.add(
      'http_server_config.http2',
      true,
      "fleetprobe's web server speaks HTTP/1.1 (over TLS too; a client that offers h2 gets http/1.1): remove http2 or set it to false",
    );
  } else if (h.http2 !== undefined && h.http2 !== null && h.http2 !== false) {
    c.add('http_server_config.http2', h.http2, 'must be true or false');
  }
  const out: Array<[string, string]> = [];
  const headers = c.section('http_server_config.headers', h.headers, Object.keys(EXTRA_HEADERS));
  for (const [name, value] of Object.entries(headers)) {
    const allowed = EXTRA_HEADERS[name];
    if (allowed === undefined) continue; // reported by section()
    const at = `http_server_config.headers.${name}`;
    if (value === null || value === undefined || value === '') continue; // "Unset if blank"
    if (typeof value !== 'string') {
      c.add(at, value, 'must be a string');
    } else if (allowed !== null && !allowed.includes(value)) {
      c.add(at, value, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
    } else if (/[\r\n\0]/.test(value)) {
      c.add(at, value, 'must not contain line breaks or NUL');
    } else {
      out.push([name, value]);
    }
  }
  return out;
}

function parseUsers(c: Collector, raw: unknown): Map<string, string> {
  const users = new Map<string, string>();
  if (raw === null || raw === undefined) return users;
  if (!isMapping(raw)) {
    c.add('basic_auth_users', raw, 'must be a mapping of user name to bcrypt hash');
    return users;
  }
  for (const [user, hash] of Object.entries(raw)) {
    const at = `basic_auth_users.${user}`;
    if (user.includes(':')) {
      c.add(at, '(hash)', 'a user name cannot contain ":" (Basic authentication splits user and password at the first ":")');
      continue;
    }
    const check = checkBcryptHash(hash);
    // The hash is a secret: never echoed.
    if (!check.ok) c.add(at, typeof hash === 'string' ? '(hash)' : hash, check.message);
    else users.set(user, hash as string);
  }
  return users;
}

function parseRateLimit(c: Collector, raw: unknown): WebConfigSpec['rateLimit'] {
  const r = c.section('rate_limit', raw, RATE_LIMIT_KEYS);
  if (Object.keys(r).length === 0) return null;
  let intervalMs = 0;
  if (r.interval !== undefined && r.interval !== null && r.interval !== '0' && r.interval !== 0) {
    try {
      intervalMs = parseDuration(r.interval);
    } catch (e) {
      c.add('rate_limit.interval', r.interval, (e as Error).message);
      return null;
    }
  }
  if (intervalMs === 0) return null; // exporter-toolkit: an interval of 0 turns the limiter off
  const burst = r.burst ?? 0;
  if (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 1) {
    c.add('rate_limit.burst', r.burst, 'must be a whole number of at least 1 (with a burst of 0 every request would be refused)');
    return null;
  }
  return { intervalMs, burst };
}

/**
 * Check a parsed web configuration file. `baseDir`: the file's directory (relative
 * cert_file, key_file and client_ca_file are relative to it, as in exporter-toolkit).
 */
export function parseWebConfig(raw: unknown, baseDir: string): { spec: WebConfigSpec; problems: WebConfigProblem[] } {
  const c = new Collector();
  const top = c.section('', raw, SECTIONS);
  const spec: WebConfigSpec = {
    tls: parseTls(c, top.tls_server_config, baseDir),
    headers: parseHttp(c, top.http_server_config),
    users: parseUsers(c, top.basic_auth_users),
    rateLimit: parseRateLimit(c, top.rate_limit),
  };
  if (raw !== null && raw !== undefined && !isMapping(raw)) c.problems[0].key = '(top level)';
  return { spec, problems: c.problems };
}

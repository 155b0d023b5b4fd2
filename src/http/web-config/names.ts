/**
 * The names an exporter-toolkit web configuration file uses (Go's crypto/tls names)
 * and what each becomes in Node's TLS, declared once for the parser, the option
 * builder, the docs and the tests.
 *
 * Where Node cannot do what a name asks, the name maps to a refusal that says why
 * (rather than being accepted and silently doing something else):
 * - TLS 1.0 and 1.1: Node's OpenSSL 3 refuses them at its default security level, so a
 *   server configured for them would still not speak them.
 * - Cipher suites outside Go's tls.CipherSuites() (RC4, 3DES, CBC-SHA256): exporter-toolkit
 *   refuses them too.
 */

/** Go tls.VersionTLS1x names -> Node's minVersion/maxVersion values. */
export const TLS_VERSIONS = {
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
} as const;
export type TlsVersionName = keyof typeof TLS_VERSIONS;
export type NodeTlsVersion = (typeof TLS_VERSIONS)[TlsVersionName];

/** Names exporter-toolkit accepts that Node cannot serve, with the reason. */
export const REFUSED_TLS_VERSIONS: Readonly<Record<string, string>> = {
  TLS10: 'TLS 1.0 is refused by the OpenSSL 3 in Node.js at its default security level (use TLS12 or TLS13)',
  TLS11: 'TLS 1.1 is refused by the OpenSSL 3 in Node.js at its default security level (use TLS12 or TLS13)',
};

/** Ordering of versions, to check min_version <= max_version. */
export const TLS_VERSION_ORDER: Readonly<Record<NodeTlsVersion, number>> = { 'TLSv1.2': 12, 'TLSv1.3': 13 };

/** Go's tls.ClientAuthType names (exporter-toolkit's client_auth_type). */
export const CLIENT_AUTH_TYPES = [
  'NoClientCert',
  'RequestClientCert',
  'RequireAnyClientCert',
  'VerifyClientCertIfGiven',
  'RequireAndVerifyClientCert',
] as const;
export type ClientAuthType = (typeof CLIENT_AUTH_TYPES)[number];
/** Older spellings exporter-toolkit still accepts. */
export const CLIENT_AUTH_ALIASES: Readonly<Record<string, ClientAuthType>> = { RequireClientCert: 'RequireAnyClientCert' };

/** What each client auth type asks of Node's TLS server and of the check after the handshake. */
export interface ClientAuthPolicy {
  /** Ask the client for a certificate (Node requestCert). */
  requestCert: boolean;
  /** Let OpenSSL fail the handshake when the certificate is missing or does not verify (Node rejectUnauthorized). */
  rejectUnauthorized: boolean;
  /** After the handshake: a client without a certificate is refused. */
  requireCert: boolean;
  /** After the handshake: a certificate that was sent must verify against the CA. */
  verifyIfGiven: boolean;
}

export const CLIENT_AUTH_POLICIES: Readonly<Record<ClientAuthType, ClientAuthPolicy>> = {
  NoClientCert: { requestCert: false, rejectUnauthorized: false, requireCert: false, verifyIfGiven: false },
  RequestClientCert: { requestCert: true, rejectUnauthorized: false, requireCert: false, verifyIfGiven: false },
  RequireAnyClientCert: { requestCert: true, rejectUnauthorized: false, requireCert: true, verifyIfGiven: false },
  VerifyClientCertIfGiven: { requestCert: true, rejectUnauthorized: false, requireCert: false, verifyIfGiven: true },
  RequireAndVerifyClientCert: { requestCert: true, rejectUnauthorized: true, requireCert: true, verifyIfGiven: true },
};

/**
 * Go's tls.CipherSuites() names (the ones exporter-toolkit accepts) -> OpenSSL names.
 * `null`: a TLS 1.3 suite. As in Go, cipher_suites only chooses the suites of TLS 1.2;
 * TLS 1.3 always offers Node's default TLS 1.3 suites, so these names are accepted
 * and change nothing. The TLS_RSA_* suites left Go's secure list in Go 1.22 but older
 * exporters accept them, so they are accepted here too.
 */
export const CIPHER_SUITES: Readonly<Record<string, string | null>> = {
  TLS_AES_128_GCM_SHA256: null,
  TLS_AES_256_GCM_SHA384: null,
  TLS_CHACHA20_POLY1305_SHA256: null,
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
};

/** Go's tls.CurveID names (curve_preferences) -> OpenSSL group names for Node's ecdhCurve. */
export const CURVES: Readonly<Record<string, string>> = {
  CurveP256: 'P-256',
  CurveP384: 'P-384',
  CurveP521: 'P-521',
  X25519: 'X25519',
};

/**
 * http_server_config.headers: the only headers exporter-toolkit lets a file set, with
 * the values allowed where the header is an enumeration (null: any value).
 * Names are matched exactly, as exporter-toolkit does.
 */
export const EXTRA_HEADERS: Readonly<Record<string, readonly string[] | null>> = {
  'Strict-Transport-Security': null,
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': null,
  'Content-Security-Policy': null,
};

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWebConfig } from '../../src/http/web-config/parse.js';
import { checkBcryptHash, compareForm } from '../../src/http/web-config/bcrypt-hash.js';
import { CIPHER_SUITES } from '../../src/http/web-config/names.js';
import { clientCertServerOptions, secureContextOptions } from '../../src/http/web-config/tls-options.js';

// htpasswd -nbBC 10 "" secret (a $2y$ hash as htpasswd writes them) and the same shape for $2a$/$2b$.
const HASH_Y = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';
const HASH_B = HASH_Y.replace('$2y$', '$2b$');
const HASH_A = HASH_Y.replace('$2y$', '$2a$');

const parse = (raw: unknown) => parseWebConfig(raw, '/etc/fleetprobe');
const keys = (raw: unknown) => parse(raw).problems.map((p) => p.key);
const problemOf = (raw: unknown, key: string) => parse(raw).problems.find((p) => p.key === key);

test('an empty file, or empty sections, mean plain HTTP with no authentication', () => {
  for (const raw of [null, undefined, {}, { tls_server_config: null, basic_auth_users: null, http_server_config: null }, { tls_server_config: {} }]) {
    const { spec, problems } = parse(raw);
    assert.deepEqual(problems, [], JSON.stringify(raw));
    assert.equal(spec.tls, null);
    assert.equal(spec.users.size, 0);
    assert.deepEqual(spec.headers, []);
    assert.equal(spec.rateLimit, null);
  }
});

test('a full file: every documented key becomes its Node setting, relative paths resolved against the file', () => {
  const { spec, problems } = parse({
    tls_server_config: {
      cert_file: 'tls/server.pem',
      key_file: '/abs/server.key',
      client_auth_type: 'RequireAndVerifyClientCert',
      client_ca_file: 'ca.pem',
      client_allowed_sans: ['prometheus', '127.0.0.1'],
      min_version: 'TLS13',
      max_version: 'TLS13',
      cipher_suites: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256'],
      prefer_server_cipher_suites: false,
      curve_preferences: ['X25519', 'CurveP256'],
    },
    http_server_config: {
      http2: false,
      headers: { 'X-Frame-Options': 'deny', 'Strict-Transport-Security': 'max-age=31536000', 'X-Content-Type-Options': 'nosniff', 'X-XSS-Protection': '' },
    },
    basic_auth_users: { alice: HASH_Y, bob: HASH_B, carol: HASH_A },
    rate_limit: { interval: '100ms', burst: 20 },
  });
  assert.deepEqual(problems, []);
  const tls = spec.tls!;
  assert.deepEqual(tls.cert, { file: '/etc/fleetprobe/tls/server.pem' });
  assert.deepEqual(tls.key, { file: '/abs/server.key' });
  assert.deepEqual(tls.clientCa, { file: '/etc/fleetprobe/ca.pem' });
  assert.equal(tls.clientAuth, 'RequireAndVerifyClientCert');
  assert.deepEqual(tls.clientAllowedSans, ['prometheus', '127.0.0.1']);
  assert.equal(tls.minVersion, 'TLSv1.3');
  assert.equal(tls.maxVersion, 'TLSv1.3');
  assert.deepEqual(tls.cipherSuites, ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-CHACHA20-POLY1305'], 'TLS 1.3 names choose nothing, as in Go');
  assert.equal(tls.preferServerCipherSuites, false);
  assert.deepEqual(tls.curves, ['X25519', 'P-256']);
  assert.deepEqual(
    spec.headers,
    [
      ['X-Frame-Options', 'deny'],
      ['Strict-Transport-Security', 'max-age=31536000'],
      ['X-Content-Type-Options', 'nosniff'],
    ],
    'a blank header is unset',
  );
  assert.deepEqual([...spec.users.keys()], ['alice', 'bob', 'carol']);
  assert.deepEqual(spec.rateLimit, { intervalMs: 100, burst: 20 });

  const material = { cert: 'C', key: 'K', ca: 'CA' };
  assert.deepEqual(secureContextOptions(tls, material), {
    cert: 'C',
    key: 'K',
    ca: 'CA',
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    honorCipherOrder: false,
    ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305',
    ecdhCurve: 'X25519:P-256',
  });
  assert.deepEqual(clientCertServerOptions(tls), { requestCert: true, rejectUnauthorized: true });
});

test("defaults are exporter-toolkit's: NoClientCert, TLS12 to TLS13, server cipher order, Node's suites and curves", () => {
  const { spec, problems } = parse({ tls_server_config: { cert: '-----BEGIN CERTIFICATE-----', key: 'k' } });
  assert.deepEqual(problems, []);
  const tls = spec.tls!;
  assert.deepEqual(tls.cert, { inline: '-----BEGIN CERTIFICATE-----' });
  assert.deepEqual(tls.key, { inline: 'k' });
  assert.equal(tls.clientCa, null);
  assert.equal(tls.clientAuth, 'NoClientCert');
  assert.equal(tls.clientAllowedSans, null);
  assert.equal(tls.minVersion, 'TLSv1.2');
  assert.equal(tls.maxVersion, 'TLSv1.3');
  assert.equal(tls.preferServerCipherSuites, true);
  const o = secureContextOptions(tls, { cert: 'C', key: 'K', ca: null });
  assert.equal('ciphers' in o || 'ecdhCurve' in o || 'ca' in o, false);
  assert.deepEqual(clientCertServerOptions(tls), { requestCert: false, rejectUnauthorized: false });
});

test('every client auth type maps to the Node options and post-handshake checks that make it', () => {
  const expect = {
    NoClientCert: { requestCert: false, rejectUnauthorized: false },
    RequestClientCert: { requestCert: true, rejectUnauthorized: false },
    RequireAnyClientCert: { requestCert: true, rejectUnauthorized: false },
    RequireClientCert: { requestCert: true, rejectUnauthorized: false }, // exporter-toolkit's old name for RequireAnyClientCert
    VerifyClientCertIfGiven: { requestCert: true, rejectUnauthorized: false },
    RequireAndVerifyClientCert: { requestCert: true, rejectUnauthorized: true },
  };
  for (const [type, options] of Object.entries(expect)) {
    const { spec, problems } = parse({
      tls_server_config: { cert_file: 'c', key_file: 'k', client_auth_type: type, ...(type === 'NoClientCert' ? {} : { client_ca_file: 'ca' }) },
    });
    assert.deepEqual(problems, [], type);
    assert.deepEqual(clientCertServerOptions(spec.tls!), options, type);
  }
  assert.equal(
    parse({ tls_server_config: { cert_file: 'c', key_file: 'k', client_auth_type: 'RequireClientCert', client_ca_file: 'ca' } }).spec.tls!.clientAuth,
    'RequireAnyClientCert',
  );
});

test('unknown keys are named with their path, at every level', () => {
  assert.deepEqual(
    keys({
      tls_config: {},
      tls_server_config: { cert_file: 'c', key_file: 'k', certfile: 'x' },
      http_server_config: { header: {}, headers: { 'X-Powered-By': 'me' } },
      rate_limit: { interval: '1s', burst: 1, limit: 3 },
    }).sort(),
    ['http_server_config.header', 'http_server_config.headers.X-Powered-By', 'rate_limit.limit', 'tls_config', 'tls_server_config.certfile'],
  );
  assert.match(
    problemOf({ tls_config: {} }, 'tls_config')!.message,
    /unknown key \(known here: tls_server_config, http_server_config, basic_auth_users, rate_limit\)/,
  );
  assert.deepEqual(keys('just a string'), ['(top level)']);
  assert.deepEqual(keys({ tls_server_config: ['x'] }), ['tls_server_config']);
});

test('TLS problems, each named by its key', () => {
  const base = { cert_file: 'c', key_file: 'k' };
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ key_file: 'k' }, 'tls_server_config.cert', /missing: TLS needs cert_file \(or cert\)/],
    [{ cert_file: 'c' }, 'tls_server_config.key', /missing: TLS needs key_file/],
    [{ cert_file: '', key_file: 'k' }, 'tls_server_config.cert_file', /missing/],
    [{ ...base, cert: 'PEM' }, 'tls_server_config.cert', /set either cert or cert_file, not both/],
    [{ ...base, client_ca: 'PEM', client_ca_file: 'ca', client_auth_type: 'RequireAndVerifyClientCert' }, 'tls_server_config.client_ca', /not both/],
    [{ ...base, cert_file: 7 }, 'tls_server_config.cert_file', /must be a string/],
    [
      { ...base, client_auth_type: 'RequireAndVerify' },
      'tls_server_config.client_auth_type',
      /unknown client auth type \(known: NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert\)/,
    ],
    [
      { ...base, client_ca_file: 'ca' },
      'tls_server_config.client_auth_type',
      /client_ca_file \(or client_ca\) is set but client_auth_type asks for no client certificate/,
    ],
    [
      { ...base, client_allowed_sans: ['x'] },
      'tls_server_config.client_allowed_sans',
      /needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert/,
    ],
    [
      { ...base, client_auth_type: 'VerifyClientCertIfGiven', client_allowed_sans: ['x'] },
      'tls_server_config.client_allowed_sans',
      /with VerifyClientCertIfGiven a client may send no certificate/,
    ],
    [{ ...base, client_auth_type: 'RequireAnyClientCert', client_allowed_sans: 'x' }, 'tls_server_config.client_allowed_sans', /must be a list/],
    [{ ...base, client_auth_type: 'RequireAnyClientCert', client_allowed_sans: ['ok', ''] }, 'tls_server_config.client_allowed_sans[1]', /non-empty string/],
    [{ ...base, min_version: 'TLS10' }, 'tls_server_config.min_version', /TLS 1\.0 is refused by the OpenSSL 3 in Node\.js/],
    [{ ...base, min_version: 'TLS11' }, 'tls_server_config.min_version', /TLS 1\.1 is refused/],
    [{ ...base, max_version: 'TLS11' }, 'tls_server_config.max_version', /TLS 1\.1 is refused/],
    [
      { ...base, min_version: 'TLSv1.3' },
      'tls_server_config.min_version',
      /unknown TLS version \(known: TLS10, TLS11, TLS12, TLS13; fleetprobe serves TLS12 and TLS13\)/,
    ],
    [{ ...base, min_version: 'TLS13', max_version: 'TLS12' }, 'tls_server_config.min_version', /is above max_version \(TLS12\)/],
    [{ ...base, cipher_suites: ['TLS_RSA_WITH_RC4_128_SHA'] }, 'tls_server_config.cipher_suites[0]', /unknown cipher suite/],
    [{ ...base, cipher_suites: ['ECDHE-RSA-AES128-GCM-SHA256'] }, 'tls_server_config.cipher_suites[0]', /Go tls\.CipherSuites\(\) names/],
    [{ ...base, cipher_suites: ['TLS_AES_128_GCM_SHA256'] }, 'tls_server_config.cipher_suites', /lists only TLS 1\.3 suites/],
    [{ ...base, curve_preferences: ['P-256'] }, 'tls_server_config.curve_preferences[0]', /unknown curve \(known: CurveP256, CurveP384, CurveP521, X25519\)/],
    [{ ...base, prefer_server_cipher_suites: 'yes' }, 'tls_server_config.prefer_server_cipher_suites', /true or false/],
    [{ min_version: 'TLS13' }, 'tls_server_config', /sets TLS options but no certificate/],
  ];
  for (const [tls, key, message] of cases) {
    const p = problemOf({ tls_server_config: tls }, key);
    assert.ok(p, `${JSON.stringify(tls)} -> a problem at ${key}; got ${JSON.stringify(parse({ tls_server_config: tls }).problems)}`);
    assert.match(p.message, message, JSON.stringify(tls));
  }
  // Only TLS 1.3 suites are fine when TLS 1.2 is off.
  assert.deepEqual(keys({ tls_server_config: { ...base, min_version: 'TLS13', cipher_suites: ['TLS_AES_128_GCM_SHA256'] } }), []);
});

test('every Go cipher suite name accepted maps to an OpenSSL suite this Node has, or is a TLS 1.3 name', async () => {
  const { getCiphers } = await import('node:tls');
  const node = new Set(getCiphers().map((c) => c.toUpperCase()));
  for (const [go, openssl] of Object.entries(CIPHER_SUITES)) {
    if (openssl === null) assert.match(go, /^TLS_(AES|CHACHA20)/, go);
    else assert.ok(node.has(openssl), `${go} -> ${openssl} is not a suite of this Node`);
  }
});

test("headers: only exporter-toolkit's five, enumerated values checked, no line breaks", () => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ 'X-Frame-Options': 'allow' }, 'http_server_config.headers.X-Frame-Options', /must be one of "deny", "sameorigin"/],
    [{ 'X-Content-Type-Options': 'sniff' }, 'http_server_config.headers.X-Content-Type-Options', /must be one of "nosniff"/],
    [
      { 'x-frame-options': 'deny' },
      'http_server_config.headers.x-frame-options',
      /unknown key \(known here: Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, Content-Security-Policy\)/,
    ],
    [{ 'Content-Security-Policy': "default-src 'self'\r\nSet-Cookie: x=1" }, 'http_server_config.headers.Content-Security-Policy', /line breaks/],
    [{ 'Strict-Transport-Security': 1 }, 'http_server_config.headers.Strict-Transport-Security', /must be a string/],
  ];
  for (const [headers, key, message] of cases) {
    const p = problemOf({ http_server_config: { headers } }, key);
    assert.ok(p, `${JSON.stringify(headers)}: ${JSON.stringify(parse({ http_server_config: { headers } }).problems)}`);
    assert.match(p.message, message);
  }
  assert.match(problemOf({ http_server_config: { http2: true } }, 'http_server_config.http2')!.message, /speaks HTTP\/1\.1/);
  assert.match(problemOf({ http_server_config: { http2: 'no' } }, 'http_server_config.http2')!.message, /true or false/);
  assert.deepEqual(keys({ http_server_config: { http2: false } }), []);
});

test('basic_auth_users: every bad hash named by its user, the hash never echoed', () => {
  const { spec, problems } = parse({
    basic_auth_users: {
      ok: HASH_Y,
      plain: 'secret',
      short: HASH_Y.slice(0, -1),
      cost: HASH_Y.replace('$10$', '$03$'),
      variant: HASH_Y.replace('$2y$', '$2x$'),
      num: 12,
      'a:b': HASH_Y,
    },
  });
  assert.deepEqual([...spec.users.keys()], ['ok']);
  const byKey = new Map(problems.map((p) => [p.key, p]));
  assert.match(byKey.get('basic_auth_users.plain')!.message, /is not a bcrypt hash .*plain-text passwords are not accepted/);
  assert.match(byKey.get('basic_auth_users.short')!.message, /is not a bcrypt hash/);
  assert.match(byKey.get('basic_auth_users.cost')!.message, /has cost 3; bcrypt costs are 4 to 31/);
  assert.match(byKey.get('basic_auth_users.variant')!.message, /unsupported variant/);
  assert.match(byKey.get('basic_auth_users.num')!.message, /must be a bcrypt hash/);
  assert.match(byKey.get('basic_auth_users.a:b')!.message, /cannot contain ":"/);
  for (const p of problems) assert.ok(p.value === '(hash)' || typeof p.value === 'number', `${p.key} shows ${String(p.value)}`);
  assert.equal(problems.length, 6);
  assert.match(problemOf({ basic_auth_users: ['alice'] }, 'basic_auth_users')!.message, /mapping of user name to bcrypt hash/);
});

test('checkBcryptHash and compareForm', () => {
  assert.deepEqual(checkBcryptHash(HASH_Y), { ok: true, cost: 10 });
  assert.deepEqual(checkBcryptHash(HASH_A.replace('$10$', '$31$')), { ok: true, cost: 31 });
  assert.equal(checkBcryptHash(HASH_A.replace('$10$', '$32$')).ok, false);
  assert.equal(checkBcryptHash(`${HASH_B}x`).ok, false);
  assert.equal(checkBcryptHash(HASH_B.replace('/', '!')).ok, false);
  assert.equal(compareForm(HASH_Y), HASH_B);
  assert.equal(compareForm(HASH_A), HASH_A);
  assert.equal(compareForm(HASH_B), HASH_B);
});

test('rate_limit: an interval of 0 turns it off; a burst below 1 would refuse everything', () => {
  assert.equal(parse({ rate_limit: { interval: '0s', burst: 5 } }).spec.rateLimit, null);
  assert.equal(parse({ rate_limit: { interval: 0 } }).spec.rateLimit, null);
  assert.deepEqual(parse({ rate_limit: { interval: '1m30s', burst: 1 } }).spec.rateLimit, { intervalMs: 90_000, burst: 1 });
  assert.match(problemOf({ rate_limit: { interval: '1s' } }, 'rate_limit.burst')!.message, /at least 1/);
  assert.match(problemOf({ rate_limit: { interval: '1s', burst: 1.5 } }, 'rate_limit.burst')!.message, /whole number/);
  assert.match(problemOf({ rate_limit: { interval: '5', burst: 1 } }, 'rate_limit.interval')!.message, /no unit/);
});

test('one pass names every problem of every section', () => {
  const all = keys({
    tls_server_config: { cert_file: 'c', key_file: 'k', min_version: 'TLS10', client_auth_type: 'Nope' },
    http_server_config: { headers: { 'X-Frame-Options': 'allow' } },
    basic_auth_users: { u: 'pw' },
    rate_limit: { interval: 'x', burst: 1 },
  });
  assert.deepEqual(all.sort(), [
    'basic_auth_users.u',
    'http_server_config.headers.X-Frame-Options',
    'rate_limit.interval',
    'tls_server_config.client_auth_type',
    'tls_server_config.min_version',
  ]);
});

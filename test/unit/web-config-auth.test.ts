/**
 * The pure parts of the web configuration's access checks: Basic credentials against
 * bcrypt hashes (with the real native bcrypt at its lowest cost, so a wrong hash
 * variant or a broken comparison fails here), the success cache and its bounds, the
 * "busy" answer under a flood, the client certificate judgement after a TLS handshake
 * and client_allowed_sans matching.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import bcrypt from 'bcrypt';
import { BasicAuth, parseBasicAuthorization, type BasicAuthResult } from '../../src/http/web-config/basic-auth.js';
import { judgeClientCert } from '../../src/http/web-config/client-cert.js';
import { CLIENT_AUTH_POLICIES } from '../../src/http/web-config/names.js';
import { canonicalIp, parseSubjectAltNames, sanAllowed } from '../../src/http/web-config/san.js';

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

test('parseBasicAuthorization: user and password split at the first ":", other schemes and garbage are null', () => {
  assert.deepEqual(parseBasicAuthorization(basic('alice', 'pa:ss')), { user: 'alice', password: Buffer.from('pa:ss') });
  assert.deepEqual(parseBasicAuthorization(`basic  ${Buffer.from('a:').toString('base64')}`), { user: 'a', password: Buffer.alloc(0) });
  for (const h of [undefined, '', 'Bearer abc', 'Basic', 'Basic !!!!', `Basic ${Buffer.from('nocolon').toString('base64')}`, 'Basic YWJj']) {
    assert.equal(parseBasicAuthorization(h), null, String(h));
  }
});

test('BasicAuth with real bcrypt: $2y$ (htpasswd), $2a$ and $2b$ hashes verify; a success is cached, a failure is not', async () => {
  const b = await bcrypt.hash('s3cret', 4);
  assert.match(b, /^\$2b\$04\$/);
  const users = new Map([
    ['y', `$2y$${b.slice(4)}`],
    ['a', `$2a$${b.slice(4)}`],
    ['b', b],
  ]);
  const auth = new BasicAuth(users);
  for (const user of users.keys()) {
    const first = await auth.check(basic(user, 's3cret'));
    assert.deepEqual(first, { ok: true, user, cached: false }, user);
    const again = auth.check(basic(user, 's3cret'));
    assert.ok(!(again instanceof Promise), 'a cached success is answered synchronously');
    assert.deepEqual(again, { ok: true, user, cached: true });
  }
  assert.equal(auth.verifications, 3);
  assert.deepEqual(await auth.check(basic('y', 'wrong')), { ok: false, reason: 'bad_credentials' });
  assert.deepEqual(await auth.check(basic('y', 'wrong')), { ok: false, reason: 'bad_credentials' });
  assert.equal(auth.verifications, 5, 'failures are verified each time');
  assert.deepEqual(auth.check(undefined), { ok: false, reason: 'missing' });
  assert.deepEqual(auth.check('Bearer x'), { ok: false, reason: 'missing' });
});

test('an unknown user is verified against a configured hash (same cost) and refused even with that password', async () => {
  const h = await bcrypt.hash('pw', 4);
  const auth = new BasicAuth(new Map([['alice', h]]));
  assert.deepEqual(await auth.check(basic('mallory', 'pw')), { ok: false, reason: 'bad_credentials' });
  assert.equal(auth.verifications, 1, 'the decoy comparison ran');
  assert.equal(auth.cached, 0);
  assert.equal(new BasicAuth(new Map()).enabled, false);
});

test('the cache: entries expire after the TTL without use, the least recently used goes first, new users clear it', async () => {
  let now = 0;
  const seen: string[] = [];
  const compare = (password: Buffer, hash: string): Promise<boolean> => {
    seen.push(password.toString());
    return Promise.resolve(hash === `h-${password.toString()}`);
  };
  const users = new Map([
    ['u1', 'h-p1'],
    ['u2', 'h-p2'],
    ['u3', 'h-p3'],
  ]);
  const auth = new BasicAuth(users, { compare, now: () => now, cacheTtlMs: 1000, cacheSize: 2 });
  const ok = async (u: string, p: string): Promise<BasicAuthResult> => auth.check(basic(u, p));
  assert.equal((await ok('u1', 'p1')).ok, true);
  now = 900;
  assert.deepEqual(await ok('u1', 'p1'), { ok: true, user: 'u1', cached: true });
  now = 1800; // 900 ms after its last use: still fresh
  assert.deepEqual(await ok('u1', 'p1'), { ok: true, user: 'u1', cached: true });
  now = 2801; // 1001 ms without use: expired
  assert.deepEqual(await ok('u1', 'p1'), { ok: true, user: 'u1', cached: false });
  await ok('u2', 'p2');
  await ok('u1', 'p1'); // u1 now most recent
  await ok('u3', 'p3'); // evicts u2
  assert.equal(auth.cached, 2);
  assert.deepEqual(await ok('u1', 'p1'), { ok: true, user: 'u1', cached: true });
  assert.deepEqual(await ok('u2', 'p2'), { ok: true, user: 'u2', cached: false });
  auth.setUsers(new Map([['u1', 'h-p1']]));
  assert.equal(auth.cached, 0);
  assert.deepEqual(await ok('u2', 'p2'), { ok: false, reason: 'bad_credentials' }, 'a removed user is refused');
});

test('verifications run one at a time; beyond maxWaiting the answer is busy at once', async () => {
  let running = 0;
  let most = 0;
  const releases: Array<() => void> = [];
  const compare = (): Promise<boolean> => {
    running++;
    most = Math.max(most, running);
    return new Promise((resolve) =>
      releases.push(() => {
        running--;
        resolve(false);
      }),
    );
  };
  const auth = new BasicAuth(new Map([['u', 'h']]), { compare, maxWaiting: 3 });
  const pending = [1, 2, 3].map((i) => auth.check(basic('u', `p${i}`)));
  assert.ok(pending.every((p) => p instanceof Promise));
  assert.deepEqual(auth.check(basic('u', 'p4')), { ok: false, reason: 'busy' });
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    assert.equal(releases.length, i + 1, 'the next comparison starts only after the previous one ended');
    releases[i]();
  }
  for (const r of await Promise.all(pending)) assert.deepEqual(r, { ok: false, reason: 'bad_credentials' });
  assert.equal(most, 1);
});

test('a hash replaced while its verification ran: the old result does not log anyone in', async () => {
  let release: (v: boolean) => void = () => undefined;
  const auth = new BasicAuth(new Map([['u', 'old']]), { compare: () => new Promise((r) => (release = r)) });
  const p = auth.check(basic('u', 'pw'));
  await new Promise((r) => setImmediate(r)); // the comparison has started
  auth.setUsers(new Map([['u', 'new']]));
  release(true);
  assert.deepEqual(await p, { ok: false, reason: 'bad_credentials' });
});

test('client certificate judgement for every client_auth_type', () => {
  const none = { hasCert: false, authorized: false, subjectAltName: undefined };
  const unverified = { hasCert: true, authorized: false, subjectAltName: 'DNS:prometheus' };
  const verified = { hasCert: true, authorized: true, subjectAltName: 'DNS:prometheus' };
  const expect: Record<string, [string | null, string | null, string | null]> = {
    NoClientCert: [null, null, null],
    RequestClientCert: [null, null, null],
    RequireAnyClientCert: ['client_cert_missing', null, null],
    VerifyClientCertIfGiven: [null, 'client_cert_unverified', null],
    RequireAndVerifyClientCert: ['client_cert_missing', 'client_cert_unverified', null],
  };
  for (const [type, [a, b, c]] of Object.entries(expect)) {
    const p = CLIENT_AUTH_POLICIES[type as keyof typeof CLIENT_AUTH_POLICIES];
    assert.equal(judgeClientCert(p, null, none), a, `${type} without a certificate`);
    assert.equal(judgeClientCert(p, null, unverified), b, `${type} with an unverified certificate`);
    assert.equal(judgeClientCert(p, null, verified), c, `${type} with a verified certificate`);
  }
  const p = CLIENT_AUTH_POLICIES.RequireAndVerifyClientCert;
  assert.equal(judgeClientCert(p, ['prometheus'], verified), null);
  assert.equal(judgeClientCert(p, ['grafana'], verified), 'client_san_not_allowed');
});

test("SANs: Node's subjectaltname string parsed, quoted values and IPv6 handled, matched exactly", () => {
  const sans = parseSubjectAltNames(
    'DNS:prometheus, DNS:"a, b", IP Address:127.0.0.1, IP Address:FE80:0:0:0:0:0:1:2, email:ops@example.org, URI:spiffe://td/prom, othername:x',
  );
  assert.deepEqual(sans, { dns: ['prometheus', 'a, b'], ip: ['127.0.0.1', 'fe80::1:2'], email: ['ops@example.org'], uri: ['spiffe://td/prom'] });
  assert.equal(sanAllowed(sans, ['fe80::1:2']), true);
  assert.equal(sanAllowed(sans, ['FE80:0::1:2']), true, 'an allowed IP is compared canonicalized');
  assert.equal(sanAllowed(sans, ['a, b']), true);
  assert.equal(sanAllowed(sans, ['spiffe://td/prom']), true);
  assert.equal(sanAllowed(sans, ['Prometheus', 'prom', '127.0.0.2']), false);
  assert.deepEqual(parseSubjectAltNames(undefined), { dns: [], ip: [], email: [], uri: [] });
  assert.equal(canonicalIp('::FFFF:7F00:1'), '::ffff:7f00:1');
  assert.equal(canonicalIp('host'), 'host');
});

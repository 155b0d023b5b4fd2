/**
 * The mutation rule (issue 8 item 1, issue 9 item 2): with a token configured every
 * change needs it; without one, changes are allowed only when the web server listens on
 * loopback alone, and refused (403, with the fix) otherwise. As pure logic over every
 * kind of listen address, then through build() + inject(): POST /-/reload follows the
 * rule, a refused request is answered before its body is parsed, and a changing route
 * that does not declare config.mutation fails the build.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import Fastify from 'fastify';
import { authorizeMutation, describeMutationRule, isLoopbackAddress, mutationRule } from '../../src/auth/mutation.js';
import { installMutationAuth, type MutationPolicy } from '../../src/http/mutation-auth.js';
import { build } from '../../src/http/app.js';

test('loopback addresses: 127.0.0.0/8, ::1 and IPv4-mapped 127/8, with or without a port; nothing else', () => {
  for (const a of ['127.0.0.1', '127.0.0.1:9798', '127.255.0.9:1', '[::1]:9798', '::1', '[::1]', '::ffff:127.0.0.1', '[::ffff:127.0.0.2]:80']) {
    assert.equal(isLoopbackAddress(a), true, a);
  }
  for (const a of [
    '0.0.0.0:9798',
    '[::]:9798',
    '::',
    '10.0.0.1:9798',
    '128.0.0.1:1',
    '[2001:db8::1]:9798',
    'localhost:9798',
    '',
    '::2',
    '[::ffff:10.0.0.1]:1',
    'not an address',
  ]) {
    assert.equal(isLoopbackAddress(a), false, a);
  }
});

test('the rule: token when one is configured; else loopback only when every bound address is loopback; else refused', () => {
  assert.equal(mutationRule('t0k', ['0.0.0.0:9798']).kind, 'token');
  assert.equal(mutationRule('t0k', ['127.0.0.1:9798']).kind, 'token');
  assert.equal(mutationRule(null, ['127.0.0.1:9798']).kind, 'loopback');
  assert.equal(mutationRule(null, ['127.0.0.1:9798', '[::1]:9798']).kind, 'loopback');
  assert.equal(mutationRule(null, ['127.0.0.1:9798', '[::]:9798']).kind, 'refused');
  assert.equal(mutationRule(null, ['0.0.0.0:9798']).kind, 'refused');
  assert.equal(mutationRule(null, ['10.1.2.3:9798']).kind, 'refused');
  // Not bound yet: fail closed.
  assert.equal(mutationRule(null, []).kind, 'refused');
  for (const kind of ['token', 'loopback', 'refused'] as const)
    assert.match(describeMutationRule({ kind, listen: '0.0.0.0:1' }), /POST\/DELETE \/api\/v1\/targets and \/api\/v1\/tests, POST \/-\/reload/);
});

test('decisions: 401 missing/bad token (also on loopback), allowed with it; 403 with the fix when refused, whatever is sent', () => {
  const tokenRule = mutationRule('s3cret', ['127.0.0.1:1']);
  assert.deepEqual(authorizeMutation(tokenRule, 's3cret', 'Bearer s3cret'), { ok: true });
  assert.deepEqual(authorizeMutation(tokenRule, 's3cret', 'bearer  s3cret '), { ok: true });
  const missing = authorizeMutation(tokenRule, 's3cret', undefined);
  assert.equal(missing.ok, false);
  assert.equal(!missing.ok && missing.status, 401);
  assert.equal(!missing.ok && missing.code, 'missing_token');
  const bad = authorizeMutation(tokenRule, 's3cret', 'Bearer s3cre');
  assert.equal(!bad.ok && bad.code, 'bad_token');
  assert.equal(!bad.ok && bad.status, 401);
  assert.equal(authorizeMutation(tokenRule, 's3cret', 'Basic czNjcmV0').ok, false);

  assert.deepEqual(authorizeMutation(mutationRule(null, ['[::1]:9798']), null, undefined), { ok: true });
  const refused = authorizeMutation(mutationRule(null, ['0.0.0.0:9798']), null, 'Bearer anything');
  assert.equal(refused.ok, false);
  if (!refused.ok) {
    assert.equal(refused.status, 403);
    assert.equal(refused.code, 'mutations_disabled');
    assert.match(refused.message, /no API token is configured and the web server listens on 0\.0\.0\.0:9798/);
    assert.match(refused.message, /api\.token_file/);
  }
});

async function app(policy: MutationPolicy) {
  const reloads: number[] = [];
  const a = await build({
    logger: false,
    telemetryPath: '/metrics',
    metrics: () => ({ headers: {}, body: Readable.from(['']) }),
    readiness: () => ({ ready: true }),
    reload: () => {
      reloads.push(1);
      return Promise.resolve({ status: 'reloaded', applied: true, problems: [] });
    },
    api: { targets: () => [], status: () => ({}) },
    limits: { maxRequests: 4, maxConnections: 100, readTimeoutMs: 5000, writeTimeoutMs: 5000, idleTimeoutMs: 5000 },
    mutations: () => policy,
  });
  return { app: a, reloads };
}

test('POST and PUT /-/reload follow the rule; reads stay open', async (t) => {
  const token = await app({ token: 'tok', listen: ['127.0.0.1:9798'] });
  t.after(() => token.app.close());
  for (const method of ['POST', 'PUT'] as const) {
    const none = await token.app.inject({ method, url: '/-/reload' });
    assert.equal(none.statusCode, 401);
    assert.match(String(none.headers['www-authenticate']), /^Bearer/);
    assert.equal(none.json<{ error: string }>().error, 'missing_token');
    assert.equal((await token.app.inject({ method, url: '/-/reload', headers: { authorization: 'Bearer nope' } })).statusCode, 401);
    assert.equal((await token.app.inject({ method, url: '/-/reload', headers: { authorization: 'Bearer tok' } })).statusCode, 200);
  }
  assert.equal(token.reloads.length, 2, 'the handler ran only for the two requests with the token');
  assert.equal((await token.app.inject({ method: 'GET', url: '/api/v1/targets' })).statusCode, 200);

  const loop = await app({ token: null, listen: ['127.0.0.1:9798'] });
  t.after(() => loop.app.close());
  assert.equal((await loop.app.inject({ method: 'POST', url: '/-/reload' })).statusCode, 200);

  const open = await app({ token: null, listen: ['[::]:9798'] });
  t.after(() => open.app.close());
  const r = await open.app.inject({ method: 'POST', url: '/-/reload' });
  assert.equal(r.statusCode, 403);
  assert.equal(r.json<{ error: string }>().error, 'mutations_disabled');
  assert.equal(open.reloads.length, 0);
});

test('build() without a policy refuses every change (fail closed)', async (t) => {
  const a = await build({
    logger: false,
    telemetryPath: '/metrics',
    metrics: () => ({ headers: {}, body: Readable.from(['']) }),
    readiness: () => ({ ready: true }),
    reload: () => Promise.resolve({ status: 'reloaded', applied: true, problems: [] }),
    api: { targets: () => [], status: () => ({}) },
    limits: { maxRequests: 4, maxConnections: 100, readTimeoutMs: 5000, writeTimeoutMs: 5000, idleTimeoutMs: 5000 },
  });
  t.after(() => a.close());
  assert.equal((await a.inject({ method: 'POST', url: '/-/reload' })).statusCode, 403);
});

test('a refused request is answered before its body is parsed; a changing route must declare config.mutation', async (t) => {
  const a = Fastify();
  t.after(() => a.close());
  installMutationAuth(a, () => ({ token: 'tok', listen: ['127.0.0.1:1'] }));
  let handled = 0;
  a.post('/thing', { config: { mutation: true } }, () => {
    handled++;
    return { ok: true };
  });
  a.post('/open', { config: { mutation: false } }, () => ({ ok: true }));
  await a.ready();
  const broken = await a.inject({ method: 'POST', url: '/thing', headers: { 'content-type': 'application/json' }, payload: '{"not json' });
  assert.equal(broken.statusCode, 401, 'no token: 401, not the 400 of the unparsable body');
  const parsed = await a.inject({
    method: 'POST',
    url: '/thing',
    headers: { 'content-type': 'application/json', authorization: 'Bearer tok' },
    payload: '{"not json',
  });
  assert.equal(parsed.statusCode, 400, 'with the token the body is parsed (and refused)');
  assert.equal(handled, 0);
  assert.equal((await a.inject({ method: 'POST', url: '/thing', headers: { authorization: 'Bearer tok' } })).statusCode, 200);
  assert.equal(handled, 1);
  assert.equal((await a.inject({ method: 'POST', url: '/open' })).statusCode, 200);

  const b = Fastify();
  t.after(() => b.close());
  installMutationAuth(b, () => ({ token: null, listen: [] }));
  assert.throws(() => b.delete('/forgot', () => ({})), /DELETE \/forgot changes state but does not declare config\.mutation/);
  // Reads need no declaration.
  b.get('/read', () => ({}));
});

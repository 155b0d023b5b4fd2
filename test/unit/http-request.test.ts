import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHttpRequest } from '../../workers/probes/http-request.js';

const build = (url: string, over: { method?: string; keepAlive?: boolean; headers?: Record<string, string> } = {}): string =>
  buildHttpRequest({ method: over.method ?? 'GET', url: new URL(url), keepAlive: over.keepAlive ?? false, headers: over.headers ?? {} }).toString('latin1');

test('GET: request line with path and query, Host with a non-default port, Connection: close', () => {
  assert.equal(
    build('http://127.0.0.1:8080/v1/ping?size=10'),
    'GET /v1/ping?size=10 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: fleetprobe\r\nAccept: */*\r\nConnection: close\r\n\r\n',
  );
});

test('Host omits the default port and keeps IPv6 brackets; keep_alive asks for keep-alive', () => {
  assert.match(build('https://example.test:443/'), /\r\nHost: example\.test\r\n/);
  assert.match(build('http://[::1]:81/'), /\r\nHost: \[::1\]:81\r\n/);
  assert.match(build('http://127.0.0.1/', { keepAlive: true }), /\r\nConnection: keep-alive\r\n\r\n$/);
});

test('URL credentials become Basic authorization; POST/PUT/PATCH send Content-Length: 0, others none', () => {
  assert.match(build('http://user:p%40ss@127.0.0.1/'), new RegExp(`\\r\\nAuthorization: Basic ${Buffer.from('user:p@ss').toString('base64')}\\r\\n`));
  for (const m of ['POST', 'PUT', 'PATCH'])
    assert.match(build('http://127.0.0.1/', { method: m }), new RegExp(`^${m} / HTTP/1.1\\r\\n[^]*Content-Length: 0\\r\\n`));
  for (const m of ['GET', 'HEAD', 'DELETE', 'OPTIONS']) assert.doesNotMatch(build('http://127.0.0.1/', { method: m }), /Content-Length/i);
});

test('options.headers are added and override the defaults (case-insensitively), Host included', () => {
  const r = build('http://127.0.0.1/', { headers: { 'user-agent': 'mine', 'X-Trace': 'abc', Host: 'vhost.test' } });
  assert.match(r, /\r\nuser-agent: mine\r\n/);
  assert.doesNotMatch(r, /fleetprobe/);
  assert.match(r, /\r\nX-Trace: abc\r\n/);
  assert.match(r, /\r\nHost: vhost\.test\r\n/);
  assert.equal(r.match(/host:/gi)?.length, 1);
});

test('header injection, invalid names, framing headers and unknown methods are refused', () => {
  assert.throws(() => build('http://127.0.0.1/', { headers: { 'X-A': 'v\r\nEvil: 1' } }), /CR, LF/);
  assert.throws(() => build('http://127.0.0.1/', { headers: { 'X-A': 'v\nEvil: 1' } }), /CR, LF/);
  assert.throws(() => build('http://127.0.0.1/', { headers: { 'bad name': 'v' } }), /not a valid header name/);
  for (const h of ['Connection', 'content-length', 'Transfer-Encoding', 'Upgrade', 'Expect']) {
    assert.throws(() => build('http://127.0.0.1/', { headers: { [h]: 'x' } }), /set by the prober/, h);
  }
  assert.throws(() => build('http://127.0.0.1/', { method: 'BREW' }), /method/);
});

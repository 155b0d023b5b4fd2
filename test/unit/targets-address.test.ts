import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHost, parseHostPort, parseHttpUrl, isHostName } from '../../src/targets/address.js';
import { checkLabelName, checkLabels } from '../../src/targets/labels.js';

test('icmp addresses: IPv4, IPv6 and host names pass; ports, brackets and junk fail', () => {
  for (const ok of ['127.0.0.1', '::1', 'fe80::1', 'localhost', 'a.b-c.example', 'x.invalid', 'host.']) assert.equal(checkHost(ok), null, ok);
  for (const bad of ['', ' 127.0.0.1', '127.0.0.1:80', '[::1]', '256.1.1.1', '1.2.3', 'a..b', '-a.b', 'a_b', 'a b', 'a'.repeat(64) + '.com', 5, null]) {
    assert.notEqual(checkHost(bad), null, JSON.stringify(bad));
  }
  assert.match(checkHost('127.0.0.1:80') ?? '', /must not have a port/);
  assert.equal(isHostName('1.2.3.4.5'), false);
});

test('host:port parsing for tcp/tcp_echo/udp', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:4000'), { host: '127.0.0.1', port: 4000 });
  assert.deepEqual(parseHostPort('[::1]:4000'), { host: '::1', port: 4000 });
  assert.deepEqual(parseHostPort('localhost:65535'), { host: 'localhost', port: 65535 });
  for (const bad of ['127.0.0.1', '::1:80', '[::1]80', '[127.0.0.1]:80', 'h:0', 'h:65536', 'h:-1', 'h:8a', ':80', '[::1]:', '']) {
    assert.equal(typeof parseHostPort(bad), 'string', bad);
  }
  assert.match(parseHostPort('::1:80') as string, /\[ipv6\]:port/);
  assert.deepEqual(parseHostPort(':9798', { allowEmptyHost: true }), { host: '', port: 9798 });
  assert.deepEqual(parseHostPort('127.0.0.1:0', { allowPortZero: true }), { host: '127.0.0.1', port: 0 });
});

test('http urls: http/https only, default ports, IPv6 hosts unbracketed', () => {
  assert.deepEqual(parseHttpUrl('http://127.0.0.1:4001/v1/ping'), { url: 'http://127.0.0.1:4001/v1/ping', host: '127.0.0.1', port: 4001, tls: false });
  assert.deepEqual(parseHttpUrl('https://[::1]/x'), { url: 'https://[::1]/x', host: '::1', port: 443, tls: true });
  assert.equal((parseHttpUrl('http://localhost/') as { port: number }).port, 80);
  for (const bad of ['ftp://127.0.0.1/', '127.0.0.1:80', 'http://u:p@127.0.0.1/', '', 'http://', 7])
    assert.equal(typeof parseHttpUrl(bad), 'string', String(bad));
});

test('label names: Prometheus syntax, no __ prefix, no reserved names; values must be strings', () => {
  for (const ok of ['rack', '_x', 'a1_B']) assert.equal(checkLabelName(ok), null);
  for (const bad of ['1a', 'a-b', '', '__x', 'target', 'address', 'kind', 'reason', 'phase', 'le']) assert.notEqual(checkLabelName(bad), null, bad);
  assert.deepEqual(checkLabels({ a: 'x' }), []);
  assert.deepEqual(checkLabels(undefined), []);
  assert.equal(checkLabels({ a: 1, kind: 'x' }).length, 2);
  assert.equal(checkLabels(['a']).length, 1);
});

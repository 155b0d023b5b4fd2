/**
 * A listener that cannot bind is told as one line naming the address, the setting,
 * the cause and the fix; and two listeners of the same process on one port are a
 * configuration error naming both keys. Real bind failures (a port held by this test)
 * and errors as they look after crossing a thread (message only).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { createSocket } from 'node:dgram';
import { failedListener, flagOf, isListenFailure, listenError } from '../../src/listen-error.js';
import { listenerCollisions } from '../../src/config/listeners.js';
import { loadConfig, ConfigError } from '../../src/config/index.js';

function listen(server: Server, port: number): Promise<Error | null> {
  return new Promise((resolve) => {
    server.once('error', resolve);
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(null));
  });
}

test('a taken TCP port: one line with the address, the key, the cause and the flag to change', async (t) => {
  const holder = createServer();
  assert.equal(await listen(holder, 0), null);
  t.after(() => holder.close());
  const port = (holder.address() as { port: number }).port;
  const second = createServer();
  const err = await listen(second, port);
  assert.ok(err, 'the second bind fails');
  assert.ok(isListenFailure(err));
  const e = listenError(err, { key: 'web.listen_address', address: `127.0.0.1:${port}` });
  assert.equal(
    e.message,
    `cannot listen on 127.0.0.1:${port} (web.listen_address): address already in use; another process has it — choose another port with --web.listen-address`,
  );
  assert.equal(e.code, 'EADDRINUSE');
  assert.ok(!e.message.includes('\n'));
});

test('a taken UDP port is told apart from the TCP listeners on the same number', async (t) => {
  const holder = createSocket('udp4');
  await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', resolve));
  t.after(() => holder.close());
  const port = holder.address().port;
  const second = createSocket('udp4');
  const err = await new Promise<Error>((resolve) => {
    second.once('error', resolve);
    second.bind(port, '127.0.0.1');
  });
  second.close();
  const settings = [
    { key: 'responder.tcp_echo', address: `127.0.0.1:${port}` },
    { key: 'responder.udp_echo', address: `127.0.0.1:${port}`, udp: true },
    { key: 'responder.http', address: '127.0.0.1:4001' },
  ];
  assert.equal(failedListener(err, settings).key, 'responder.udp_echo');
  // The same error as a thread boundary leaves it: only the message.
  assert.equal(failedListener({ message: err.message }, settings).key, 'responder.udp_echo');
  assert.match(listenError({ message: err.message }, settings[1]).message, /\(responder\.udp_echo\): address already in use; .* --responder\.udp-echo$/);
});

test('the failed TCP listener is found by its port; other causes have their own fixes', () => {
  const settings = [
    { key: 'responder.tcp_echo', address: '127.0.0.1:4000' },
    { key: 'responder.udp_echo', address: '127.0.0.1:4000', udp: true },
    { key: 'responder.http', address: '127.0.0.1:4001' },
  ];
  const inUse = { message: 'listen EADDRINUSE: address already in use 127.0.0.1:4001' };
  assert.equal(failedListener(inUse, settings).key, 'responder.http');
  assert.equal(failedListener({ code: 'EADDRINUSE', syscall: 'listen', port: 4000 }, settings).key, 'responder.tcp_echo');
  // A responder error that names its own setting (and wraps the system's message).
  const wrapped = { code: 'EADDRINUSE', message: 'responder.http: cannot listen on 127.0.0.1:4001: listen EADDRINUSE: address already in use 127.0.0.1:4001' };
  assert.equal(failedListener(wrapped, settings).key, 'responder.http');
  assert.ok(isListenFailure(wrapped));
  assert.ok(isListenFailure({ code: 'FP_ERR_X', message: 'responder.udp_echo: cannot listen on 127.0.0.1:4000: bind EADDRINUSE 127.0.0.1:4000' }));
  assert.equal(failedListener({ message: 'x: bind EADDRINUSE 127.0.0.1:4000' }, settings).key, 'responder.udp_echo');
  const web = { key: 'web.listen_address', address: '127.0.0.1:80' };
  assert.match(
    listenError({ code: 'EACCES', message: 'listen EACCES: permission denied 127.0.0.1:80' }, web).message,
    /permission denied; ports below 1024 need root or CAP_NET_BIND_SERVICE/,
  );
  assert.match(listenError({ code: 'EADDRNOTAVAIL', message: 'x' }, web).message, /address not available; no interface of this host has that address/);
  assert.match(listenError(new Error('something odd'), web).message, /: something odd; check --web\.listen-address$/);
  assert.equal(flagOf('responder.tcp_echo'), '--responder.tcp-echo');
  // Not a bind failure: a bug or a bad option keeps its own error.
  assert.equal(isListenFailure(new Error('boom')), false);
  assert.equal(isListenFailure({ code: 'FST_ERR_X', message: 'x' }), false);
});

test('listeners of one process on the same port are a configuration error naming both keys', () => {
  assert.deepEqual(
    listenerCollisions({
      'web.listen_address': '127.0.0.1:9798',
      'responder.tcp_echo': '127.0.0.1:4000',
      'responder.udp_echo': '127.0.0.1:4000',
      'responder.http': null,
    }),
    [],
  );
  const c = listenerCollisions({
    'web.listen_address': ':4001',
    'responder.tcp_echo': '127.0.0.1:4000',
    'responder.udp_echo': null,
    'responder.http': '127.0.0.1:4001',
  });
  assert.deepEqual(
    c.map((p) => p.key),
    ['responder.http'],
  );
  assert.match(c[0].message, /takes the same TCP port as web\.listen_address \(":4001"\)/);
  // 0.0.0.0 overlaps IPv4 addresses only; port 0 never collides.
  assert.equal(listenerCollisions({ a: '0.0.0.0:1', b: '::1:x', c: '[::1]:1' }).length, 0);
  assert.equal(listenerCollisions({ a: '0.0.0.0:1', b: '127.0.0.2:1' }).length, 1);
  assert.equal(listenerCollisions({ a: '127.0.0.1:0', b: '127.0.0.1:0' }).length, 0);
  assert.throws(
    () => loadConfig({ argv: ['--web.listen-address', '127.0.0.1:4000', '--workers', '1'], env: {} }),
    (e: unknown) =>
      e instanceof ConfigError && e.problems.some((p) => p.key === 'responder.tcp_echo' && /same TCP port as web\.listen_address/.test(p.message)),
  );
});

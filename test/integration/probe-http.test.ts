/**
 * http prober against real HTTP/HTTPS on loopback: in-test node servers (status codes,
 * silence, resets, big bodies, keep-alive), a self-signed certificate made with openssl at
 * test time, and independent servers (python3 http.server, openssl s_server -www).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { test } from 'node:test';
import { ErrorReason, HTTP_PHASE_NAMES, ProbeEvent } from '../../src/protocol/events.js';
import { RecordingSink, sleep } from '../fixtures/recording-sink.js';
import { shardTarget, TEST_SETTINGS } from '../fixtures/shard-target.js';
import { makeSelfSignedCert } from '../fixtures/tls-cert.js';
import { httpProberFactory } from '../../workers/probes/http.js';
import { httpKind } from '../../src/kinds/http.js';

const openConnections = new WeakMap<net.Server, Set<net.Socket>>();
async function listen(server: net.Server, host?: string): Promise<number> {
  const conns = new Set<net.Socket>();
  openConnections.set(server, conns);
  // tls servers report the raw TCP socket here too, which is the one to destroy
  server.on('connection', (c: net.Socket) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return (server.address() as net.AddressInfo).port;
}
async function stop(server: net.Server): Promise<void> {
  for (const c of openConnections.get(server) ?? []) c.destroy();
  await new Promise((r) => server.close(r));
}
async function freePort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s, '127.0.0.1');
  await stop(s);
  return port;
}
const target = (slot: number, url: string, options: Record<string, unknown> = {}, timeoutMs = 2000) =>
  shardTarget('http', { slot, url, ip: new URL(url).hostname, port: Number(new URL(url).port), timeoutMs }, options);

/** Phase values (seconds) of the last completed probe of a slot, by name. */
function phases(sink: RecordingSink, slot: number): Record<string, number> {
  const recs = sink.records(ProbeEvent.Phase, slot).slice(-HTTP_PHASE_NAMES.length);
  return Object.fromEntries(recs.map((r) => [HTTP_PHASE_NAMES[r.aux], r.value]));
}

test('http: 200 is a reply with rtt = total, five phases and the status recorded', async () => {
  const server = http.createServer((req, res) => res.end('hello'));
  const port = await listen(server, '127.0.0.1');
  const sink = new RecordingSink();
  const p = httpProberFactory(sink, TEST_SETTINGS);
  p.add(target(40, `http://127.0.0.1:${port}/health?x=1`));
  p.probe(40);
  await sink.until(() => sink.outstanding(40) === 0);
  assert.equal(sink.count('reply', 40), 1, sink.summary());
  const ph = phases(sink, 40);
  assert.deepEqual(Object.keys(ph), [...HTTP_PHASE_NAMES]);
  assert.equal(ph.dns, 0, 'IP literal: no lookup');
  assert.ok(ph.connect > 0);
  assert.equal(ph.tls, 0);
  assert.ok(ph.first_byte > 0);
  assert.ok(ph.total >= ph.connect + ph.first_byte);
  assert.equal(sink.of('reply', 40)[0].value, ph.total);
  assert.deepEqual(
    sink.records(ProbeEvent.Status, 40).map((r) => r.aux),
    [200],
  );
  await p.close();
  await stop(server);
});

test('http: a host name is resolved and the dns phase is measured (localhost via /etc/hosts)', async () => {
  const server = http.createServer((req, res) => res.end('ok'));
  const port = await listen(server); // dual-stack, whichever address localhost resolves to first
  const sink = new RecordingSink();
  const p = httpProberFactory(sink, TEST_SETTINGS);
  p.add(target(41, `http://localhost:${port}/`));
  p.probe(41);
  await sink.until(() => sink.outstanding(41) === 0);
  assert.equal(sink.count('reply', 41), 1, sink.summary());
  assert.ok(phases(sink, 41).dns > 0);
  await p.close();
  await stop(server);
});

test('http: 404 and 503 are status_4xx / status_5xx errors; expect_status can accept them', async () => {
  const server = http.createServer((req, res) => {
    res.statusCode = req.url === '/missing' ? 404 : req.url === '/down' ? 503 : 301;
    res.end();
  });
  const port = await listen(server, '127.0.0.1');
  const sink = new RecordingSink();
  const p = httpProberFactory(sink, TEST_SETTINGS);
  p.add(target(42, `http://127.0.0.1:${port}/missing`));
  p.add(target(43, `http://127.0.0.1:${port}/down`));
  p.add(target(44, `http://127.0.0.1:${port}/moved`));
  p.add(target(45, `http://127.0.0.1:${port}/missing`, { expect_status: [200, 404] }));
  p.add(target(46, `http://127.0.0.1:${port}/moved`, { expect_status: '2xx,3xx' }));
  for (const s of [42, 43, 44, 45, 46]) p.probe(s);
  await sink.until(() => sink.outstanding() === 0);
  assert.deepEqual(sink.errors(42), [ErrorReason.status_4xx]);
  assert.deepEqual(sink.errors(43), [ErrorReason.status_5xx]);
  assert.deepEqual(sink.errors(44), [ErrorReason.status_other]);
  assert.equal(sink.count('reply', 45), 1);
  assert.equal(sink.count('reply', 46), 1);
  assert.deepEqual(
    sink.records(ProbeEvent.Status, 43).map((r) => r.aux),
    [503],
  );
  await p.close();
  await stop(server);
});

test('http: nothing listening is refused; a server that accepts and never answers is a timeout', async () => {
  const silent = net.createServer((c) => c.on('error', () => {}));
  const silentPort = await listen(silent, '127.0.0.1');
  const sink = new RecordingSink();
  const p = httpProberFactory(sink, TEST_SETTINGS);
  p.add(target(47, `http://127.0.0.1:${await freePort()}/`));
  p.add(target(48, `http://127.0.0.1:${silentPort}/`, {}, 150));
  p.probe(47);
  p.probe(48);
  await sink.until(() => sink.outstanding() === 0);
  assert.deepEqual(sink.errors(47), [ErrorReason.refused]);
  assert.equal(sink.count('timeout', 48), 1);
  assert.equal(sink.count('error', 48), 0);
  const dt = sink.of('timeout', 48)[0].at - sink.of('sent', 48)[0].at;
  assert.ok(dt >= 149 && dt < 300, `timeout after ${dt} ms`);
  await p.close();
  await stop(silent);
});

test('http: a connection reset before the response is `reset`; garbage instead of HTTP is `protocol`', async () => {
  const rst = net.createServer((c) => c.once('data', () => c.resetAndDestroy()));
  const junk = net.createServer((c) => c.once('data', () => c.end('SSH-2.0-OpenSSH\r\n\r\n')));
  const sink = new RecordingSink();
  const p = httpProberFactory(sink, TEST_SETTINGS);
  p.add(target(49, `http://127.0.0.1:${await listen(rst, '127.0.0.1')}/`));
  p.add(target(50, `http://127.0.0.1:${await listen(junk, '127.0.0.1')}/`));
  p.probe(49);
  p.probe(50);
  await sink.until(() => sink.outstanding() === 0);
  assert.deepEqual(sink.errors(49), [ErrorReason.reset]);
  assert.deepEqual(sink.errors(50), [ErrorReason.protocol]);
  await p.close();
  await stop(rst);
  await stop(junk);
});

test('http: a body larger than max_body_bytes is cut off and the probe still counts as answered', async () => {
  let aborted = false;
  const server = http.createServer((req, res) => {
    res.on('close', () => {
      aborted = !res.writableFinished;
    });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let n = 0;
    const pump = (): void => {
      while (n < 1000 && res.write(chunk)) n++;
      if (n < 1000) res.once('drain', pump);
      else res.end();
    };
    pump();
  });
  const port = await listen(server, '127.0.0.1');
  const sink = new RecordingSink();
  const p = httpProberFactory(sink, TEST_SETTINGS);
  p.add(target(51, `http://127.0.0.1:${port}/big`, { max_body_bytes: 100_000 }));
  p.probe(51);
  await sink.until(() => sink.outstanding(51) === 0);
  assert.equal(sink.count('reply', 51), 1);
  await sink.until(() => aborted, 2000, 'server saw the client go away');
  await p.close();
  await stop(server);
});

test('http: keep_alive reuses one connection; the default opens one per probe', async () => {
  let connections = 0;
  const server = http.createServer((req, res) => res.end('ok'));
  server.on('connection', () => connections++);
  const port = await listen(server, '127.0.0.1');
  const sink = new RecordingSink();
  const p = httpProberFactory(sink, TEST_SETTINGS);
  p.add(target(52, `http://127.0.0.1:${port}/`, { keep_alive: true }));
  for (let i = 0; i < 3; i++) {
    p.probe(52);
    await sink.until(() => sink.outstanding(52) === 0);
  }
  assert.equal(sink.count('reply', 52), 3);
  assert.equal(connections, 1);
  assert.equal(phases(sink, 52).connect, 0, 'reused connection: no connect phase');
  p.add(target(53, `http://127.0.0.1:${port}/`));
  for (let i = 0; i < 3; i++) {
    p.probe(53);
    await sink.until(() => sink.outstanding(53) === 0);
  }
  assert.equal(sink.count('reply', 53), 3);
  assert.equal(connections, 4);
  await p.close();
  await stop(server);
});

test('http: TLS with a self-signed certificate: ca_file trusts it, default rejects it (tls), insecure_skip_verify skips', async (t) => {
  const cert = makeSelfSignedCert('fleetprobe.test');
  t.after(() => cert.cleanup());
  const server = https.createServer({ cert: cert.cert, key: cert.key }, (req, res) => res.end('secure'));
  server.on('tlsClientError', () => {});
  const port = await listen(server, '127.0.0.1');
  const url = `https://127.0.0.1:${port}/`;
  const sink = new RecordingSink();
  const p = httpProberFactory(sink, TEST_SETTINGS);
  p.add(target(60, url, { ca_file: cert.certFile }));
  p.add(target(61, url));
  p.add(target(62, url, { insecure_skip_verify: true }));
  p.add(target(63, url, { ca_file: cert.certFile, server_name: 'fleetprobe.test' }));
  p.add(target(64, url, { ca_file: cert.certFile, server_name: 'other.test' }));
  for (const s of [60, 61, 62, 63, 64]) p.probe(s);
  await sink.until(() => sink.outstanding() === 0, 5000);
  assert.equal(sink.count('reply', 60), 1, sink.summary());
  const ph = phases(sink, 60);
  assert.ok(ph.tls > 0 && ph.connect > 0, JSON.stringify(ph));
  assert.deepEqual(sink.errors(61), [ErrorReason.tls]);
  assert.equal(sink.count('reply', 62), 1);
  assert.equal(sink.count('reply', 63), 1);
  assert.deepEqual(sink.errors(64), [ErrorReason.tls], 'name mismatch');
  assert.throws(() => p.add(target(65, url, { ca_file: `${cert.dir}/missing.pem` })), /ENOENT/);
  await p.close();
  await stop(server);
});

test('http: independent servers: python3 http.server and openssl s_server -www (TLS)', async (t) => {
  const cert = makeSelfSignedCert('fleetprobe.test');
  const kids: ChildProcess[] = [];
  t.after(() => {
    for (const k of kids) k.kill('SIGTERM');
    cert.cleanup();
  });
  const pyPort = await freePort();
  const sslPort = await freePort();
  kids.push(spawn('python3', ['-m', 'http.server', String(pyPort), '--bind', '127.0.0.1', '--directory', cert.dir], { stdio: 'ignore' }));
  kids.push(
    spawn('openssl', ['s_server', '-www', '-accept', String(sslPort), '-cert', cert.certFile, '-key', cert.keyFile, '-naccept', '10'], { stdio: 'ignore' }),
  );
  await sleep(800);
  const sink = new RecordingSink();
  const p = httpProberFactory(sink, TEST_SETTINGS);
  p.add(target(70, `http://127.0.0.1:${pyPort}/`));
  p.add(target(71, `http://127.0.0.1:${pyPort}/nope`));
  p.add(target(72, `https://127.0.0.1:${sslPort}/`, { ca_file: cert.certFile }));
  for (let i = 0; i < 2; i++) {
    for (const s of [70, 71, 72]) p.probe(s);
    await sink.until(() => sink.outstanding() === 0, 5000);
  }
  assert.equal(sink.count('reply', 70), 2, sink.summary());
  assert.deepEqual(sink.errors(71), [ErrorReason.status_4xx, ErrorReason.status_4xx]);
  assert.equal(sink.count('reply', 72), 2, sink.summary());
  assert.ok(phases(sink, 72).tls > 0);
  await p.close();
});

test('http: add() rejects a missing url, other schemes and bad options; remove() abandons silently', async () => {
  const sink = new RecordingSink();
  const p = httpProberFactory(sink, TEST_SETTINGS);
  assert.throws(() => p.add(shardTarget('http', { url: undefined })), /no url/);
  assert.throws(() => p.add(target(1, 'ftp://127.0.0.1:21/')), /scheme/);
  // Options are checked once, by the kind (src/kinds/http.ts), before a target reaches the prober;
  // the prober only refuses options of another kind.
  assert.match(httpKind.options.expect_status.format.check('7xx') ?? '', /"7xx" is not a status/);
  assert.match(httpKind.options.method.format.check('BREW') ?? '', /must be one of GET, HEAD, POST, PUT, OPTIONS/);
  assert.throws(() => p.add(shardTarget('http', { url: 'http://127.0.0.1:80/', options: { kind: 'tcp', close: 'fin' } })), /http: target carries tcp options/);
  const silent = net.createServer((c) => c.on('error', () => {}));
  const port = await listen(silent, '127.0.0.1');
  p.add(target(80, `http://127.0.0.1:${port}/`, {}, 100));
  p.probe(80);
  await sleep(20);
  p.remove(80);
  await sleep(200);
  assert.equal(sink.count('sent', 80), 1);
  assert.equal(sink.outstanding(80), 1, 'abandoned: no outcome reported');
  await p.close();
  await stop(silent);
});

// ---- the hand-rolled HTTP/1.1 client against servers that frame their answers differently ----

test('http: the fleetprobe responder (Fastify): GET /v1/ping, a 100 kB body, HEAD, keep_alive, and 400 as status_4xx', async (t) => {
  const { startResponder } = await import('../../src/responder/index.js');
  const { Registry } = await import('prom-client');
  const quiet = { info() {}, warn() {}, error() {}, debug() {} };
  const responder = await startResponder(
    {
      http: { host: '127.0.0.1', port: 0 },
      maxConnections: 100,
      maxFrameBytes: 1024,
      maxDatagramBytes: 1024,
      idleTimeoutMs: 5000,
      allowCidrs: [],
      httpBodyBytes: 5,
      httpMaxBodyBytes: 1 << 20,
    },
    { registry: new Registry(), logger: quiet },
  );
  t.after(() => responder.close());
  const base = `http://127.0.0.1:${responder.addresses().http!.port}/v1/ping`;
  const sink = new RecordingSink();
  const p = httpProberFactory(sink, TEST_SETTINGS);
  p.add(target(90, base));
  p.add(target(91, `${base}?size=100000`, { keep_alive: true }));
  p.add(target(92, base, { method: 'HEAD' }));
  p.add(target(93, `${base}?size=abc`));
  for (let i = 0; i < 3; i++) {
    for (const s of [90, 91, 92, 93]) p.probe(s);
    await sink.until(() => sink.outstanding() === 0);
  }
  assert.equal(sink.count('reply', 90), 3, sink.summary());
  assert.equal(sink.count('reply', 91), 3, sink.summary());
  assert.equal(phases(sink, 91).connect, 0, 'third keep-alive probe reused the connection');
  assert.equal(sink.count('reply', 92), 3, sink.summary());
  assert.deepEqual(sink.errors(93), [ErrorReason.status_4xx, ErrorReason.status_4xx, ErrorReason.status_4xx]);
  assert.deepEqual(
    sink.records(ProbeEvent.Status, 90).map((r) => r.aux),
    [200, 200, 200],
  );
  await p.close();
});

test('http: chunked bodies, 100 Continue before the answer, and a body that ends when the server closes', async () => {
  const chunked = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }); // no length: node sends chunked
    res.write('a'.repeat(3000));
    setTimeout(() => res.end('tail'), 5);
  });
  const interim = net.createServer((c) => c.once('data', () => c.end('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n')));
  const untilClose = net.createServer((c) =>
    c.once('data', () => {
      c.write('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ');
      setTimeout(() => c.end('part two'), 5);
    }),
  );
  const sink = new RecordingSink();
  const p = httpProberFactory(sink, TEST_SETTINGS);
  p.add(target(100, `http://127.0.0.1:${await listen(chunked, '127.0.0.1')}/`, { keep_alive: true }));
  p.add(target(101, `http://127.0.0.1:${await listen(interim, '127.0.0.1')}/`));
  p.add(target(102, `http://127.0.0.1:${await listen(untilClose, '127.0.0.1')}/`));
  for (const s of [100, 101, 102]) p.probe(s);
  await sink.until(() => sink.outstanding() === 0);
  assert.equal(sink.count('reply', 100), 1, sink.summary());
  assert.deepEqual(
    sink.records(ProbeEvent.Status, 101).map((r) => r.aux),
    [204],
  );
  assert.equal(sink.count('reply', 101), 1);
  assert.equal(sink.count('reply', 102), 1);
  assert.ok(phases(sink, 102).total >= 0.004, 'close-delimited: answered only when the server closed');
  p.probe(100); // chunked response was complete: the kept connection is reused
  await sink.until(() => sink.outstanding() === 0);
  assert.equal(sink.count('reply', 100), 2);
  assert.equal(phases(sink, 100).connect, 0);
  await p.close();
  for (const s of [chunked, interim, untilClose]) await stop(s);
});

test('http: a server that closes mid-body or before answering is `closed`; an invalid chunk is `protocol`', async () => {
  const short = net.createServer((c) => c.once('data', () => c.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this')));
  const mute = net.createServer((c) => c.once('data', () => c.end()));
  const badChunk = net.createServer((c) => c.once('data', () => c.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n')));
  const sink = new RecordingSink();
  const p = httpProberFactory(sink, TEST_SETTINGS);
  p.add(target(110, `http://127.0.0.1:${await listen(short, '127.0.0.1')}/`));
  p.add(target(111, `http://127.0.0.1:${await listen(mute, '127.0.0.1')}/`));
  p.add(target(112, `http://127.0.0.1:${await listen(badChunk, '127.0.0.1')}/`));
  for (const s of [110, 111, 112]) p.probe(s);
  await sink.until(() => sink.outstanding() === 0);
  assert.deepEqual(sink.errors(110), [ErrorReason.closed]);
  assert.deepEqual(sink.errors(111), [ErrorReason.closed]);
  assert.deepEqual(sink.errors(112), [ErrorReason.protocol]);
  await p.close();
  for (const s of [short, mute, badChunk]) await stop(s);
});

test('http: after a complete answer the prober lets the server close first, and closes itself at the deadline if it never does', async (t) => {
  const polite = net.createServer((c) => c.once('data', () => c.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok')));
  let stubbornClosedAt = 0;
  const stubborn = net.createServer((c) => {
    c.on('error', () => {});
    c.on('close', () => {
      stubbornClosedAt = performance.now();
    });
    c.once('data', () => c.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')); // ignores Connection: close
  });
  const politePort = await listen(polite, '127.0.0.1');
  const sink = new RecordingSink();
  const p = httpProberFactory(sink, TEST_SETTINGS);
  t.after(async () => {
    await p.close();
    await stop(polite);
    await stop(stubborn);
  });
  p.add(target(120, `http://127.0.0.1:${politePort}/`));
  p.add(target(121, `http://127.0.0.1:${await listen(stubborn, '127.0.0.1')}/`, {}, 200));
  p.probe(120);
  p.probe(121);
  await sink.until(() => sink.outstanding() === 0);
  const answeredAt = sink.of('reply', 121)[0].at;
  await sink.until(() => stubbornClosedAt > 0, 2000, 'the stubborn connection closed');
  // Whoever sends the first FIN keeps TIME_WAIT: it must be the server's end (local port = server port).
  const timeWait = (filter: string): number =>
    execFileSync('ss', ['-Htan', 'state', 'time-wait', filter], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() !== '').length;
  assert.equal(timeWait(`( sport = :${politePort} )`), 1, 'TIME_WAIT on the server side');
  assert.equal(timeWait(`( dport = :${politePort} )`), 0, 'no TIME_WAIT on the prober side');
  const sentAt = sink.of('sent', 121)[0].at;
  assert.ok(stubbornClosedAt - sentAt >= 190 && stubbornClosedAt > answeredAt, `closed ${stubbornClosedAt - sentAt} ms after sending`);
  assert.equal(sink.count('reply', 121), 1);
  assert.equal(sink.count('timeout', 121), 0, 'the linger is not a second outcome');
});

test('http: the request carries method, headers, Host and Basic credentials; keep_alive survives the server closing idle connections', async () => {
  const seen: { method?: string; headers: http.IncomingHttpHeaders }[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method, headers: req.headers });
    req.resume();
    res.end('ok');
  });
  server.keepAliveTimeout = 50;
  const port = await listen(server, '127.0.0.1');
  const sink = new RecordingSink();
  const p = httpProberFactory(sink, TEST_SETTINGS);
  p.add(target(130, `http://u:secret@127.0.0.1:${port}/x`, { method: 'post', headers: { 'X-Probe': 'yes', host: 'vhost.test' } }));
  p.add(target(131, `http://127.0.0.1:${port}/`, { keep_alive: true }));
  assert.throws(() => p.add(target(132, `http://127.0.0.1:${port}/`, { headers: { 'X-A': 'a\r\nX-Injected: 1' } })), /CR, LF/);
  assert.throws(() => p.add(target(132, `http://127.0.0.1:${port}/`, { headers: { connection: 'upgrade' } })), /set by the prober/);
  p.probe(130);
  p.probe(131);
  await sink.until(() => sink.outstanding() === 0);
  await sleep(200); // past keepAliveTimeout: the server closed the idle connection
  p.probe(131);
  await sink.until(() => sink.outstanding() === 0);
  assert.equal(sink.count('reply', 130), 1, sink.summary());
  assert.equal(sink.count('reply', 131), 2, sink.summary());
  const post = seen.find((s) => s.method === 'POST');
  assert.ok(post);
  assert.equal(post.headers['x-probe'], 'yes');
  assert.equal(post.headers.host, 'vhost.test');
  assert.equal(post.headers['content-length'], '0');
  assert.equal(post.headers.authorization, `Basic ${Buffer.from('u:secret').toString('base64')}`);
  assert.equal(post.headers.connection, 'close');
  await p.close();
  await stop(server);
});

/** A sink that removes a slot's target inside its first outcome, as an on-demand test's last probe does. */
class RemovingSink extends RecordingSink {
  prober: { remove(slot: number): void } | null = null;
  private outcome(slot: number): void {
    this.prober?.remove(slot);
  }
  override reply(slot: number, rttSeconds: number): void {
    super.reply(slot, rttSeconds);
    this.outcome(slot);
  }
  override error(slot: number, reason: number): void {
    super.error(slot, reason);
    this.outcome(slot);
  }
}

test('http: the target removed inside the outcome callback (an on-demand test ending) is not touched afterwards', async () => {
  // Closing, keep-alive and refused-status responses: each path after the outcome differs.
  const server = http.createServer((req, res) => {
    if (req.url === '/close') res.setHeader('connection', 'close');
    res.statusCode = req.url === '/404' ? 404 : 200;
    res.end('x');
  });
  const port = await listen(server, '127.0.0.1');
  const cases: Array<[number, string, Record<string, unknown>]> = [
    [60, '/close', {}],
    [61, '/', { keep_alive: true }],
    [62, '/', {}],
    [63, '/404', {}],
  ];
  for (const [slot, path, options] of cases) {
    const sink = new RemovingSink();
    const p = httpProberFactory(sink, TEST_SETTINGS);
    sink.prober = p;
    const crashes: unknown[] = [];
    const onUncaught = (err: unknown): void => void crashes.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      p.add(target(slot, `http://127.0.0.1:${port}${path}`, options));
      p.probe(slot);
      await sink.until(() => sink.outstanding(slot) === 0, 5000, `${path} outcome`);
      await sleep(100); // the socket's close and any late callback
      assert.deepEqual(crashes, [], `${path} ${JSON.stringify(options)}: nothing thrown after the outcome`);
      assert.equal(sink.count(path === '/404' ? 'error' : 'reply', slot), 1, sink.summary());
      p.probe(slot); // removed: a probe of it is a no-op
      assert.equal(sink.count('sent', slot), 1);
    } finally {
      process.off('uncaughtException', onUncaught);
      await p.close();
    }
  }
  await stop(server);
});

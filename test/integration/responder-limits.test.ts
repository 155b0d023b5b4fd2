// Abuse limits on real loopback sockets: connection limit, oversized datagrams and
// streams, the source allowlist (127.0.0.2 is a valid source: loopback owns 127/8),
// idle timeout, option validation. After each refusal the responder still serves.
import assert from 'node:assert/strict';
import { get as httpGet } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { encodeEchoFrame } from '../../src/protocol/echo-frame.js';
import { startResponder } from '../../src/responder/index.js';
import { loopbackResponderOptions as options, metricValue as metric, quiet, udpRoundTrip } from '../helpers/responder-setup.js';

const rejected = (registry: Registry, protocol: string, reason: string) => metric(registry, 'fleetprobe_responder_rejected_total', { protocol, reason });

function openTcp(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, noDelay: true, localAddress }, () => {
      s.off('error', reject);
      s.on('error', () => {}); // a write racing the server's close may get EPIPE/ECONNRESET
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Send one frame; resolve 'echo' if it comes back, 'closed' if the server closes first, 'silent' after 1 s. */
function tryEcho(s: Socket): Promise<'echo' | 'closed' | 'silent'> {
  return new Promise((resolve) => {
    const frame = encodeEchoFrame(7n, 7n);
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => done('silent'), 1000);
    const onData = (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (got.length >= 16) done(got.subarray(0, 16).equals(frame) ? 'echo' : 'silent');
    };
    const onClose = () => done('closed');
    function done(r: 'echo' | 'closed' | 'silent') {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('close', onClose);
      s.off('end', onClose);
      resolve(r);
    }
    s.on('data', onData);
    s.on('close', onClose);
    s.on('end', onClose);
    if (!s.destroyed) s.write(frame);
  });
}

function httpStatus(port: number, localAddress?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: '127.0.0.1', port, path: '/v1/ping', localAddress, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

describe('responder limits', () => {
  it('closes connections beyond maxConnections at once, counts them, and keeps serving the others', async () => {
    const registry = new Registry();
    const responder = await startResponder(options({ maxConnections: 2 }), { registry, logger: quiet });
    try {
      const port = responder.addresses().tcpEcho!.port;
      const a = await openTcp(port);
      const b = await openTcp(port);
      assert.equal(await tryEcho(a), 'echo');
      assert.equal(await tryEcho(b), 'echo');
      const extra = await openTcp(port); // the kernel completes the handshake; node closes it
      assert.equal(await tryEcho(extra), 'closed');
      assert.equal(await rejected(registry, 'tcp', 'max_connections'), 1);
      assert.equal(await metric(registry, 'fleetprobe_responder_connections'), 2);
      assert.equal(await tryEcho(a), 'echo');
      assert.equal(await tryEcho(b), 'echo');
      // A freed slot is usable again.
      const closed = new Promise((r) => a.on('close', r));
      a.destroy();
      await closed;
      await delay(50);
      const c = await openTcp(port);
      assert.equal(await tryEcho(c), 'echo');
      assert.equal(await metric(registry, 'fleetprobe_responder_connections_total'), 3);
      b.destroy();
      c.destroy();
    } finally {
      await responder.close();
    }
  });

  it('drops datagrams above maxDatagramBytes, counts them, and still echoes the others', async () => {
    const registry = new Registry();
    const responder = await startResponder(options({ maxDatagramBytes: 512 }), { registry, logger: quiet });
    try {
      const port = responder.addresses().udpEcho!.port;
      assert.equal(await udpRoundTrip(port, Buffer.alloc(513, 1), 300), null);
      assert.equal(await rejected(registry, 'udp', 'oversized'), 1);
      assert.deepEqual(await udpRoundTrip(port, Buffer.alloc(512, 2), 1000), Buffer.alloc(512, 2));
      assert.equal(await udpRoundTrip(port, Buffer.alloc(4000, 3), 300), null);
      assert.equal(await rejected(registry, 'udp', 'oversized'), 2);
      assert.deepEqual(await udpRoundTrip(port, Buffer.from('ok'), 1000), Buffer.from('ok'));
      assert.equal(await metric(registry, 'fleetprobe_responder_datagrams_total'), 2);
    } finally {
      await responder.close();
    }
  });

  it('refuses sources outside allowCidrs on tcp, udp and http, and serves allowed ones', async () => {
    const registry = new Registry();
    const responder = await startResponder(options({ allowCidrs: ['127.0.0.2/32'] }), { registry, logger: quiet });
    try {
      const { tcpEcho, udpEcho: udp, http } = responder.addresses();
      // TCP: accepted by the kernel, closed by us.
      assert.equal(await tryEcho(await openTcp(tcpEcho!.port)), 'closed');
      assert.equal(await rejected(registry, 'tcp', 'not_allowed'), 1);
      const allowed = await openTcp(tcpEcho!.port, '127.0.0.2');
      assert.equal(await tryEcho(allowed), 'echo');
      allowed.destroy();
      assert.equal(await metric(registry, 'fleetprobe_responder_connections_total'), 1);
      // UDP: silently dropped.
      assert.equal(await udpRoundTrip(udp!.port, Buffer.from('x'), 300), null);
      assert.equal(await rejected(registry, 'udp', 'not_allowed'), 1);
      assert.deepEqual(await udpRoundTrip(udp!.port, Buffer.from('y'), 1000, '127.0.0.2'), Buffer.from('y'));
      // HTTP: 403.
      assert.equal(await httpStatus(http!.port), 403);
      assert.equal(await rejected(registry, 'http', 'not_allowed'), 1);
      assert.equal(await httpStatus(http!.port, '127.0.0.2'), 200);
      assert.equal(await metric(registry, 'fleetprobe_responder_http_requests_total'), 1);
      // Still refusing after serving.
      assert.equal(await httpStatus(http!.port), 403);
      assert.equal(await rejected(registry, 'http', 'not_allowed'), 2);
    } finally {
      await responder.close();
    }
  });

  it('matches IPv4-mapped peers of a dual-stack "::" listener against IPv4 networks', async (t) => {
    const registry = new Registry();
    let responder;
    try {
      responder = await startResponder(
        options({ tcpEcho: { host: '::', port: 0 }, udpEcho: { host: '::', port: 0 }, http: undefined, allowCidrs: ['127.0.0.2/32'] }),
        { registry, logger: quiet },
      );
    } catch (err) {
      t.skip(`no dual-stack IPv6 listener here: ${(err as Error).message}`);
      return;
    }
    try {
      const { tcpEcho, udpEcho: udp } = responder.addresses();
      assert.equal(await tryEcho(await openTcp(tcpEcho!.port)), 'closed'); // seen as ::ffff:127.0.0.1
      const allowed = await openTcp(tcpEcho!.port, '127.0.0.2'); // seen as ::ffff:127.0.0.2
      assert.equal(await tryEcho(allowed), 'echo');
      allowed.destroy();
      assert.equal(await udpRoundTrip(udp!.port, Buffer.from('x'), 300), null);
      assert.deepEqual(await udpRoundTrip(udp!.port, Buffer.from('y'), 1000, '127.0.0.2'), Buffer.from('y'));
      assert.equal(await rejected(registry, 'tcp', 'not_allowed'), 1);
      assert.equal(await rejected(registry, 'udp', 'not_allowed'), 1);
    } finally {
      await responder.close();
    }
  });

  it('closes connections idle for idleTimeoutMs and keeps active ones', async () => {
    const registry = new Registry();
    const responder = await startResponder(options({ idleTimeoutMs: 200 }), { registry, logger: quiet });
    try {
      const port = responder.addresses().tcpEcho!.port;
      const idle = await openTcp(port);
      const active = await openTcp(port);
      const t0 = Date.now();
      const idleClosed = new Promise<number>((r) => idle.on('close', () => r(Date.now() - t0)));
      assert.equal(await tryEcho(idle), 'echo');
      // The active one talks every 50 ms for 600 ms: never idle for 200 ms.
      for (let i = 0; i < 12; i++) {
        assert.equal(await tryEcho(active), 'echo', `active round ${i}`);
        await delay(50);
      }
      const after = await idleClosed;
      assert.ok(after >= 150 && after < 1000, `idle connection closed after ${after} ms`);
      assert.equal(await rejected(registry, 'tcp', 'idle_timeout'), 1);
      assert.equal(active.destroyed, false);
      active.destroy();
    } finally {
      await responder.close();
    }
  });

  it('drops a tcp peer that sends without reading its echoes once maxFrameBytes are held', async () => {
    const registry = new Registry();
    const responder = await startResponder(options({ maxFrameBytes: 4096 }), { registry, logger: quiet });
    try {
      const port = responder.addresses().tcpEcho!.port;
      const abuser = await openTcp(port);
      abuser.pause(); // never read: echoes fill the kernel buffers, then the server's queue
      const closed = new Promise<void>((r) => abuser.on('close', () => r()));
      let isClosed = false;
      void closed.then(() => (isClosed = true));
      const chunk = Buffer.alloc(64 * 1024);
      // Bounded: at most 256 MiB or 10 s.
      const deadline = Date.now() + 10_000;
      for (let sent = 0; sent < 256 * 1024 * 1024 && !isClosed && Date.now() < deadline; sent += chunk.length) {
        if (!abuser.write(chunk)) await Promise.race([new Promise((r) => abuser.once('drain', r)), closed, delay(200)]);
      }
      assert.equal(isClosed, true, 'the abusive connection must be dropped');
      assert.equal(await rejected(registry, 'tcp', 'oversized'), 1);
      const fine = await openTcp(port);
      assert.equal(await tryEcho(fine), 'echo');
      fine.destroy();
    } finally {
      await responder.close();
    }
  });
});

describe('responder options', () => {
  const expectCode = (code: string) => (err: unknown) => (err as { code?: string }).code === code;

  it('rejects invalid options with fixed error codes before binding anything', async () => {
    const registry = new Registry();
    const deps = { registry, logger: quiet };
    await assert.rejects(startResponder(options({ maxFrameBytes: 8 }), deps), expectCode('FP_ERR_RESPONDER_OPTION'));
    await assert.rejects(startResponder(options({ maxConnections: 0 }), deps), expectCode('FP_ERR_RESPONDER_OPTION'));
    await assert.rejects(startResponder(options({ maxDatagramBytes: 70000 }), deps), expectCode('FP_ERR_RESPONDER_OPTION'));
    await assert.rejects(startResponder(options({ httpBodyBytes: 10, httpMaxBodyBytes: 5 }), deps), expectCode('FP_ERR_RESPONDER_OPTION'));
    await assert.rejects(startResponder(options({ tcpEcho: { host: 'localhost', port: 0 } }), deps), expectCode('FP_ERR_RESPONDER_OPTION'));
    await assert.rejects(startResponder(options({ udpEcho: { host: '127.0.0.1', port: 70000 } }), deps), expectCode('FP_ERR_RESPONDER_OPTION'));
    await assert.rejects(startResponder(options({ tcpEcho: undefined, udpEcho: undefined, http: undefined }), deps), expectCode('FP_ERR_RESPONDER_OPTION'));
    await assert.rejects(startResponder(options({ allowCidrs: ['10.0.0.1/8'] }), deps), expectCode('FP_ERR_CIDR_INVALID'));
    assert.equal((await registry.getMetricsAsJSON()).length, 0);
  });

  it('fails with EADDRINUSE, closes what it started and leaves the registry reusable', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const busy = (blocker.address() as { port: number }).port;
    const registry = new Registry();
    try {
      const opts = options({ tcpEcho: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: busy } });
      await assert.rejects(startResponder(opts, { registry, logger: quiet }), expectCode('EADDRINUSE'));
      // The error names the setting and the address, not just the errno.
      await assert.rejects(
        startResponder(opts, { registry, logger: quiet }),
        new RegExp(`responder\\.http: cannot listen on 127\\.0\\.0\\.1:${busy}: .*EADDRINUSE`),
      );
      assert.equal((await registry.getMetricsAsJSON()).length, 0);
      const responder = await startResponder(options(), { registry, logger: quiet });
      await responder.close();
    } finally {
      blocker.close();
    }
  });
});

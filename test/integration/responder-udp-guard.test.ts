/**
 * The UDP echo's loop and reflection guards on real loopback sockets (issue 6, F13):
 *  - a forged datagram whose source is the echo's own address and port (raw socket,
 *    root) is dropped and counted, and the echo count stays flat: on the old code one
 *    such datagram made the echo answer itself ~100,000 times a second, forever;
 *  - the same from a dual-stack-less wildcard listener (0.0.0.0), and from another
 *    address with the echo's port (a second responder on the same port);
 *  - datagrams from service ports (7 echo, 13 daytime, 17 qotd, 19 chargen, 37 time:
 *    root to bind them; 2049 NFS and 3702 WS-Discovery: no privilege) and from port 0
 *    (raw socket) are dropped and counted;
 *  - the per-source rate limit drops part of a burst beyond it, and another source
 *    is not affected; the same for TCP echo connection attempts.
 * After every refusal an ordinary client is still answered.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { encodeEchoFrame } from '../../src/protocol/echo-frame.js';
import { startResponder, type Responder, type ResponderOptions } from '../../src/responder/index.js';
import { NEEDS_RAW, sendSpoofedUdp } from '../../load-tests/udp-spoof.js';
import { loopbackResponderOptions, metricValue as metric, quiet, udpRoundTrip } from '../helpers/responder-setup.js';

const rejected = (registry: Registry, protocol: string, reason: string) => metric(registry, 'fleetprobe_responder_rejected_total', { protocol, reason });
const echoed = (registry: Registry) => metric(registry, 'fleetprobe_responder_datagrams_total');

async function withResponder(over: Partial<ResponderOptions>, fn: (r: Responder, registry: Registry) => Promise<void>): Promise<void> {
  const registry = new Registry();
  const responder = await startResponder(loopbackResponderOptions({ tcpEcho: undefined, http: undefined, ...over }), { registry, logger: quiet });
  try {
    await fn(responder, registry);
  } finally {
    await responder.close();
  }
}

/** A UDP socket bound to host:port; null when the port cannot be bound here (in use). */
function bindUdp(host: string, port: number): Promise<UdpSocket | null> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => {
      s.close();
      resolve(null);
    });
    s.bind({ address: host, port, exclusive: true }, () => resolve(s));
  });
}

/** Send one datagram from `from` to 127.0.0.1:port; true if anything came back within waitMs. */
async function answered(from: UdpSocket, port: number, waitMs = 300): Promise<boolean> {
  let got = false;
  const onMessage = () => (got = true);
  from.on('message', onMessage);
  from.send(Buffer.from('hello'), port, '127.0.0.1');
  await delay(waitMs);
  from.off('message', onMessage);
  return got;
}

describe('udp echo loop guard', () => {
  it('drops a forged datagram from its own address and port, counts it, and does not loop', { skip: NEEDS_RAW }, async () => {
    await withResponder({}, async (responder, registry) => {
      const port = responder.addresses().udpEcho!.port;
      const cpu0 = process.cpuUsage();
      await sendSpoofedUdp(port, port, Buffer.from('forged: 127.0.0.1:P -> 127.0.0.1:P'));
      await delay(1000);
      const cpu = process.cpuUsage(cpu0);
      const n = await echoed(registry);
      assert.equal(n, 0, `the echo answered itself ${n} times in 1 s (CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s)`);
      assert.equal(await rejected(registry, 'udp', 'self'), 1, 'the forged datagram is counted');
      // Still flat a moment later, and an ordinary client is answered.
      await delay(200);
      assert.equal(await echoed(registry), 0);
      assert.deepEqual(await udpRoundTrip(port, Buffer.from('ok'), 1000), Buffer.from('ok'));
      assert.equal(await echoed(registry), 1);
    });
  });

  it('drops it on a wildcard (0.0.0.0) listener too: the rule is the port, not the address', { skip: NEEDS_RAW }, async () => {
    await withResponder({ udpEcho: { host: '0.0.0.0', port: 0 } }, async (responder, registry) => {
      const port = responder.addresses().udpEcho!.port;
      await sendSpoofedUdp(port, port, Buffer.from('forged to a wildcard listener'), 3);
      await delay(500);
      assert.equal(await echoed(registry), 0);
      assert.equal(await rejected(registry, 'udp', 'self'), 3);
      assert.deepEqual(await udpRoundTrip(port, Buffer.from('ok'), 1000), Buffer.from('ok'));
    });
  });

  it('never answers another address sending from its port (another responder: a ping-pong that never ends)', async () => {
    await withResponder({}, async (responder, registry) => {
      const port = responder.addresses().udpEcho!.port; // bound on 127.0.0.1 only
      const peer = await bindUdp('127.0.0.2', port);
      assert.ok(peer, `127.0.0.2:${port} should be bindable`);
      try {
        assert.equal(await answered(peer, port), false);
        assert.equal(await rejected(registry, 'udp', 'self'), 1);
        assert.equal(await echoed(registry), 0);
      } finally {
        peer.close();
      }
    });
  });

  it('drops datagrams from service ports and port 0, counts them, and answers ephemeral ports', async (t) => {
    const privileged = [7, 13, 17, 19, 37];
    const unprivileged = [2049, 3702];
    const root = NEEDS_RAW === false;
    if (!root) t.diagnostic(`ports ${privileged.join(', ')} and 0 skipped: ${NEEDS_RAW}`);
    await withResponder({}, async (responder, registry) => {
      const port = responder.addresses().udpEcho!.port;
      let sent = 0;
      const tried: number[] = [];
      for (const source of [...(root ? privileged : []), ...unprivileged]) {
        const s = await bindUdp('127.0.0.1', source);
        if (!s) {
          t.diagnostic(`127.0.0.1:${source} is in use here; not tried`);
          continue;
        }
        try {
          assert.equal(await answered(s, port, 150), false, `a datagram from port ${source} must not be answered`);
          sent++;
          tried.push(source);
        } finally {
          s.close();
        }
      }
      if (root) {
        await sendSpoofedUdp(0, port, Buffer.from('from port 0'));
        sent++;
        await delay(150);
      }
      assert.ok(tried.length >= 1, 'at least one service port could be bound');
      assert.equal(await rejected(registry, 'udp', 'reflector_port'), sent, `from ports ${tried.join(', ')}${root ? ' and 0' : ''}`);
      assert.equal(await echoed(registry), 0);
      assert.deepEqual(await udpRoundTrip(port, Buffer.from('ok'), 1000), Buffer.from('ok'), 'an ephemeral source port is answered');
    });
  });
});

describe('per-source rate limits', () => {
  it('udp: drops part of a burst beyond the limit, counts it, and leaves another source alone', async () => {
    await withResponder({ udpRatePerSource: 10, udpBurstPerSource: 20 }, async (responder, registry) => {
      const port = responder.addresses().udpEcho!.port;
      const a = await bindUdp('127.0.0.1', 0);
      const b = await bindUdp('127.0.0.2', 0);
      assert.ok(a && b);
      try {
        let backA = 0;
        let backB = 0;
        a.on('message', () => backA++);
        b.on('message', () => backB++);
        // 100 datagrams from A as fast as the socket takes them.
        for (let i = 0; i < 100; i++) a.send(Buffer.from(`a${i}`), port, '127.0.0.1');
        await delay(300);
        // 10 datagrams from B right after: B has its own full bucket.
        for (let i = 0; i < 10; i++) b.send(Buffer.from(`b${i}`), port, '127.0.0.1');
        await delay(300);
        const limited = (await rejected(registry, 'udp', 'rate_limited')) ?? -1;
        // The burst (20) plus what refilled at 10/s while sending (a few): wide margin.
        assert.ok(backA >= 20 && backA <= 35, `source A got ${backA} of 100 back`);
        assert.equal(limited, 100 - backA, 'every datagram not answered is counted');
        assert.equal(backB, 10, 'source B unaffected');
        assert.equal(await echoed(registry), backA + backB);
      } finally {
        a.close();
        b.close();
      }
    });
  });

  it('tcp echo: closes connection attempts beyond the limit, counts them, another source unaffected', async () => {
    await withResponder(
      { tcpEcho: { host: '127.0.0.1', port: 0 }, udpEcho: undefined, tcpConnectRatePerSource: 1, tcpConnectBurstPerSource: 5 },
      async (responder, registry) => {
        const port = responder.addresses().tcpEcho!.port;
        const open = (localAddress: string): Promise<Socket> =>
          new Promise((resolve, reject) => {
            const s = connect({ host: '127.0.0.1', port, localAddress }, () => resolve(s));
            s.once('error', reject);
          });
        const echoes = (s: Socket): Promise<boolean> =>
          new Promise((resolve) => {
            const timer = setTimeout(() => resolve(false), 1000);
            s.once('data', () => {
              clearTimeout(timer);
              resolve(true);
            });
            s.once('close', () => {
              clearTimeout(timer);
              resolve(false);
            });
            s.on('error', () => {});
            s.write(encodeEchoFrame(1n, 1n));
          });
        const fromA = await Promise.all(Array.from({ length: 12 }, () => open('127.0.0.1')));
        const served = (await Promise.all(fromA.map(echoes))).filter(Boolean).length;
        assert.ok(served >= 5 && served <= 7, `${served} of 12 connections from one source served (burst 5, 1/s)`);
        assert.equal(await rejected(registry, 'tcp', 'rate_limited'), 12 - served);
        const b = await open('127.0.0.2');
        assert.equal(await echoes(b), true, 'another source is served');
        for (const s of [...fromA, b]) s.destroy();
      },
    );
  });
});

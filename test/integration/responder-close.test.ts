// Graceful close of a responder, independent of the CLI: stop accepting, flush and
// end connections, destroy stragglers after closeGraceMs, free the ports.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { Agent, get as httpGet } from 'node:http';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { encodeEchoFrame } from '../../src/protocol/echo-frame.js';
import { startResponder, type ResponderOptions } from '../../src/responder/index.js';
import { loopbackResponderOptions, quiet } from '../helpers/responder-setup.js';

function options(over: Partial<ResponderOptions> = {}): ResponderOptions {
  return loopbackResponderOptions({ idleTimeoutMs: 30_000, ...over });
}

function openTcp(port: number, allowHalfOpen = false): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, allowHalfOpen }, () => resolve(s));
    s.once('error', reject);
  });
}

function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

describe('responder close', () => {
  it('ends open connections after flushing, stops accepting, frees every port', async () => {
    const registry = new Registry();
    const responder = await startResponder(options(), { registry, logger: quiet });
    const { tcpEcho, udpEcho, http } = responder.addresses();

    const tcp = await openTcp(tcpEcho!.port);
    const received: Buffer[] = [];
    tcp.on('data', (c: Buffer) => received.push(c));
    const tcpEnded = new Promise<void>((r) => tcp.on('end', () => r()));
    const frame = encodeEchoFrame(5n, 5n);
    tcp.write(frame);
    await new Promise((r) => tcp.once('data', r));

    // An idle keep-alive HTTP connection must not hold close() up.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const status = await new Promise<number>((resolve, reject) => {
      httpGet({ host: '127.0.0.1', port: http!.port, path: '/v1/ping', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      }).on('error', reject);
    });
    assert.equal(status, 200);

    const t0 = Date.now();
    await responder.close();
    const took = Date.now() - t0;
    assert.ok(took < 900, `close took ${took} ms; well-behaved peers must not wait for the grace period`);
    await tcpEnded; // the TCP peer saw a FIN, after its echo
    assert.deepEqual(Buffer.concat(received), frame);
    agent.destroy();

    assert.equal(await connectOutcome(tcpEcho!.port), 'ECONNREFUSED');
    assert.equal(await connectOutcome(http!.port), 'ECONNREFUSED');
    // The UDP port is free: we can bind it ourselves.
    const udp = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address: '127.0.0.1', port: udpEcho!.port }, () => resolve());
    });
    udp.close();
    // Calling close again is harmless.
    await responder.close();
  });

  it('destroys a peer that never closes its side once closeGraceMs have passed', async () => {
    const registry = new Registry();
    const responder = await startResponder(options({ udpEcho: undefined, http: undefined, closeGraceMs: 300 }), {
      registry,
      logger: quiet,
    });
    // allowHalfOpen: the client does not answer our FIN with its own.
    const stubborn = await openTcp(responder.addresses().tcpEcho!.port, true);
    stubborn.on('error', () => {});
    // One echo first: the responder (on its own thread) has accepted the connection.
    // A connection still in the kernel's accept queue at close() would be reset, not ended.
    stubborn.write(encodeEchoFrame(9n, 9n));
    await new Promise((r) => stubborn.once('data', r));
    const gotFin = new Promise<void>((r) => stubborn.on('end', () => r()));
    const t0 = Date.now();
    // close() resolves only when the server has no connection left, so its timing
    // shows the straggler was held for the grace period and then destroyed.
    await responder.close();
    const took = Date.now() - t0;
    await gotFin; // the straggler was told first (FIN), it just did not answer
    assert.ok(took >= 250 && took < 2000, `close took ${took} ms, expected about the 300 ms grace`);
    const gauge = await registry.getSingleMetricAsString('fleetprobe_responder_connections');
    assert.match(gauge, /^fleetprobe_responder_connections 0$/m);
    stubborn.destroy();
  });
});

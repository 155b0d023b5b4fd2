/**
 * tcp prober against real sockets on loopback: an in-test net.Server, socat as an
 * independent listener, a closed port (refused) and a full accept backlog (timeout).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { ErrorReason } from '../../src/protocol/events.js';
import { RecordingSink, sleep } from '../fixtures/recording-sink.js';
import { shardTarget, TEST_SETTINGS } from '../fixtures/shard-target.js';
import { tcpProberFactory } from '../../workers/probes/tcp.js';
import { tcpKind } from '../../src/kinds/tcp.js';

async function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((r) => server.listen(0, host, r));
  return (server.address() as net.AddressInfo).port;
}

/** A port that was free a moment ago: bind, read, close. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

test('tcp: connect to a listening server is a reply with the handshake RTT, and the connection is reset', async () => {
  let accepted = 0;
  let serverSawReset = 0;
  const server = net.createServer((c) => {
    accepted++;
    c.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET') serverSawReset++;
    });
  });
  const port = await listen(server);
  const sink = new RecordingSink();
  const p = tcpProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('tcp', { slot: 7, port }));
  for (let i = 0; i < 5; i++) p.probe(7);
  await sink.until(() => sink.outstanding(7) === 0, 3000, 'all outcomes');
  assert.equal(sink.count('sent', 7), 5);
  assert.equal(sink.count('reply', 7), 5);
  for (const r of sink.of('reply', 7)) assert.ok(r.value > 0 && r.value < 0.5, `rtt ${r.value}`);
  await sink.until(() => accepted === 5 && serverSawReset === 5, 2000, 'server saw 5 resets');
  await p.close();
  await new Promise((r) => server.close(r));
});

test('tcp: options.close=fin closes with a FIN instead of a reset', async () => {
  let ended = 0;
  const server = net.createServer((c) => {
    c.on('end', () => {
      ended++;
      c.end();
    });
    c.on('error', () => {});
  });
  const port = await listen(server);
  const sink = new RecordingSink();
  const p = tcpProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('tcp', { slot: 1, port }, { close: 'fin' }));
  p.probe(1);
  await sink.until(() => sink.count('reply', 1) === 1);
  await sink.until(() => ended === 1, 2000, 'orderly end at server');
  await p.close();
  await new Promise((r) => server.close(r));
});

test('tcp: a port with nothing listening is refused, not a timeout', async () => {
  const port = await closedPort();
  const sink = new RecordingSink();
  const p = tcpProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('tcp', { slot: 3, port, timeoutMs: 2000 }));
  p.probe(3);
  p.probe(3);
  await sink.until(() => sink.outstanding(3) === 0);
  assert.deepEqual(sink.errors(3), [ErrorReason.refused, ErrorReason.refused]);
  assert.equal(sink.count('timeout', 3), 0);
  await p.close();
});

test('tcp: a listener whose accept queue is full drops our SYN: timeout, not an error', async (t) => {
  // A python listener with backlog 0 that never calls accept(): once its queue holds a
  // connection, Linux drops further SYNs silently, which is what a filtered port looks like.
  const py = spawn(
    'python3',
    [
      '-c',
      ['import socket,sys,time', 's=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(0)', 'print(s.getsockname()[1], flush=True)', 'time.sleep(20)'].join(
        '\n',
      ),
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  t.after(() => py.kill('SIGTERM'));
  const port = await new Promise<number>((resolve, reject) => {
    py.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    py.once('error', reject);
  });
  const fillers: net.Socket[] = [];
  t.after(() => {
    for (const s of fillers) s.destroy();
  });
  for (let i = 0; i < 3; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    fillers.push(s);
  }
  await sleep(200);
  const sink = new RecordingSink();
  const p = tcpProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('tcp', { slot: 4, port, timeoutMs: 300 }));
  p.probe(4);
  await sink.until(() => sink.outstanding(4) === 0, 3000);
  assert.equal(sink.count('timeout', 4), 1, sink.summary());
  assert.equal(sink.count('error', 4), 0);
  assert.equal(sink.count('reply', 4), 0);
  await p.close();
});

test('tcp: probes an independent listener (socat) on IPv4 and IPv6 loopback', async (t) => {
  const kids: ChildProcess[] = [];
  t.after(() => {
    for (const k of kids) k.kill('SIGTERM');
  });
  const sink = new RecordingSink();
  const p = tcpProberFactory(sink, TEST_SETTINGS);
  const port4 = await closedPort();
  const port6 = await closedPort();
  kids.push(spawn('socat', [`TCP4-LISTEN:${port4},bind=127.0.0.1,reuseaddr,fork`, 'SYSTEM:true'], { stdio: 'ignore' }));
  kids.push(spawn('socat', [`TCP6-LISTEN:${port6},bind=[::1],reuseaddr,fork`, 'SYSTEM:true'], { stdio: 'ignore' }));
  await sleep(300);
  p.add(shardTarget('tcp', { slot: 10, port: port4 }));
  p.add(shardTarget('tcp', { slot: 11, ip: '::1', family: 6, port: port6 }));
  for (let i = 0; i < 3; i++) {
    p.probe(10);
    p.probe(11);
    await sleep(50);
  }
  await sink.until(() => sink.outstanding() === 0, 3000);
  assert.equal(sink.count('reply', 10), 3, sink.summary());
  assert.equal(sink.count('reply', 11), 3, sink.summary());
  await p.close();
});

test('tcp: remove() abandons an in-flight probe without an outcome; add() rejects a non-IP', async () => {
  const sink = new RecordingSink();
  const p = tcpProberFactory(sink, TEST_SETTINGS);
  assert.throws(() => p.add(shardTarget('tcp', { ip: 'example.invalid', port: 80 })), /not an IP/);
  assert.throws(() => p.add(shardTarget('tcp', { port: 0 })), /bad port/);
  // Options are checked once, by the kind (src/kinds/tcp.ts), before a target reaches a prober;
  // the prober only refuses options of another kind.
  assert.match(tcpKind.options.close.format.check('slam') ?? '', /must be one of reset, fin/);
  assert.throws(() => p.add(shardTarget('tcp', { port: 80, options: { kind: 'udp', sourcePorts: 1 } })), /tcp: target carries udp options/);
  // 127.0.0.1 port with a full backlog is not needed: remove right after probe, before the connect callback.
  const server = net.createServer();
  const port = await listen(server);
  p.add(shardTarget('tcp', { slot: 5, port }));
  p.probe(5);
  p.remove(5);
  p.probe(5); // unknown slot now: ignored
  await sleep(100);
  assert.equal(sink.count('sent', 5), 1);
  assert.equal(sink.count('reply', 5) + sink.count('timeout', 5) + sink.count('error', 5), 0);
  await p.close();
  await new Promise((r) => server.close(r));
});

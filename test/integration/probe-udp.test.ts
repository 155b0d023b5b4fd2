/**
 * udp prober against real UDP on loopback: socat as an independent RFC 862 echo server,
 * and in-test dgram servers that duplicate, delay, forge or misdirect replies.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { test } from 'node:test';
import { DropReason } from '../../src/protocol/events.js';
import { RecordingSink, sleep } from '../fixtures/recording-sink.js';
import { shardTarget, TEST_SETTINGS } from '../fixtures/shard-target.js';
import { UdpProber, udpProberFactory } from '../../workers/probes/udp.js';
import { udpKind } from '../../src/kinds/udp.js';

type OnMsg = (sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo) => void;

async function udpServer(onMsg: OnMsg, type: 'udp4' | 'udp6' = 'udp4'): Promise<{ sock: dgram.Socket; port: number }> {
  const sock = dgram.createSocket(type);
  sock.on('message', (m, r) => onMsg(sock, m, r));
  await new Promise<void>((r) => sock.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', r));
  return { sock, port: sock.address().port };
}
const close = (s: dgram.Socket): Promise<void> => new Promise((r) => s.close(() => r()));
const echoBack: OnMsg = (s, m, r) => s.send(m, r.port, r.address);

async function freeUdpPort(): Promise<number> {
  const { sock, port } = await udpServer(() => {});
  await close(sock);
  return port;
}

test('udp: echoes from an independent server (socat) are replies; books balance', async (t) => {
  const port = await freeUdpPort();
  const kid: ChildProcess = spawn('socat', ['-T1', `UDP4-RECVFROM:${port},bind=127.0.0.1,fork`, 'PIPE'], { stdio: 'ignore' });
  t.after(() => kid.kill('SIGTERM'));
  await sleep(300);
  const sink = new RecordingSink();
  const p = udpProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('udp', { slot: 21, port, payloadSize: 100, timeoutMs: 1000 }));
  for (let i = 0; i < 10; i++) {
    p.probe(21);
    await sleep(20);
  }
  await sink.until(() => sink.outstanding(21) === 0, 3000);
  assert.equal(sink.count('reply', 21), 10, sink.summary());
  assert.equal(sink.count('dropped'), 0);
  for (const r of sink.of('reply', 21)) assert.ok(r.value > 0 && r.value < 1);
  await p.close();
});

test('udp: payload has the configured size (min 20) and carries cookie and slot', async () => {
  const seen: Buffer[] = [];
  const srv = await udpServer((s, m, r) => {
    seen.push(Buffer.from(m));
    echoBack(s, m, r);
  });
  const sink = new RecordingSink();
  const p = udpProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('udp', { slot: 22, port: srv.port, payloadSize: 300 }));
  p.add(shardTarget('udp', { slot: 23, port: srv.port, payloadSize: 4 }));
  p.probe(22);
  p.probe(23);
  await sink.until(() => sink.count('reply') === 2);
  const sizes = seen.map((b) => b.length).sort((a, b) => a - b);
  assert.deepEqual(sizes, [20, 300]);
  for (const b of seen) assert.equal(b.readUInt32BE(0), TEST_SETTINGS.cookie);
  assert.deepEqual(seen.map((b) => b.readUInt32BE(4)).sort(), [22, 23]);
  await p.close();
  await close(srv.sock);
});

test('udp: a second copy of a reply is a duplicate; a reply after the timeout is late', async () => {
  const srv = await udpServer((s, m, r) => {
    const seq = m.readUInt32BE(8);
    if (seq === 1) {
      echoBack(s, m, r);
      echoBack(s, m, r);
    } else {
      setTimeout(() => echoBack(s, m, r), 200);
    }
  });
  const sink = new RecordingSink();
  const p = udpProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('udp', { slot: 24, port: srv.port, timeoutMs: 80 }));
  p.probe(24);
  await sink.until(() => sink.count('duplicate', 24) === 1);
  p.probe(24);
  await sink.until(() => sink.count('late', 24) === 1, 2000);
  assert.equal(sink.count('reply', 24), 1);
  assert.equal(sink.count('timeout', 24), 1);
  assert.ok(sink.of('late', 24)[0].value >= 0.19);
  assert.equal(sink.outstanding(24), 0);
  await p.close();
  await close(srv.sock);
});

test('udp: a target that takes a slot (or replaces its own) never matches the replies of the one before', async (t) => {
  // Every reply comes back 150 ms late, long after the slot changed hands.
  const srv = await udpServer((s, m, r) => setTimeout(() => echoBack(s, m, r), 150));
  const sink = new RecordingSink();
  const p = udpProberFactory(sink, TEST_SETTINGS);
  t.after(async () => {
    await p.close();
    await close(srv.sock);
  });
  p.add(shardTarget('udp', { slot: 26, port: srv.port, timeoutMs: 1000 }));
  p.probe(26); // its reply is on the way...
  await sleep(20);
  p.remove(26);
  p.add(shardTarget('udp', { slot: 26, port: srv.port, timeoutMs: 1000 })); // ...when a new target (same address) takes the slot
  await sleep(20);
  p.probe(26);
  p.add(shardTarget('udp', { slot: 26, port: srv.port, timeoutMs: 1000, intervalMs: 500 })); // and is changed in place (upsert)
  await sleep(20);
  p.probe(26);
  // All three replies are back: two of them are the earlier targets' (or, wrongly, counted as ours).
  await sink.until(() => sink.count('dropped') + sink.count('reply', 26) + sink.count('duplicate', 26) + sink.count('late', 26) >= 3, 5000);
  await sleep(50);
  assert.deepEqual(
    sink.of('dropped').map((c) => c.code),
    [DropReason.bad_sequence, DropReason.bad_sequence],
    "the earlier probes' replies are not ours",
  );
  assert.equal(sink.count('reply', 26), 1, sink.summary());
  assert.ok(sink.of('reply', 26)[0].value >= 0.14, `the reply counted is the last probe's own (${sink.of('reply', 26)[0].value} s)`);
});

test('udp: forged or foreign replies are dropped with the right reason and never counted as replies', async () => {
  const other = dgram.createSocket('udp4');
  await new Promise<void>((r) => other.bind(0, '127.0.0.1', r));
  const srv = await udpServer((s, m, r) => {
    const short = m.subarray(0, 10);
    const badCookie = Buffer.from(m);
    badCookie.writeUInt32BE(0x1234, 0);
    const unknownSlot = Buffer.from(m);
    unknownSlot.writeUInt32BE(999, 4);
    const badSeq = Buffer.from(m);
    badSeq.writeUInt32BE(777, 8);
    for (const b of [short, badCookie, unknownSlot, badSeq]) s.send(b, r.port, r.address);
    other.send(m, r.port, r.address); // right contents, wrong source port
  });
  const sink = new RecordingSink();
  const p = udpProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('udp', { slot: 25, port: srv.port, timeoutMs: 300 }));
  p.probe(25);
  await sink.until(() => sink.count('dropped') === 5 && sink.outstanding(25) === 0, 2000);
  assert.deepEqual(
    sink
      .of('dropped')
      .map((c) => c.code)
      .sort(),
    [DropReason.short, DropReason.bad_cookie, DropReason.unknown_slot, DropReason.address_mismatch, DropReason.bad_sequence].sort(),
  );
  assert.equal(sink.count('reply', 25), 0);
  assert.equal(sink.count('timeout', 25), 1);
  await p.close();
  await close(srv.sock);
  await close(other);
});

test('udp: a closed port is a timeout (ICMP port unreachable is not seen on shared unconnected sockets)', async () => {
  const port = await freeUdpPort();
  const sink = new RecordingSink();
  const p = udpProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('udp', { slot: 26, port, timeoutMs: 100 }));
  p.probe(26);
  p.probe(26);
  await sink.until(() => sink.outstanding(26) === 0, 2000);
  assert.equal(sink.count('timeout', 26), 2);
  assert.equal(sink.count('error', 26), 0);
  await p.close();
});

test('udp: source_ports rotates successive probes over N shared sockets', async () => {
  const srcPorts: number[] = [];
  const srv = await udpServer((s, m, r) => {
    srcPorts.push(r.port);
    echoBack(s, m, r);
  });
  const sink = new RecordingSink();
  const p = udpProberFactory(sink, TEST_SETTINGS) as UdpProber;
  p.add(shardTarget('udp', { slot: 27, port: srv.port }, { source_ports: 3 }));
  p.add(shardTarget('udp', { slot: 28, port: srv.port })); // shares socket 0
  await sleep(20);
  for (let i = 0; i < 6; i++) {
    p.probe(27);
    await sleep(5);
  }
  p.probe(28);
  await sink.until(() => sink.count('reply') === 7);
  const local = p.localPorts(4);
  assert.equal(local.length, 3, 'sockets are per prober, sized by the largest source_ports');
  assert.deepEqual(srcPorts.slice(0, 6), [...local, ...local]);
  assert.equal(srcPorts[6], local[0]);
  // source_ports is checked once, by the kind (src/kinds/udp.ts), before a target reaches a prober.
  assert.match(udpKind.options.source_ports.format.check(0) ?? '', /between 1 and 64/);
  assert.match(udpKind.options.source_ports.format.check(65) ?? '', /between 1 and 64/);
  await p.close();
  await close(srv.sock);
});

test('udp: IPv6 loopback echo', async () => {
  const srv = await udpServer(echoBack, 'udp6');
  const sink = new RecordingSink();
  const p = udpProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('udp', { slot: 30, ip: '0:0::1', family: 6, port: srv.port }));
  p.probe(30);
  p.probe(30);
  await sink.until(() => sink.count('reply', 30) === 2);
  assert.equal(sink.count('dropped'), 0);
  await p.close();
  await close(srv.sock);
});

test('udp: 50 targets sharing one socket, paced, against socat UDP4-LISTEN PIPE all come back', async (t) => {
  const port = await freeUdpPort();
  // No fork: socat serves the first peer, which is our one shared socket for all 50 targets.
  // PIPE goes through a byte pipe, so datagrams that queue up inside socat get merged
  // (two probes echoed as one datagram: under load even 2 ms apart); -b 64, the
  // probes' size, makes socat move one datagram per step, so each is echoed on its own.
  const kid: ChildProcess = spawn('socat', ['-b', '64', `UDP4-LISTEN:${port},bind=127.0.0.1`, 'PIPE'], { stdio: 'ignore' });
  t.after(() => kid.kill('SIGTERM'));
  await sleep(300);
  const sink = new RecordingSink();
  const p = udpProberFactory(sink, TEST_SETTINGS);
  for (let s = 100; s < 150; s++) p.add(shardTarget('udp', { slot: s, port, payloadSize: 64, timeoutMs: 2000 }));
  p.probe(100); // the first datagram makes socat lock onto our socket
  await sink.until(() => sink.count('reply') === 1, 3000);
  for (let round = 0; round < 4; round++) {
    for (let s = 100; s < 150; s++) {
      p.probe(s);
      await sleep(2);
    }
  }
  await sink.until(() => sink.outstanding() === 0, 3000);
  assert.equal(sink.count('reply'), 201, sink.summary());
  await p.close();
});

/**
 * The patched raw-socket's per-packet fast paths on real raw ICMP sockets over loopback
 * (needs root / CAP_NET_RAW): RawIcmpConn.sendTo (address as a number or 16 bytes, no
 * callback) and the drain over recvInto (source address as bytes, no string), as the
 * prober uses them; and the native calls' contracts (-errno results, argument checks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Protocol, createSocket } from 'raw-socket';
import { RawIcmpConn } from '../../workers/probes/icmp-socket.js';
import { echoRequest, parseEchoReply, skipUnlessRawIcmp } from '../fixtures/raw-socket-icmp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ID_BASE = 0x6000 + (process.pid & 0x7ff);

for (const family of [4, 6] as const) {
  test(`IPv${family}: sendTo reaches loopback and the reply arrives with its source as bytes`, async (t) => {
    if (!skipUnlessRawIcmp(t, family)) return;
    const conn = new RawIcmpConn(family);
    t.after(() => conn.close());
    assert.equal(typeof conn.sendTo, 'function', 'the patched addon has sendTo/recvInto (postinstall checks it too)');
    const identifier = ID_BASE + family;
    const got: Array<{ seq: number; source: string; bytes: string }> = [];
    conn.onPacket((buf, len, source, _recvTime, _kernelRecvTime, sourceBytes) => {
      const reply = parseEchoReply(family, Buffer.from(buf.subarray(0, len)));
      if (reply === null || reply.identifier !== identifier) return;
      got.push({ seq: reply.sequence, source, bytes: Buffer.from(sourceBytes!.subarray(0, family === 4 ? 4 : 16)).toString('hex') });
    });
    conn.setFilters(identifier);
    const v6 = new Uint8Array(32);
    v6[16 + 15] = 1; // ::1 at offset 16
    for (let seq = 1; seq <= 3; seq++) {
      const pkt = echoRequest(family, identifier, seq);
      assert.equal(conn.sendTo!(pkt, pkt.length, 0x7f000001, v6, 16), true);
      for (let i = 0; i < 50 && got.length < seq; i++) {
        await sleep(5);
        conn.drainNow();
      }
    }
    const want = family === 4 ? '7f000001' : '00000000000000000000000000000001';
    assert.deepEqual(
      got.map((g) => g.seq),
      [1, 2, 3],
    );
    for (const g of got) {
      assert.equal(g.source, '', 'no address string is made');
      assert.equal(g.bytes, want);
    }
  });
}

test('native sendTo/recvInto: -errno results instead of exceptions, arguments checked', (t) => {
  if (!skipUnlessRawIcmp(t, 4)) return;
  const socket = createSocket({ protocol: Protocol.ICMP }) as unknown as {
    wrap: { sendTo(b: Buffer, len: number, a: unknown, off: number): number; recvInto(b: Buffer, s: Uint8Array): number };
    close(): void;
  };
  t.after(() => socket.close());
  const EAGAIN = 11;
  const EMSGSIZE = 90;
  // Drain whatever loopback ICMP is queued (other processes' pings), then the queue is empty.
  const buf = Buffer.alloc(2048);
  const src = Buffer.alloc(16);
  for (let i = 0; i < 10_000 && socket.wrap.recvInto(buf, src) >= 0; i++);
  assert.equal(socket.wrap.recvInto(buf, src), -EAGAIN);
  // A datagram larger than IPv4 allows is refused by the kernel (nothing sent): -EMSGSIZE, no throw.
  assert.equal(socket.wrap.sendTo(Buffer.alloc(70_000), 70_000, 0x7f000001, 0), -EMSGSIZE);
  assert.throws(() => socket.wrap.sendTo(Buffer.alloc(8), 9, 0x7f000001, 0), RangeError);
  assert.throws(() => socket.wrap.sendTo(Buffer.alloc(8), 8, '127.0.0.1', 0), TypeError);
  assert.throws(() => socket.wrap.recvInto(buf, Buffer.alloc(4)), TypeError);
});

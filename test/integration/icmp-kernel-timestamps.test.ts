/**
 * Kernel timestamps on real raw ICMP sockets over loopback (needs root / CAP_NET_RAW):
 * the patched raw-socket's enableTimestamps (SO_TIMESTAMPNS receive stamps, a
 * CLOCK_REALTIME read right before sendto()), RawIcmpConn's use of them, and the
 * prober's RTT from them, including its fallback when the wall clock steps (injected
 * by a decorator conn that skews the real stamps: a real clock step cannot be made
 * on demand without disturbing the whole machine).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Protocol, createSocket } from 'raw-socket';
import type { ShardTarget } from '../../src/targets/model.js';
import { IcmpProber } from '../../workers/probes/icmp.js';
import { RawIcmpConn, type FilterStatus, type IcmpConn, type PacketHandler } from '../../workers/probes/icmp-socket.js';
import type { ProbeSink } from '../../workers/probes/prober.js';
import { LOOPBACK, echoRequest, parseEchoReply, skipUnlessRawIcmp, type Family } from '../fixtures/raw-socket-icmp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ID_BASE = 0x5000 + (process.pid & 0x7ff);

test('enableTimestamps refuses anything but a Float64Array of 4+ elements', (t) => {
  if (!skipUnlessRawIcmp(t, 4)) return;
  const socket = createSocket({ protocol: Protocol.ICMP });
  t.after(() => void socket.close());
  assert.throws(() => socket.enableTimestamps(new Float64Array(3)), { name: 'TypeError', message: /Float64Array of at least 4/ });
  assert.throws(() => socket.enableTimestamps(new Uint32Array(8) as unknown as Float64Array), { name: 'TypeError' });
  assert.throws(() => socket.enableTimestamps(undefined as unknown as Float64Array), { name: 'TypeError' });
  socket.enableTimestamps(new Float64Array(4)); // a small (on-heap) array is fine too
});

test("raw-socket Socket API: send stamps before sendto and the reply's kernel receive stamp are written in place", async (t) => {
  if (!skipUnlessRawIcmp(t, 4)) return;
  const socket = createSocket({ protocol: Protocol.ICMP });
  t.after(() => void socket.close());
  const stamps = new Float64Array(4);
  socket.enableTimestamps(stamps);
  const identifier = ID_BASE + 1;
  let rx: number[] | null = null;
  socket.on('message', (datagram) => {
    if (parseEchoReply(4, datagram)?.identifier === identifier && rx === null) rx = [stamps[2], stamps[3]];
  });
  const wallBefore = Date.now();
  await new Promise<void>((resolve, reject) => socket.send(echoRequest(4, identifier, 1), 0, 16, LOOPBACK[4], (err) => (err ? reject(err) : resolve())));
  const tx = [stamps[0], stamps[1]];
  for (let i = 0; i < 50 && rx === null; i++) await sleep(10);
  assert.ok(rx !== null, 'echo reply received');
  const [rxSec, rxNsec] = rx as number[];
  assert.ok(Number.isInteger(tx[0]) && tx[1] >= 0 && tx[1] < 1e9, `tx stamp ${tx.join(',')}`);
  assert.ok(Number.isInteger(rxSec) && rxNsec >= 0 && rxNsec < 1e9, `rx stamp ${rxSec},${rxNsec}`);
  const txMs = tx[0] * 1000 + tx[1] / 1e6;
  assert.ok(Math.abs(txMs - wallBefore) < 1000, 'tx stamp is CLOCK_REALTIME (near Date.now())');
  const rttNs = (rxSec - tx[0]) * 1e9 + (rxNsec - tx[1]);
  assert.ok(rttNs > 0 && rttNs < 50e6, `kernel RTT ${rttNs} ns`);
});

interface Sample {
  jsSend: number;
  sendStamp: number;
  jsRecv: number;
  kernelRecv: number;
}

/** Pings loopback `count` times, one at a time, through a RawIcmpConn. */
async function pingThroughConn(family: Family, identifier: number, count: number): Promise<{ status: FilterStatus; samples: Sample[]; conn: RawIcmpConn }> {
  const conn = new RawIcmpConn(family);
  const samples: Sample[] = [];
  let current: Sample | null = null;
  let wanted = 0;
  conn.onPacket((buf, len, _source, recvTime, kernelRecvTime) => {
    const reply = parseEchoReply(family, Buffer.from(buf.subarray(0, len)));
    if (reply === null || reply.identifier !== identifier || reply.sequence !== wanted || current === null) return;
    current.jsRecv = recvTime;
    current.kernelRecv = kernelRecvTime;
    samples.push(current);
    current = null;
  });
  const status = conn.setFilters(identifier);
  try {
    for (let seq = 1; seq <= count; seq++) {
      const pkt = echoRequest(family, identifier, seq);
      wanted = seq;
      const jsSend = performance.now();
      const err = conn.send(pkt, pkt.length, LOOPBACK[family]);
      assert.equal(err, null);
      current = { jsSend, sendStamp: conn.sendStamp(), jsRecv: NaN, kernelRecv: NaN };
      for (let i = 0; i < 100 && current !== null; i++) await sleep(1);
      assert.equal(current, null, `reply to seq ${seq} within 100 ms`);
    }
  } finally {
    conn.close();
  }
  return { status, samples, conn };
}

for (const family of [4, 6] as const) {
  test(`IPv${family} RawIcmpConn: every reply has kernel stamps, consistent with the monotonic clock, and kernel RTT <= JS RTT`, async (t) => {
    if (!skipUnlessRawIcmp(t, family)) return;
    const wallAtStart = Date.now();
    const { status, samples, conn } = await pingThroughConn(family, ID_BASE + 0x10 + family, 40);
    assert.equal(status.kernelTimestamps, true);
    assert.deepEqual(status.problems, []);
    assert.equal(samples.length, 40);
    let kernelSum = 0;
    let jsSum = 0;
    for (const s of samples) {
      assert.ok(Number.isFinite(s.sendStamp) && Number.isFinite(s.kernelRecv), `stamps present: ${JSON.stringify(s)}`);
      const kernelRtt = s.kernelRecv - s.sendStamp;
      const jsRtt = s.jsRecv - s.jsSend;
      assert.ok(kernelRtt >= 0, `kernel RTT ${kernelRtt} ms >= 0`);
      assert.ok(kernelRtt <= jsRtt, `kernel RTT ${kernelRtt} ms <= JS RTT ${jsRtt} ms`);
      kernelSum += kernelRtt;
      jsSum += jsRtt;
    }
    // Stamps move forward with the monotonic clock: strictly increasing, and the
    // wall − monotonic offset stays put (no step; NTP slew is ppm).
    const offsets = samples.map((s) => s.sendStamp - s.jsSend);
    for (let i = 1; i < samples.length; i++) {
      assert.ok(samples[i].sendStamp > samples[i - 1].sendStamp, 'send stamps increase');
      assert.ok(samples[i].kernelRecv > samples[i - 1].kernelRecv, 'receive stamps increase');
    }
    assert.ok(Math.max(...offsets) - Math.min(...offsets) < 2, `wall - monotonic offset spread ${Math.max(...offsets) - Math.min(...offsets)} ms`);
    // On the wall clock: ms since stampEpochSec.
    const wall = conn.stampEpochSec * 1000 + samples[0].sendStamp;
    assert.ok(Math.abs(wall - wallAtStart) < 1000, `stamp ${wall} vs Date.now() ${wallAtStart}`);
    t.diagnostic(`IPv${family} mean RTT: kernel ${((kernelSum / samples.length) * 1000).toFixed(1)} µs, JS ${((jsSum / samples.length) * 1000).toFixed(1)} µs`);
  });
}

/**
 * A real RawIcmpConn that records the JS send/receive time of every packet and can
 * skew the kernel receive stamp (the fault injection of a wall-clock step).
 */
class RecordingConn implements IcmpConn {
  readonly jsSend = new Map<number, number>();
  /** JS RTT (ms, from our own send() call to the read) of each delivered echo reply, in order. */
  readonly jsRtts: number[] = [];
  delivered = 0;
  constructor(
    private readonly inner: RawIcmpConn,
    private readonly skewMs: (n: number) => number,
  ) {}
  get family(): 4 | 6 {
    return this.inner.family;
  }
  send(buf: Buffer, length: number, address: string): string | null {
    this.jsSend.set(buf.readUInt16BE(6), performance.now());
    return this.inner.send(buf, length, address);
  }
  sendStamp(): number {
    return this.inner.sendStamp();
  }
  onPacket(handler: PacketHandler): void {
    this.inner.onPacket((buf, len, source, recvTime, kernelRecvTime, sourceBytes) => {
      const icmp = this.family === 4 ? (buf[0] & 0xf) * 4 : 0;
      const sent = this.jsSend.get(buf.readUInt16BE(icmp + 6));
      if (sent !== undefined) this.jsRtts.push(recvTime - sent);
      handler(buf, len, source, recvTime, kernelRecvTime + this.skewMs(this.delivered++), sourceBytes);
    });
  }
  setFilters(identifier: number): FilterStatus {
    return this.inner.setFilters(identifier);
  }
  drainNow(): void {
    this.inner.drainNow();
  }
  close(): void {
    this.inner.close();
  }
}

class RttSink implements ProbeSink {
  rtts: number[] = [];
  other: string[] = [];
  sent() {}
  reply(_slot: number, rtt: number) {
    this.rtts.push(rtt * 1000);
  }
  timeout(slot: number) {
    this.other.push(`timeout ${slot}`);
  }
  error(slot: number, reason: number) {
    this.other.push(`error ${slot} ${reason}`);
  }
  duplicate(slot: number) {
    this.other.push(`duplicate ${slot}`);
  }
  late(slot: number) {
    this.other.push(`late ${slot}`);
  }
  dropped(reason: number) {
    this.other.push(`dropped ${reason}`);
  }
  record() {}
}

function loopbackTarget(family: Family): ShardTarget {
  return {
    slot: 1,
    name: 'lo',
    kind: 'icmp',
    ip: LOOPBACK[family],
    family,
    port: 0,
    intervalMs: 10,
    phaseMs: 0,
    timeoutMs: 100,
    payloadSize: 56,
    options: { kind: 'icmp' },
  };
}

async function probeLoopback(family: Family, count: number, skewMs: (n: number) => number) {
  const sink = new RttSink();
  let conn: RecordingConn | null = null;
  const prober = new IcmpProber(
    sink,
    { workerIndex: 0, cookie: 0x7157a3c5, icmpIdentifier: ID_BASE + 0x20 + family, flushIntervalMs: 1000 },
    {
      openConn: (f) => (conn = new RecordingConn(new RawIcmpConn(f), skewMs)),
    },
  );
  try {
    prober.add(loopbackTarget(family));
    for (let i = 0; i < count; i++) {
      prober.probe(1);
      await sleep(5);
    }
    await sleep(50);
  } finally {
    prober.close();
  }
  return { sink, stats: prober.stats, conn: conn! };
}

for (const family of [4, 6] as const) {
  test(`IPv${family} prober: RTT comes from the kernel stamps and is <= the JS-measured RTT of the same packet`, async (t) => {
    if (!skipUnlessRawIcmp(t, family)) return;
    const { sink, stats, conn } = await probeLoopback(family, 40, () => 0);
    assert.deepEqual(sink.other, []);
    assert.equal(sink.rtts.length, 40);
    assert.equal(conn.jsRtts.length, 40);
    assert.equal(stats.kernelRtt, 40);
    assert.equal(stats.clockFallbacks, 0);
    for (let i = 0; i < 40; i++) {
      assert.ok(sink.rtts[i] > 0 && sink.rtts[i] <= conn.jsRtts[i], `reply ${i}: kernel ${sink.rtts[i]} ms vs JS ${conn.jsRtts[i]} ms`);
    }
  });
}

test('a wall-clock step (injected into the real kernel stamps) falls back to the monotonic RTT for those replies only', async (t) => {
  if (!skipUnlessRawIcmp(t, 4)) return;
  // Replies 3, 7, 11, …: the clock stepped back 5 s; 5, 13, 21, …: forward 5 s.
  const skew = (n: number) => (n % 4 === 3 ? -5000 : n % 8 === 5 ? 5000 : 0);
  const count = 40;
  const { sink, stats, conn } = await probeLoopback(4, count, skew);
  const stepped = Array.from({ length: count }, (_, n) => skew(n) !== 0);
  assert.deepEqual(sink.other, []);
  assert.equal(sink.rtts.length, count, 'every stepped reply is still a Reply (not Late)');
  assert.equal(stats.clockFallbacks, stepped.filter(Boolean).length);
  assert.equal(stats.kernelRtt, count - stats.clockFallbacks);
  for (let n = 0; n < count; n++) {
    if (stepped[n]) {
      // Monotonic: the prober's send time is taken before our recorder's, so >=.
      assert.ok(sink.rtts[n] >= conn.jsRtts[n] && sink.rtts[n] < 100, `stepped reply ${n}: ${sink.rtts[n]} ms vs JS ${conn.jsRtts[n]} ms`);
    } else {
      assert.ok(sink.rtts[n] <= conn.jsRtts[n], `reply ${n}: kernel ${sink.rtts[n]} ms vs JS ${conn.jsRtts[n]} ms`);
    }
  }
});

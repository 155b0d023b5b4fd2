/**
 * The ICMP prober's books, driven through a substitute IcmpConn (the fault
 * injection point: we need sendto failures, forged and duplicated replies, and
 * replies at chosen times, which a real socket cannot be made to produce).
 * The packets themselves are real, built by the same codec.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DropReason, ErrorReason } from '../../src/protocol/events.js';
import type { ShardTarget } from '../../src/targets/model.js';
import { IcmpProber, RING } from '../../workers/probes/icmp.js';
import type { FilterStatus, IcmpConn, PacketHandler } from '../../workers/probes/icmp-socket.js';
import { internetChecksum } from '../../workers/probes/icmp-codec.js';
import type { ProbeSink } from '../../workers/probes/prober.js';
import { ManualTime } from '../helpers/manual-time.js';
import { error6, icmp4, ipv4 } from '../helpers/icmp-packets.js';

class FakeConn implements IcmpConn {
  handler: PacketHandler | null = null;
  sent: Array<{ pkt: Buffer; address: string }> = [];
  failNext: string | null = null;
  closed = false;
  /** Kernel-clock send stamp the next send reports (NaN = no timestamps). */
  nextSendStamp = NaN;
  private lastSendStamp = NaN;
  constructor(readonly family: 4 | 6) {}
  send(buf: Buffer, length: number, address: string): string | null {
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = null;
      return e;
    }
    this.sent.push({ pkt: Buffer.from(buf.subarray(0, length)), address });
    this.lastSendStamp = this.nextSendStamp;
    return null;
  }
  sendStamp(): number {
    return this.lastSendStamp;
  }
  onPacket(h: PacketHandler): void {
    this.handler = h;
  }
  setFilters(): FilterStatus {
    return { typeFilter: true, bpf: true, problems: [] };
  }
  close(): void {
    this.closed = true;
  }
  deliver(pkt: Buffer, source: string, at: number, kernelAt = NaN): void {
    this.handler!(pkt, pkt.length, source, at, kernelAt);
  }
}

class RecordingSink implements ProbeSink {
  events: string[] = [];
  drops: number[] = [];
  rtts: number[] = [];
  logs: string[] = [];
  sent(slot: number) {
    this.events.push(`sent ${slot}`);
  }
  reply(slot: number, rtt: number) {
    this.events.push(`reply ${slot}`);
    this.rtts.push(rtt);
  }
  timeout(slot: number) {
    this.events.push(`timeout ${slot}`);
  }
  error(slot: number, reason: number) {
    this.events.push(`error ${slot} ${reason}`);
  }
  duplicate(slot: number) {
    this.events.push(`duplicate ${slot}`);
  }
  late(slot: number, rtt: number) {
    this.events.push(`late ${slot}`);
    this.rtts.push(rtt);
  }
  dropped(reason: number) {
    this.drops.push(reason);
  }
  record() {}
  log(_level: string, msg: string) {
    this.logs.push(msg);
  }
}

const ID = 0x4321;
const COOKIE = 0xabad1dea;

function target(slot: number, ip: string, extra: Partial<ShardTarget> = {}): ShardTarget {
  return {
    slot,
    name: `t${slot}`,
    kind: 'icmp',
    ip,
    family: ip.includes(':') ? 6 : 4,
    port: 0,
    intervalMs: 1000,
    phaseMs: 0,
    timeoutMs: 500,
    payloadSize: 56,
    options: { kind: 'icmp' },
    ...extra,
  };
}

function setup() {
  const time = new ManualTime();
  const sink = new RecordingSink();
  const conns: Record<number, FakeConn> = {};
  const prober = new IcmpProber(
    sink,
    { workerIndex: 0, cookie: COOKIE, icmpIdentifier: ID, flushIntervalMs: 1000 },
    {
      clock: time,
      openConn: (family) => (conns[family] = new FakeConn(family)),
    },
  );
  return { time, sink, conns, prober };
}

/** Turn a sent v4 request into the reply the target would send (IP header from target). */
function replyTo(req: Buffer, from: string, mutate?: (icmp: Buffer) => void): Buffer {
  const icmp = Buffer.from(req);
  icmp[0] = 0;
  mutate?.(icmp);
  icmp.writeUInt16BE(0, 2);
  icmp.writeUInt16BE(internetChecksum(icmp, 0, icmp.length), 2);
  return ipv4(icmp, from, '127.0.0.1');
}

function replyTo6(req: Buffer, mutate?: (icmp: Buffer) => void): Buffer {
  const icmp = Buffer.from(req);
  icmp[0] = 129;
  mutate?.(icmp);
  return icmp;
}

test('a reply in time is one Reply with RTT = receive − send time', () => {
  const { time, sink, conns, prober } = setup();
  prober.add(target(5, '127.0.0.2'));
  time.t = 100;
  prober.probe(5);
  const { pkt, address } = conns[4].sent[0];
  assert.equal(address, '127.0.0.2');
  conns[4].deliver(replyTo(pkt, '127.0.0.2'), '127.0.0.2', 100.25);
  time.advanceTo(2000);
  assert.deepEqual(sink.events, ['sent 5', 'reply 5']);
  assert.ok(Math.abs(sink.rtts[0] - 0.00025) < 1e-12);
  assert.deepEqual(sink.drops, []);
});

test('no reply is exactly one Timeout at the deadline; a reply after it is Late, then Duplicate', () => {
  const { time, sink, conns, prober } = setup();
  prober.add(target(1, '127.0.0.1'));
  prober.probe(1);
  time.advanceTo(499);
  assert.deepEqual(sink.events, ['sent 1']);
  time.advanceTo(500);
  assert.deepEqual(sink.events, ['sent 1', 'timeout 1']);
  const rep = replyTo(conns[4].sent[0].pkt, '127.0.0.1');
  conns[4].deliver(rep, '127.0.0.1', 600);
  conns[4].deliver(rep, '127.0.0.1', 601);
  assert.deepEqual(sink.events, ['sent 1', 'timeout 1', 'late 1', 'duplicate 1']);
  assert.ok(Math.abs(sink.rtts[0] - 0.6) < 1e-12);
});

test('a reply past its deadline that beats the timer counts Timeout and Late', () => {
  const { sink, conns, prober } = setup();
  prober.add(target(1, '127.0.0.1'));
  prober.probe(1);
  conns[4].deliver(replyTo(conns[4].sent[0].pkt, '127.0.0.1'), '127.0.0.1', 700);
  assert.deepEqual(sink.events, ['sent 1', 'timeout 1', 'late 1']);
});

test('a second reply is a Duplicate, not a second Reply', () => {
  const { sink, conns, prober } = setup();
  prober.add(target(1, '127.0.0.1'));
  prober.probe(1);
  const rep = replyTo(conns[4].sent[0].pkt, '127.0.0.1');
  conns[4].deliver(rep, '127.0.0.1', 1);
  conns[4].deliver(rep, '127.0.0.1', 2);
  assert.deepEqual(sink.events, ['sent 1', 'reply 1', 'duplicate 1']);
});

// ---- kernel timestamps (wall clock, ms since the conn's epoch second) --------------

test('with consistent kernel stamps the RTT is kernel receive − kernel send, not the later JS times', () => {
  const { time, sink, conns, prober } = setup();
  prober.add(target(1, '127.0.0.1')); // opens the conn
  time.t = 100;
  prober.probe(1); // no stamps
  conns[4].deliver(replyTo(conns[4].sent[0].pkt, '127.0.0.1'), '127.0.0.1', 100.25);
  time.t = 1100;
  conns[4].nextSendStamp = 5000.01; // the native stamp is taken after the JS one
  prober.probe(1);
  // The kernel received it 40 µs after sendto; the event loop read it 210 µs later.
  conns[4].deliver(replyTo(conns[4].sent[1].pkt, '127.0.0.1'), '127.0.0.1', 1100.25, 5000.05);
  assert.deepEqual(sink.events, ['sent 1', 'reply 1', 'sent 1', 'reply 1']);
  assert.ok(Math.abs(sink.rtts[0] - 0.00025) < 1e-12, 'no stamps: monotonic RTT');
  assert.ok(Math.abs(sink.rtts[1] - 0.00004) < 1e-12, `kernel RTT, got ${sink.rtts[1]}`);
  assert.equal(prober.stats.kernelRtt, 1);
  assert.equal(prober.stats.clockFallbacks, 0, 'a missing stamp is not a clock step');
});

test('a wall-clock step backwards (negative kernel RTT) falls back to the monotonic RTT, counted and logged once', () => {
  const { time, sink, conns, prober } = setup();
  prober.add(target(1, '127.0.0.1'));
  prober.add(target(2, '127.0.0.2'));
  conns[4].nextSendStamp = 90_000;
  prober.probe(1);
  time.t = 1;
  conns[4].nextSendStamp = 90_001;
  prober.probe(2);
  const [first, second] = conns[4].sent;
  // The wall clock stepped back 3 s between the sendto()s and the receives.
  conns[4].deliver(replyTo(first.pkt, '127.0.0.1'), '127.0.0.1', 1.3, 90_000 - 3000);
  conns[4].deliver(replyTo(second.pkt, '127.0.0.2'), '127.0.0.2', 1.2, 90_001 - 3000);
  assert.deepEqual(sink.events, ['sent 1', 'sent 2', 'reply 1', 'reply 2']);
  assert.ok(Math.abs(sink.rtts[0] - 0.0013) < 1e-12, `monotonic RTT, got ${sink.rtts[0]}`);
  assert.ok(Math.abs(sink.rtts[1] - 0.0002) < 1e-12, `monotonic RTT, got ${sink.rtts[1]}`);
  assert.equal(prober.stats.clockFallbacks, 2);
  assert.equal(prober.stats.kernelRtt, 0);
  assert.equal(sink.logs.filter((m) => m.includes('kernel timestamps inconsistent')).length, 1, 'logged once, not per reply');
});

test('a wall-clock step forwards (kernel RTT longer than the monotonic one) falls back: a Reply, not Late', () => {
  const { time, sink, conns, prober } = setup();
  prober.add(target(1, '127.0.0.1'));
  time.t = 1000;
  conns[4].nextSendStamp = 7000;
  prober.probe(1);
  // +2 s step: kernel RTT 2000.05 ms (over the 500 ms timeout), monotonic 0.3 ms.
  conns[4].deliver(replyTo(conns[4].sent[0].pkt, '127.0.0.1'), '127.0.0.1', 1000.3, 9000.05);
  assert.deepEqual(sink.events, ['sent 1', 'reply 1']);
  assert.ok(Math.abs(sink.rtts[0] - 0.0003) < 1e-12, `got ${sink.rtts[0]}`);
  assert.equal(prober.stats.clockFallbacks, 1);
});

test('a reply the kernel received in time but the event loop read after the deadline is a Reply with the kernel RTT', () => {
  const { time, sink, conns, prober } = setup();
  prober.add(target(1, '127.0.0.1'));
  time.t = 1000;
  conns[4].nextSendStamp = 50;
  prober.probe(1);
  // The loop was blocked 700 ms (past the 500 ms timeout) before its timer could run.
  conns[4].deliver(replyTo(conns[4].sent[0].pkt, '127.0.0.1'), '127.0.0.1', 1700, 50.2);
  time.advanceTo(3000);
  assert.deepEqual(sink.events, ['sent 1', 'reply 1']);
  assert.ok(Math.abs(sink.rtts[0] - 0.0002) < 1e-12, `got ${sink.rtts[0]}`);
  assert.equal(prober.stats.kernelRtt, 1);
});

test('a late reply (after its timeout) also reports the kernel RTT when the stamps are consistent', () => {
  const { time, sink, conns, prober } = setup();
  prober.add(target(1, '127.0.0.1'));
  conns[4].nextSendStamp = 10;
  prober.probe(1);
  time.advanceTo(600);
  conns[4].deliver(replyTo(conns[4].sent[0].pkt, '127.0.0.1'), '127.0.0.1', 900, 610);
  assert.deepEqual(sink.events, ['sent 1', 'timeout 1', 'late 1']);
  assert.ok(Math.abs(sink.rtts[0] - 0.6) < 1e-12, `got ${sink.rtts[0]}`);
});

test('a sendto failure is Sent + Error(send_failed), and no timeout follows', () => {
  const { time, sink, conns, prober } = setup();
  prober.add(target(1, '127.0.0.1'));
  prober.probe(1); // opens the conn
  time.advanceTo(1000);
  conns[4].failNext = 'Network is unreachable';
  prober.probe(1);
  time.advanceTo(5000);
  assert.deepEqual(sink.events, ['sent 1', 'timeout 1', 'sent 1', 'error 1 ' + ErrorReason.send_failed]);
});

test('ICMP errors become Error(reason), matched with or without our payload quoted', () => {
  const { time, sink, conns, prober } = setup();
  prober.add(target(1, '192.0.2.10'));
  prober.add(target(2, '192.0.2.11'));
  prober.probe(1);
  prober.probe(2);
  const [a, b] = conns[4].sent.map((s) => s.pkt);
  // Full quote (payload carries slot/seq), from a router.
  const full = ipv4(icmp4(3, 1, ipv4(a, '127.0.0.1', '192.0.2.10')), '127.0.0.9', '127.0.0.1');
  conns[4].deliver(full, '127.0.0.9', 3);
  // 8-byte quote: only (identifier, seq16) name the probe.
  const short = ipv4(icmp4(11, 0, ipv4(b, '127.0.0.1', '192.0.2.11').subarray(0, 28)), '127.0.0.9', '127.0.0.1');
  conns[4].deliver(short, '127.0.0.9', 4);
  time.advanceTo(5000);
  assert.deepEqual(sink.events, ['sent 1', 'sent 2', `error 1 ${ErrorReason.host_unreachable}`, `error 2 ${ErrorReason.ttl_exceeded}`]);
});

test('an error quoting a request to another address is dropped as address_mismatch', () => {
  const { sink, conns, prober } = setup();
  prober.add(target(1, '192.0.2.10'));
  prober.probe(1);
  const quoted = ipv4(conns[4].sent[0].pkt, '127.0.0.1', '192.0.2.99').subarray(0, 28);
  conns[4].deliver(ipv4(icmp4(3, 1, quoted), '127.0.0.9', '127.0.0.1'), '127.0.0.9', 1);
  assert.deepEqual(sink.drops, [DropReason.address_mismatch]);
});

test('forged and foreign replies are dropped with the right reason and change no books', () => {
  const { time, sink, conns, prober } = setup();
  prober.add(target(1, '127.0.0.1'));
  prober.add(target(2, '127.0.0.2'));
  prober.probe(1);
  const req = conns[4].sent[0].pkt;
  const c = conns[4];
  c.deliver(
    replyTo(req, '127.0.0.1', (p) => p.writeUInt16BE(ID ^ 1, 4)),
    '127.0.0.1',
    1,
  );
  c.deliver(
    replyTo(req, '127.0.0.1', (p) => p.writeUInt32BE((COOKIE ^ 1) >>> 0, 8)),
    '127.0.0.1',
    1,
  );
  c.deliver(
    replyTo(req, '127.0.0.1', (p) => p.writeUInt32BE(77, 12)),
    '127.0.0.1',
    1,
  );
  c.deliver(replyTo(req, '127.0.0.3'), '127.0.0.3', 1);
  c.deliver(
    replyTo(req, '127.0.0.1', (p) => p.writeUInt32BE(2, 16)),
    '127.0.0.1',
    1,
  ); // seq never sent
  c.deliver(
    replyTo(req, '127.0.0.1', (p) => p.writeDoubleBE(-1, 20)),
    '127.0.0.1',
    1,
  ); // send time tampered
  c.deliver(
    replyTo(req, '127.0.0.1', (p) => p.writeUInt32BE(2, 12)),
    '127.0.0.1',
    1,
  ); // slot 2: nothing sent
  c.deliver(Buffer.from([0x45, 0, 0]), '127.0.0.1', 1);
  assert.deepEqual(sink.drops, [
    DropReason.foreign_identifier,
    DropReason.bad_cookie,
    DropReason.unknown_slot,
    DropReason.address_mismatch,
    DropReason.bad_sequence,
    DropReason.bad_sequence,
    DropReason.address_mismatch,
    DropReason.short,
  ]);
  time.advanceTo(600);
  assert.deepEqual(sink.events, ['sent 1', 'timeout 1'], 'the real probe still times out');
});

test('a reply older than the in-flight ring is dropped as bad_sequence', () => {
  const { time, sink, conns, prober } = setup();
  prober.add(target(1, '127.0.0.1', { intervalMs: 100, timeoutMs: 50 }));
  for (let k = 0; k < RING + 2; k++) {
    time.advanceTo(k * 100);
    prober.probe(1);
  }
  conns[4].deliver(replyTo(conns[4].sent[0].pkt, '127.0.0.1'), '127.0.0.1', time.t);
  assert.deepEqual(sink.drops, [DropReason.bad_sequence]);
});

test('IPv6: replies matched by recvfrom source, errors by the quoted destination', () => {
  const { time, sink, conns, prober } = setup();
  prober.add(target(1, '::1'));
  prober.add(target(2, '2001:db8::9'));
  prober.probe(1);
  prober.probe(2);
  const c = conns[6];
  assert.equal(c.sent[0].pkt[0], 128);
  c.deliver(replyTo6(c.sent[0].pkt), '0:0::1', 0.1); // non-canonical text still matches
  c.deliver(replyTo6(c.sent[0].pkt), '::2', 0.2);
  const seq16 = c.sent[1].pkt.readUInt16BE(6);
  c.deliver(error6(1, 3, { identifier: ID, seq16, cookie: COOKIE, slot: 2, seq: 1, sendTime: 0 }), 'fe80::1', 0.3);
  time.advanceTo(5000);
  assert.deepEqual(sink.events, ['sent 1', 'sent 2', 'reply 1', `error 2 ${ErrorReason.host_unreachable}`]);
  assert.deepEqual(sink.drops, [DropReason.address_mismatch]);
});

test('a v4 packet on the v6 socket cannot match a v4 target (family checked)', () => {
  const { sink, conns, prober } = setup();
  prober.add(target(1, '127.0.0.1'));
  prober.add(target(9, '::1'));
  prober.probe(1);
  const req = Buffer.from(conns[4].sent[0].pkt);
  req[0] = 129;
  conns[6].deliver(req, '::1', 1);
  assert.deepEqual(sink.drops, [DropReason.unknown_slot]);
});

test('add rejects bad addresses, unsupported timeouts and oversize payloads', () => {
  const { prober } = setup();
  assert.throws(() => prober.add(target(1, 'localhost')), /IPv4/);
  assert.throws(() => prober.add(target(1, '::1', { family: 4 })), /IPv4/);
  assert.throws(() => prober.add(target(1, '127.0.0.1', { family: 6 })), /IPv6/);
  assert.throws(() => prober.add(target(1, '127.0.0.1', { intervalMs: 100, timeoutMs: 100 * RING })), /spans more than/);
  assert.throws(() => prober.add(target(1, '127.0.0.1', { payloadSize: 70_000 })), /too large/);
  assert.equal(prober.size, 0);
});

test('a socket that cannot be opened rejects its family only, without retrying per target', () => {
  const sink = new RecordingSink();
  let opens = 0;
  const prober = new IcmpProber(
    sink,
    { workerIndex: 0, cookie: 1, icmpIdentifier: 1, flushIntervalMs: 1000 },
    {
      openConn: (family) => {
        opens++;
        if (family === 6) throw new Error('Operation not permitted');
        return new FakeConn(family);
      },
    },
  );
  assert.throws(() => prober.add(target(1, '::1')), /Operation not permitted/);
  assert.throws(() => prober.add(target(2, '::1')), /Operation not permitted/);
  prober.add(target(3, '127.0.0.1'));
  assert.equal(opens, 2);
  prober.close();
});

test('remove forgets in-flight probes: no timeout is reported for them', () => {
  const { time, sink, prober } = setup();
  prober.add(target(1, '127.0.0.1'));
  prober.probe(1);
  prober.remove(1);
  prober.probe(1); // unknown now: ignored
  time.advanceTo(5000);
  assert.deepEqual(sink.events, ['sent 1']);
  assert.equal(time.pending, 0, 'no timer left armed');
});

test('close closes the sockets and cancels the timeout timer', () => {
  const { time, conns, prober } = setup();
  prober.add(target(1, '127.0.0.1'));
  prober.probe(1);
  prober.close();
  assert.equal(conns[4].closed, true);
  assert.equal(time.pending, 0);
  assert.throws(() => prober.add(target(2, '127.0.0.1')));
});

test('16-bit wire sequences wrap: an error quoting only our header names the latest probe with that seq16', () => {
  const { time, sink, conns, prober } = setup();
  prober.add(target(1, '192.0.2.10'));
  prober.add(target(2, '192.0.2.11'));
  const shortError = (req: Buffer, dst: string) => ipv4(icmp4(3, 1, ipv4(req, '127.0.0.1', dst).subarray(0, 28)), '127.0.0.9', '127.0.0.1');
  prober.probe(1); // seq16 0
  const first = conns[4].sent[0].pkt;
  for (let k = 1; k < 65_536; k++) {
    time.advanceTo(k * 1000);
    prober.probe(2); // seq16 1 .. 65535
  }
  time.advanceTo(65_536 * 1000);
  prober.probe(1); // seq16 0 again, target 1's sequence 2
  const again = conns[4].sent[conns[4].sent.length - 1].pkt;
  assert.equal(again.readUInt16BE(6), 0);
  assert.equal(first.readUInt16BE(6), 0);
  const before = sink.events.length;
  conns[4].deliver(shortError(first, '192.0.2.10'), '127.0.0.9', time.t + 1);
  assert.deepEqual(sink.events.slice(before), [`error 1 ${ErrorReason.host_unreachable}`], 'the pending probe that now holds seq16 0');
  // Target 2's last probe (seq16 65535) was long timed out: its error adds nothing.
  const last2 = conns[4].sent[conns[4].sent.length - 2].pkt;
  assert.equal(last2.readUInt16BE(6), 65_535);
  conns[4].deliver(shortError(last2, '192.0.2.11'), '127.0.0.9', time.t + 2);
  assert.equal(sink.events.length, before + 1);
  assert.deepEqual(sink.drops, []);
  assert.equal(sink.events.filter((e) => e === 'timeout 2').length, 65_535, 'every other probe timed out once');
});

/**
 * A conn with the patched addon's fast paths (RawIcmpConn over sendTo/recvInto): the
 * address goes out as numbers, and the source comes in as bytes with '' for the string.
 */
class FastConn extends FakeConn {
  /** What each sendTo() was given, decoded: the v4 number, or the v6 bytes as hex. */
  sentTo: string[] = [];
  slowSends = 0;
  constructor(family: 4 | 6, kind: 'raw' | 'dgram' = 'raw') {
    super(family);
    (this as { kind?: 'raw' | 'dgram' }).kind = kind;
  }
  override send(buf: Buffer, length: number, address: string): string | null {
    this.slowSends++;
    return super.send(buf, length, address);
  }
  sendTo(buf: Buffer, length: number, v4: number, v6: Uint8Array, v6Offset: number): boolean {
    const to = this.family === 4 ? `v4 ${v4.toString(16)}` : `v6 ${Buffer.from(v6.subarray(v6Offset, v6Offset + 16)).toString('hex')}`;
    this.sentTo.push(to);
    return super.send(buf, length, to) === null;
  }
  deliverFrom(pkt: Buffer, source: Uint8Array, at: number): void {
    const bytes = Buffer.alloc(16);
    bytes.set(source);
    this.handler!(pkt, pkt.length, '', at, NaN, bytes);
  }
}

function setupFast(kind: 'raw' | 'dgram' = 'raw') {
  const time = new ManualTime();
  const sink = new RecordingSink();
  const conns: Record<number, FastConn> = {};
  const prober = new IcmpProber(
    sink,
    { workerIndex: 0, cookie: COOKIE, icmpIdentifier: ID, flushIntervalMs: 1000 },
    { clock: time, openConn: (family) => (conns[family] = new FastConn(family, kind)) },
  );
  return { time, sink, conns, prober };
}

test('a conn with sendTo gets the address as numbers (v4 uint32, v6 bytes) and never send()', () => {
  const { time, sink, conns, prober } = setupFast();
  prober.add(target(1, '127.0.0.9'));
  prober.add(target(2, '::1'));
  prober.add(target(3, '10.200.3.4'));
  prober.probe(1);
  prober.probe(2);
  prober.probe(3);
  assert.deepEqual(conns[4].sentTo, ['v4 7f000009', 'v4 ac80304']);
  assert.deepEqual(conns[6].sentTo, ['v6 00000000000000000000000000000001']);
  assert.equal(conns[4].slowSends + conns[6].slowSends, 0);
  // The reply of a v4 raw socket is matched on its IP header's source, not on sourceBytes.
  conns[4].deliverFrom(replyTo(conns[4].sent[0].pkt, '127.0.0.9'), new Uint8Array([1, 2, 3, 4]), time.t + 1);
  // v6: the source bytes are the address compared.
  conns[6].deliverFrom(replyTo6(conns[6].sent[0].pkt), ipv6Bytes(2), time.t + 1);
  conns[6].deliverFrom(replyTo6(conns[6].sent[0].pkt), ipv6Bytes(1), time.t + 1);
  assert.deepEqual(sink.events, ['sent 1', 'sent 2', 'sent 3', 'reply 1', 'reply 2']);
  assert.deepEqual(sink.drops, [DropReason.address_mismatch]);
});

test('a failed sendTo is Sent + Error(send_failed), as a failed send', () => {
  const { time, sink, conns, prober } = setupFast();
  prober.add(target(1, '127.0.0.1'));
  prober.probe(1);
  conns[4].failNext = 'EPERM';
  prober.probe(1);
  time.advanceTo(5000);
  assert.deepEqual(sink.events, ['sent 1', 'sent 1', `error 1 ${ErrorReason.send_failed}`, 'timeout 1']);
});

test('a ping socket conn with sourceBytes: the v4 reply is matched on the source bytes', () => {
  const { time, sink, conns, prober } = setupFast('dgram');
  prober.add(target(1, '127.0.0.5'));
  prober.probe(1);
  prober.probe(1);
  const icmpReply = (req: Buffer): Buffer => {
    const r = Buffer.from(req);
    r[0] = 0;
    return r;
  };
  conns[4].deliverFrom(icmpReply(conns[4].sent[0].pkt), new Uint8Array([127, 0, 0, 5]), time.t + 1);
  conns[4].deliverFrom(icmpReply(conns[4].sent[1].pkt), new Uint8Array([127, 0, 0, 6]), time.t + 1);
  assert.deepEqual(sink.events, ['sent 1', 'sent 1', 'reply 1']);
  assert.deepEqual(sink.drops, [DropReason.address_mismatch]);
});

/** ::n as 16 bytes. */
function ipv6Bytes(n: number): Uint8Array {
  const b = new Uint8Array(16);
  b[15] = n;
  return b;
}

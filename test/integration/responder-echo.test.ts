// TCP echo (tcp_ping_prometheus frames) and UDP echo (RFC 862) on real loopback sockets,
// with node clients and socat as an independent client.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { decodeEchoFrame, ECHO_FRAME_BYTES, encodeEchoFrame, unixNanosNow } from '../../src/protocol/echo-frame.js';
import { startResponder, type Responder, type ResponderOptions } from '../../src/responder/index.js';
import { loopbackResponderOptions, metricValue as metric, quiet, udpRoundTrip } from '../helpers/responder-setup.js';

/** TCP and UDP echo; no HTTP listener. */
function options(over: Partial<ResponderOptions> = {}): ResponderOptions {
  return loopbackResponderOptions({ http: undefined, ...over });
}

function openTcp(port: number, host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true }, () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Collects everything a socket receives; `until(n)` waits for n bytes (or fails after 2 s). */
function collector(s: Socket) {
  const chunks: Buffer[] = [];
  let total = 0;
  s.on('data', (c: Buffer) => {
    chunks.push(c);
    total += c.length;
  });
  return {
    get length() {
      return total;
    },
    bytes: () => Buffer.concat(chunks),
    async until(n: number): Promise<Buffer> {
      const deadline = Date.now() + 2000;
      while (total < n) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} bytes, have ${total}`);
        await delay(2);
      }
      return Buffer.concat(chunks);
    },
  };
}

function socat(args: string[], input: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // execFile's error is an Error (ExecFileException); its Omit<>-built type hides that from the rule.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    const child = execFile('socat', args, { encoding: 'buffer', timeout: 5000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    child.stdin?.end(input);
  });
}

describe('tcp echo', () => {
  let responder: Responder;
  let registry: Registry;
  let port: number;
  before(async () => {
    registry = new Registry();
    responder = await startResponder(options(), { registry, logger: quiet });
    port = responder.addresses().tcpEcho!.port;
  });
  after(() => responder.close());

  it('reports the real port when port 0 was asked', () => {
    assert.ok(port > 0);
    assert.equal(responder.addresses().tcpEcho!.address, '127.0.0.1');
    assert.equal(responder.addresses().http, undefined);
  });

  it('echoes tcp_ping_prometheus frames from a raw client byte-identical, one at a time', async () => {
    const s = await openTcp(port);
    const got = collector(s);
    const sent: Buffer[] = [];
    for (let seq = 0; seq < 50; seq++) {
      const frame = encodeEchoFrame(BigInt(seq), unixNanosNow());
      sent.push(frame);
      s.write(frame);
      const all = await got.until((seq + 1) * ECHO_FRAME_BYTES);
      const echo = all.subarray(seq * ECHO_FRAME_BYTES, (seq + 1) * ECHO_FRAME_BYTES);
      assert.deepEqual(echo, frame);
      assert.equal(decodeEchoFrame(echo).seq, BigInt(seq));
    }
    assert.equal(got.length, 50 * ECHO_FRAME_BYTES);
    s.destroy();
  });

  it('holds a frame split across writes until it is complete, then echoes it whole', async () => {
    const s = await openTcp(port);
    const got = collector(s);
    const frames = Buffer.concat([encodeEchoFrame(1n, 11n), encodeEchoFrame(2n, 22n), encodeEchoFrame(3n, 33n)]);
    // Pieces that cut frames at every awkward place: 1, 14 (ends 1 byte short), 2, 20, rest.
    const cuts = [0, 1, 15, 17, 37, frames.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      s.write(frames.subarray(cuts[i], cuts[i + 1]));
      await delay(30); // separate TCP segments (client has noDelay)
      // Never a byte of an incomplete frame comes back.
      assert.equal(got.length % ECHO_FRAME_BYTES, 0, `after piece ${i}`);
      assert.ok(got.length <= cuts[i + 1]);
    }
    assert.deepEqual(await got.until(frames.length), frames);
    s.destroy();
  });

  it('echoes coalesced frames (one write of 256 frames) in order', async () => {
    const framesBefore = (await metric(registry, 'fleetprobe_responder_frames_total')) ?? 0;
    const s = await openTcp(port);
    const got = collector(s);
    const frames = Buffer.alloc(256 * ECHO_FRAME_BYTES);
    for (let i = 0; i < 256; i++) encodeEchoFrame(BigInt(i) * 7919n, BigInt(i), frames, i * ECHO_FRAME_BYTES);
    s.write(frames);
    assert.deepEqual(await got.until(frames.length), frames);
    assert.equal(await metric(registry, 'fleetprobe_responder_frames_total'), framesBefore + 256);
    s.destroy();
  });

  it('echoes to socat as an independent client', async () => {
    const frames = Buffer.concat([encodeEchoFrame(42n, 4242n), encodeEchoFrame(43n, 4343n)]);
    const out = await socat(['-t', '1', '-', `TCP:127.0.0.1:${port}`], frames);
    assert.deepEqual(out, frames);
  });

  it('counts a stream that ends inside a frame as malformed, after echoing the whole frames', async () => {
    const before = (await metric(registry, 'fleetprobe_responder_rejected_total', { protocol: 'tcp', reason: 'malformed' })) ?? -1;
    const s = await openTcp(port);
    const got = collector(s);
    const closed = new Promise((r) => s.on('close', r));
    s.end(Buffer.concat([encodeEchoFrame(9n, 9n), Buffer.from('oops')]));
    await closed;
    assert.equal(got.length, ECHO_FRAME_BYTES);
    assert.equal(await metric(registry, 'fleetprobe_responder_rejected_total', { protocol: 'tcp', reason: 'malformed' }), before + 1);
  });

  it('exports connection counts and bytes', async () => {
    const s = await openTcp(port);
    const got = collector(s);
    s.write(encodeEchoFrame(1n, 1n));
    await got.until(16);
    assert.equal(await metric(registry, 'fleetprobe_responder_connections'), 1);
    assert.ok(((await metric(registry, 'fleetprobe_responder_connections_total')) ?? 0) >= 5);
    const frames = (await metric(registry, 'fleetprobe_responder_frames_total'))!;
    assert.equal(await metric(registry, 'fleetprobe_responder_bytes_total', { protocol: 'tcp' }), frames * ECHO_FRAME_BYTES);
    const closed = new Promise((r) => s.on('close', r));
    s.destroy();
    await closed;
    await delay(20);
    assert.equal(await metric(registry, 'fleetprobe_responder_connections'), 0);
    const text = await registry.getSingleMetricAsString('fleetprobe_responder_rejected_total');
    assert.match(text, /fleetprobe_responder_rejected_total\{protocol="tcp",reason="max_connections"\} 0/);
  });
});

describe('tcp echo on IPv6 loopback', () => {
  it('echoes frames over ::1', async (t) => {
    const registry = new Registry();
    let responder: Responder;
    try {
      responder = await startResponder(options({ tcpEcho: { host: '::1', port: 0 }, udpEcho: undefined }), { registry, logger: quiet });
    } catch (err) {
      t.skip(`no IPv6 loopback: ${(err as Error).message}`);
      return;
    }
    try {
      const s = await openTcp(responder.addresses().tcpEcho!.port, '::1');
      const got = collector(s);
      const frame = encodeEchoFrame(6n, 66n);
      s.write(frame);
      assert.deepEqual(await got.until(16), frame);
      s.destroy();
    } finally {
      await responder.close();
    }
  });
});

describe('udp echo', () => {
  let responder: Responder;
  let registry: Registry;
  let port: number;
  before(async () => {
    registry = new Registry();
    responder = await startResponder(options({ tcpEcho: undefined }), { registry, logger: quiet });
    port = responder.addresses().udpEcho!.port;
  });
  after(() => responder.close());

  it('echoes each datagram unchanged, including empty and 8 KiB ones', async () => {
    for (const size of [1, 16, 0, 1400, 8192]) {
      const payload = Buffer.alloc(size);
      for (let i = 0; i < size; i++) payload[i] = (i * 31 + size) & 255;
      const echo = await udpRoundTrip(port, payload, 1000);
      assert.ok(echo, `no echo for ${size} bytes`);
      assert.deepEqual(echo, payload);
    }
    assert.equal(await metric(registry, 'fleetprobe_responder_datagrams_total'), 5);
    assert.equal(await metric(registry, 'fleetprobe_responder_bytes_total', { protocol: 'udp' }), 1 + 16 + 0 + 1400 + 8192);
  });

  it('echoes to socat as an independent client', async () => {
    const out = await socat(['-t', '1', '-', `UDP:127.0.0.1:${port}`], 'hi\n');
    assert.equal(out.toString(), 'hi\n');
  });
});

/**
 * `fleetprobe responder` as a real process: it answers tcp_echo (tcp_ping_prometheus
 * 16-byte frames), UDP echo and HTTP GET /v1/ping on loopback, serves /metrics with
 * the fleetprobe_responder_* counters and no probe series (it probes nothing), and
 * stops cleanly on SIGTERM. Without any listener configured it refuses to start.
 * Needs no privileges.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { ExporterProcess, httpRequest, runCli, tempDir } from '../helpers/exporter-process.js';
import { freePort, portIsFree } from '../helpers/free-port.js';
import { portFreeOnAll, udpPortIsFree } from '../helpers/mesh-ports.js';
import { decodeEchoFrame, ECHO_FRAME_BYTES, encodeEchoFrame, unixNanosNow } from '../../src/protocol/echo-frame.js';

const HOST = '127.0.0.1';

/** Connect, write `chunks` (with a pause between, so they are separate segments), read `expect` bytes back. */
function tcpEchoExchange(port: number, chunks: readonly Buffer[], expect: number, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock: Socket = connect({ host: HOST, port, noDelay: true });
    const got: Buffer[] = [];
    let n = 0;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`tcp echo: ${n}/${expect} bytes back after ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('data', (d: Buffer) => {
      got.push(d);
      n += d.length;
      if (n >= expect) {
        clearTimeout(timer);
        sock.end();
        resolve(Buffer.concat(got));
      }
    });
    sock.once('connect', () => {
      void (async () => {
        for (const c of chunks) {
          sock.write(c);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
    });
  });
}

function udpEchoExchange(port: number, payload: Buffer, timeoutMs = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error(`udp echo: no answer after ${timeoutMs} ms`));
    }, timeoutMs);
    s.on('message', (msg) => {
      clearTimeout(timer);
      s.close();
      resolve(msg);
    });
    s.send(payload, port, HOST);
  });
}

test('responder subcommand echoes frames, datagrams and http pings, exports only responder series, exits 0 on SIGTERM', { timeout: 30_000 }, async (t) => {
  const dir = tempDir('fp-responder-cli');
  const webPort = await freePort();
  const echoPort = await portFreeOnAll([HOST], { udp: true, avoid: [webPort] });
  const httpPort = await portFreeOnAll([HOST], { avoid: [webPort, echoPort] });
  const listen = `${HOST}:${webPort}`;
  const cfg = dir.file('responder.yaml', {
    web: { listen_address: listen },
    responder: { tcp_echo: `${HOST}:${echoPort}`, udp_echo: `${HOST}:${echoPort}`, http: `${HOST}:${httpPort}` },
  });
  const proc = new ExporterProcess(['responder', '--config', cfg], listen);
  t.after(async () => {
    await proc.stop(2000);
    dir.cleanup();
  });
  await proc.waitReady(15_000);

  // A tcp_ping_prometheus-style client: 3 frames coalesced in one write, then one frame
  // split over two writes (the responder must reassemble it), each echoed unchanged.
  const frames = [0n, 1n, 2n, 3n].map((seq) => encodeEchoFrame(seq, unixNanosNow()));
  const sent = Buffer.concat(frames);
  const back = await tcpEchoExchange(echoPort, [sent.subarray(0, 48), sent.subarray(48, 55), sent.subarray(55)], sent.length);
  assert.equal(back.length, 4 * ECHO_FRAME_BYTES, 'exactly the four frames come back');
  assert.deepEqual(back, sent, 'frames are echoed byte for byte, in order');
  assert.deepEqual(
    [0, 1, 2, 3].map((i) => decodeEchoFrame(back, i * ECHO_FRAME_BYTES).seq),
    [0n, 1n, 2n, 3n],
  );

  const datagram = Buffer.from('fleetprobe-udp-echo-0123456789');
  assert.deepEqual(await udpEchoExchange(echoPort, datagram), datagram, 'datagram echoed unchanged');

  const ping = await httpRequest(`http://${HOST}:${httpPort}/v1/ping`);
  assert.equal(ping.status, 200, 'GET /v1/ping answers 200');

  const m = await proc.scrape();
  assert.ok((m.value('fleetprobe_responder_frames_total') ?? 0) >= 4, `frames_total ${m.value('fleetprobe_responder_frames_total')}`);
  assert.ok((m.value('fleetprobe_responder_connections_total') ?? 0) >= 1, 'the connection was counted');
  assert.ok((m.value('fleetprobe_responder_datagrams_total') ?? 0) >= 1, 'datagram counted');
  assert.ok((m.value('fleetprobe_responder_http_requests_total') ?? 0) >= 1, 'http ping counted');
  assert.ok((m.value('fleetprobe_responder_bytes_total', { protocol: 'tcp' }) ?? 0) >= 4 * ECHO_FRAME_BYTES, 'tcp bytes counted');
  const probeSeries = m.parsed.samples.filter((s) => s.name.startsWith('fleetprobe_probe_') || s.labels.target !== undefined);
  assert.deepEqual(
    probeSeries.map((s) => s.name),
    [],
    'a responder probes nothing: no per-target series',
  );
  assert.equal(m.value('fleetprobe_targets', { state: 'configured' }), 0);
  // Served from the responder thread's counters; the loop guards' series exist at zero.
  assert.equal(m.value('fleetprobe_responder_restarts_total'), 0);
  for (const reason of ['self', 'reflector_port', 'rate_limited']) {
    assert.equal(m.value('fleetprobe_responder_rejected_total', { protocol: 'udp', reason }), 0, `udp ${reason}`);
  }

  const status = JSON.parse((await proc.request('/api/v1/status')).text()) as {
    mode: string;
    responder: Record<string, { port: number }> | null;
    responder_thread: { running: boolean; restarts: number } | null;
  };
  assert.equal(status.mode, 'responder');
  assert.equal(status.responder_thread?.running, true);
  assert.equal(status.responder_thread?.restarts, 0);
  assert.equal(status.responder?.tcpEcho?.port, echoPort);
  assert.equal(status.responder?.http?.port, httpPort);

  const exit = await proc.stop(5000);
  assert.equal(exit.killed, false, `stopped by SIGTERM within 5 s (took ${exit.ms} ms)\n${proc.tail()}`);
  assert.equal(exit.code, 0, `exit code 0 after SIGTERM\n${proc.tail()}`);
  // Every listener was closed, not left to the kernel at process exit only.
  assert.ok(await portIsFree(echoPort, HOST), 'tcp echo port released');
  assert.ok(await udpPortIsFree(echoPort, HOST), 'udp echo port released');
  assert.ok(await portIsFree(webPort, HOST), 'web port released');
});

test('responder subcommand without any listener configured exits 2 and says which keys are needed', { timeout: 20_000 }, async (t) => {
  const dir = tempDir('fp-responder-none');
  t.after(() => dir.cleanup());
  const webPort = await freePort();
  const cfg = dir.file('none.yaml', { web: { listen_address: `${HOST}:${webPort}` } });
  const r = await runCli(['responder', '--config', cfg], { timeoutMs: 15_000 });
  assert.equal(r.code, 2, `exit 2 (invalid configuration)\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stderr, /invalid configuration/);
  assert.match(r.stderr, /responder\.tcp_echo.*responder\.udp_echo.*responder\.http/, 'names the keys to set');
  assert.ok(await portIsFree(webPort, HOST), 'nothing was left listening');
});

test('responder subcommand with its port taken exits 1 and names the setting and the address', { timeout: 20_000 }, async (t) => {
  const dir = tempDir('fp-responder-busy');
  const blocker = createSocket('udp4');
  await new Promise<void>((r) => blocker.bind(0, HOST, () => r()));
  t.after(() => {
    blocker.close();
    dir.cleanup();
  });
  const busy = blocker.address().port;
  const webPort = await freePort();
  const cfg = dir.file('busy.yaml', { web: { listen_address: `${HOST}:${webPort}` }, responder: { udp_echo: `${HOST}:${busy}` } });
  const r = await runCli(['responder', '--config', cfg], { timeoutMs: 15_000 });
  assert.equal(r.code, 1, `exit 1 (runtime failure)\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  // One human line on stderr naming the address, the setting and the cause (issue 9).
  assert.match(r.stderr, new RegExp(`^fleetprobe: cannot listen on 127\\.0\\.0\\.1:${busy} \\(responder\\.udp_echo\\): address already in use`));
  assert.ok(await portIsFree(webPort, HOST), 'nothing was left listening');
});

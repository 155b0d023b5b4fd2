/**
 * The responder runs on a thread of its own (issue 6, F14), supervised by the main
 * thread:
 *  - its listeners are not on the caller's thread: peers (another process) probing
 *    tcp_echo, udp and http every 50 ms with a 1 s timeout see no timeout while the
 *    thread that started the responder is blocked solid for 1.5 s;
 *  - a crashed responder thread is restarted on the same ports (port 0 included),
 *    the crash is logged and counted (fleetprobe_responder_restarts_total), and the
 *    counters carry on from where they were (the fault is injected by
 *    test/fixtures/crashing-responder-thread.ts: a magic datagram throws in the
 *    socket callback, like a real bug would).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { encodeEchoFrame } from '../../src/protocol/echo-frame.js';
import { startResponder } from '../../src/responder/index.js';
import { CRASH_PAYLOAD } from '../fixtures/responder-crash-payload.js';
import { loopbackResponderOptions, metricValue as metric, quiet, udpRoundTrip } from '../helpers/responder-setup.js';

const PEERS = fileURLToPath(new URL('../../load-tests/responder-peers.js', import.meta.url));
const CRASHING_THREAD = fileURLToPath(new URL('../fixtures/crashing-responder-thread.js', import.meta.url));

/** A logger that keeps every record. */
function recordingLogger() {
  const records: { level: string; fields: Record<string, unknown>; msg: string | undefined }[] = [];
  const fn = (level: string) => (objOrMsg: unknown, msg?: string) =>
    records.push({
      level,
      fields: typeof objOrMsg === 'object' && objOrMsg !== null ? (objOrMsg as Record<string, unknown>) : {},
      msg: typeof objOrMsg === 'string' ? objOrMsg : msg,
    });
  return { records, logger: { info: fn('info'), warn: fn('warn'), error: fn('error'), debug: fn('debug') } };
}

function openTcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(s));
    s.once('error', reject);
  });
}

function echoFrame(s: Socket, seq: bigint): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 2000);
    s.once('data', () => {
      clearTimeout(timer);
      resolve(true);
    });
    s.write(encodeEchoFrame(seq, seq));
  });
}

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

describe('responder thread', () => {
  it("keeps answering its peers while the caller's thread is blocked", async () => {
    const registry = new Registry();
    const responder = await startResponder(loopbackResponderOptions(), { registry, logger: quiet });
    try {
      const { tcpEcho, udpEcho, http } = responder.addresses();
      // Peers in another process: a probe every 50 ms per protocol, 1 s timeout, for 3 s.
      const peers = spawn(
        process.execPath,
        [PEERS, '--host', '127.0.0.1', '--tcp-echo', String(tcpEcho!.port), '--udp', String(udpEcho!.port), '--http', String(http!.port), '--duration', '3s'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      peers.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      const exited = new Promise<number | null>((r) => peers.once('exit', (code) => r(code)));
      const kill = setTimeout(() => peers.kill('SIGKILL'), 20_000);
      await new Promise<void>((r) => peers.stderr.once('data', () => r())); // "probing"
      await delay(300);
      // Block this thread (the one that started the responder) solid for 1.5 s.
      const until = performance.now() + 1500;
      while (performance.now() < until) {
        /* busy: a scrape storm, a huge reload... */
      }
      assert.equal(await exited, 0);
      clearTimeout(kill);
      const tally = JSON.parse(out) as Record<string, { sent: number; answered: number; timeouts: number; errors: number; maxRttMs: number }>;
      for (const [proto, t] of Object.entries(tally)) {
        assert.ok(t.sent >= 30, `${proto}: ${t.sent} probes sent`);
        assert.equal(
          t.timeouts,
          0,
          `${proto}: ${t.timeouts} of ${t.sent} probes timed out while this thread was blocked (max RTT ${t.maxRttMs.toFixed(0)} ms)`,
        );
        assert.equal(t.errors, 0, `${proto}: errors`);
        assert.equal(t.answered, t.sent);
      }
    } finally {
      await responder.close();
    }
  });

  it('restarts a crashed thread on the same ports, logs and counts it, and the counters carry on', async () => {
    const registry = new Registry();
    const { records, logger } = recordingLogger();
    const responder = await startResponder(loopbackResponderOptions(), { registry, logger, thread: { filename: CRASHING_THREAD, restartMinMs: 50 } });
    try {
      const before = responder.addresses();
      const udpPort = before.udpEcho!.port;
      const tcpPort = before.tcpEcho!.port;
      // Traffic before the crash.
      for (let i = 0; i < 3; i++) assert.ok(await udpRoundTrip(udpPort, Buffer.from(`before ${i}`), 1000));
      const conn = await openTcp(tcpPort);
      assert.equal(await echoFrame(conn, 1n), true);
      assert.equal(await echoFrame(conn, 2n), true);
      const connClosed = new Promise<void>((r) => conn.on('close', () => r()));
      conn.on('error', () => {});
      assert.equal(await metric(registry, 'fleetprobe_responder_datagrams_total'), 3);
      assert.equal(await metric(registry, 'fleetprobe_responder_frames_total'), 2);
      assert.equal(await metric(registry, 'fleetprobe_responder_connections'), 1);
      assert.equal(await metric(registry, 'fleetprobe_responder_restarts_total'), 0);

      // The fault: an uncaught exception in the thread.
      await udpRoundTrip(udpPort, Buffer.from(CRASH_PAYLOAD), 200);
      await waitUntil('the restart', () => responder.status().restarts === 1 && responder.status().running);
      await connClosed; // its connections died with it

      assert.deepEqual(responder.addresses(), before, 'same addresses');
      assert.equal(await metric(registry, 'fleetprobe_responder_restarts_total'), 1);
      assert.equal(await metric(registry, 'fleetprobe_responder_connections'), 0, 'no connection survived the crash');
      const crash = records.find((r) => r.level === 'error' && r.msg === 'responder thread exited; restarting it');
      assert.ok(crash, `the crash is logged: ${JSON.stringify(records.map((r) => r.msg))}`);
      assert.match(String((crash.fields.err as Error).message), /injected responder thread crash/);
      assert.ok(records.some((r) => r.level === 'info' && r.msg === 'responder thread restarted and listening again'));

      // The same (port-0-chosen) ports answer, and the counters continue from 3 and 2.
      for (let i = 0; i < 2; i++) assert.ok(await udpRoundTrip(udpPort, Buffer.from(`after ${i}`), 1000), 'udp answered after restart');
      const again = await openTcp(tcpPort);
      assert.equal(await echoFrame(again, 3n), true, 'tcp echo answered after restart');
      again.destroy();
      assert.equal(await metric(registry, 'fleetprobe_responder_datagrams_total'), 5, 'datagrams carried on (3 + 2)');
      assert.equal(await metric(registry, 'fleetprobe_responder_frames_total'), 3, 'frames carried on (2 + 1)');
      assert.equal(await metric(registry, 'fleetprobe_responder_connections_total'), 2);

      // A second crash: counted again, served again.
      await udpRoundTrip(udpPort, Buffer.from(CRASH_PAYLOAD), 200);
      await waitUntil('the second restart', () => responder.status().restarts === 2 && responder.status().running);
      assert.ok(await udpRoundTrip(udpPort, Buffer.from('after the second'), 1000));
      assert.equal(await metric(registry, 'fleetprobe_responder_datagrams_total'), 6);
      assert.equal(await metric(registry, 'fleetprobe_responder_restarts_total'), 2);
    } finally {
      await responder.close();
    }
    assert.equal(responder.status().running, false);
  });
});

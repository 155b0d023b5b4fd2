/**
 * tcp_echo prober against real TCP on loopback: in-test echo servers that misbehave in
 * controlled ways (split/coalesced frames, foreign sequences, duplicates, slow echoes,
 * restarts) and socat as an independent echo server.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { test } from 'node:test';
import { DropReason, ErrorReason, ProbeEvent } from '../../src/protocol/events.js';
import { RecordingSink, sleep } from '../fixtures/recording-sink.js';
import { shardTarget, TEST_SETTINGS } from '../fixtures/shard-target.js';
import { tcpEchoProberFactory } from '../../workers/probes/tcp-echo.js';

type Handler = (c: net.Socket) => void;

async function startServer(handler: Handler, port = 0): Promise<{ server: net.Server; port: number; conns: Set<net.Socket> }> {
  const conns = new Set<net.Socket>();
  const server = net.createServer((c) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
    c.on('error', () => {});
    handler(c);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, port: (server.address() as net.AddressInfo).port, conns };
}

async function stopServer(s: { server: net.Server; conns: Set<net.Socket> }): Promise<void> {
  for (const c of s.conns) c.destroy();
  await new Promise((r) => s.server.close(r));
}

const echo: Handler = (c) => c.pipe(c);

/** sent = replies + timeouts + errors, once nothing is in flight. */
function assertBooksBalance(sink: RecordingSink, slot: number): void {
  assert.equal(sink.outstanding(slot), 0, `books: ${sink.summary()}`);
}

test('tcp_echo: frames echoed by a server are replies; connection recorded as established and up', async () => {
  const srv = await startServer(echo);
  const sink = new RecordingSink();
  const p = tcpEchoProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('tcp_echo', { slot: 2, port: srv.port }));
  await sink.until(() => sink.records(ProbeEvent.Connected, 2).length === 1, 2000, 'connected');
  for (let i = 0; i < 10; i++) {
    p.probe(2);
    await sleep(10);
  }
  await sink.until(() => sink.count('reply', 2) === 10, 2000, '10 replies');
  assertBooksBalance(sink, 2);
  const connects = sink.records(ProbeEvent.Connect, 2);
  assert.equal(connects.length, 1);
  assert.ok(connects[0].value >= 0 && connects[0].value < 1);
  assert.equal(sink.records(ProbeEvent.Connected, 2)[0].aux, 1);
  for (const r of sink.of('reply', 2)) assert.ok(r.value > 0 && r.value < 0.1, `rtt ${r.value}`);
  assert.equal(sink.count('dropped'), 0);
  await p.close();
  await stopServer(srv);
});

test('tcp_echo: frames split across reads and coalesced into one read are reassembled', async () => {
  // The server holds the frames and returns 4 of them as: 5 bytes, 27 bytes, 1 byte, 31 bytes.
  const srv = await startServer((c) => {
    let held = Buffer.alloc(0);
    c.on('data', (d: Buffer) => {
      held = Buffer.concat([held, d]);
      if (held.length < 64) return;
      const all = held;
      held = Buffer.alloc(0);
      void (async () => {
        for (const [a, b] of [
          [0, 5],
          [5, 32],
          [32, 33],
          [33, 64],
        ]) {
          c.write(all.subarray(a, b));
          await sleep(15);
        }
      })();
    });
  });
  const sink = new RecordingSink();
  const p = tcpEchoProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('tcp_echo', { slot: 3, port: srv.port, timeoutMs: 2000 }));
  await sink.until(() => sink.records(ProbeEvent.Connected, 3).length === 1);
  for (let i = 0; i < 4; i++) {
    p.probe(3);
    await sleep(5);
  }
  await sink.until(() => sink.outstanding(3) === 0, 3000, 'all 4 answered');
  assert.equal(sink.count('reply', 3), 4);
  assert.equal(sink.count('dropped'), 0);
  // The first frame completed only with the second write, 15 ms after the first one.
  const rtts = sink.of('reply', 3).map((r) => r.value);
  assert.ok(rtts[0] >= 0.014, `rtts ${rtts.join(',')}`);
  await p.close();
  await stopServer(srv);
});

test('tcp_echo: an echoed frame with a sequence never sent is dropped as garbage; a second copy is a duplicate', async () => {
  const srv = await startServer((c) => {
    c.on('data', (d: Buffer) => {
      for (let off = 0; off + 16 <= d.length; off += 16) {
        const f = Buffer.from(d.subarray(off, off + 16));
        c.write(f); // the real echo
        c.write(f); // a duplicate
        const forged = Buffer.from(f);
        forged.writeBigUInt64BE(f.readBigUInt64BE(0) + 1000n, 0); // a sequence we never sent
        c.write(forged);
      }
    });
  });
  const sink = new RecordingSink();
  const p = tcpEchoProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('tcp_echo', { slot: 4, port: srv.port }));
  await sink.until(() => sink.records(ProbeEvent.Connected, 4).length === 1);
  p.probe(4);
  await sink.until(() => sink.count('dropped') === 1 && sink.count('duplicate', 4) === 1, 2000);
  assert.equal(sink.count('reply', 4), 1);
  assert.equal(sink.of('dropped')[0].code, DropReason.garbage);
  assertBooksBalance(sink, 4);
  await p.close();
  await stopServer(srv);
});

test('tcp_echo: an echo slower than the timeout is a timeout, then counted late', async () => {
  const srv = await startServer((c) => {
    c.on('data', (d: Buffer) => {
      setTimeout(() => c.write(d), 250);
    });
  });
  const sink = new RecordingSink();
  const p = tcpEchoProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('tcp_echo', { slot: 5, port: srv.port, timeoutMs: 100 }));
  await sink.until(() => sink.records(ProbeEvent.Connected, 5).length === 1);
  p.probe(5);
  await sink.until(() => sink.count('timeout', 5) === 1, 1000, 'timeout');
  const sentAt = sink.of('sent', 5)[0].at;
  const timedOutAt = sink.of('timeout', 5)[0].at;
  assert.ok(timedOutAt - sentAt >= 99 && timedOutAt - sentAt < 180, `timeout after ${timedOutAt - sentAt} ms`);
  await sink.until(() => sink.count('late', 5) === 1, 1000, 'late');
  assert.ok(sink.of('late', 5)[0].value >= 0.24);
  assert.equal(sink.count('reply', 5), 0);
  assertBooksBalance(sink, 5);
  await p.close();
  await stopServer(srv);
});

test('tcp_echo: reconnects after the server restarts (connects 1→2, connected 1→0→1); probes while down are errors', async () => {
  let srv = await startServer(echo);
  const port = srv.port;
  const sink = new RecordingSink();
  const p = tcpEchoProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('tcp_echo', { slot: 6, port, timeoutMs: 300 }, { reconnect_max_backoff: '200ms' }));
  await sink.until(() => sink.records(ProbeEvent.Connected, 6).length === 1);
  p.probe(6);
  await sink.until(() => sink.count('reply', 6) === 1);

  await stopServer(srv);
  await sink.until(() => sink.records(ProbeEvent.Connected, 6).length === 2, 2000, 'down');
  assert.deepEqual(
    sink.records(ProbeEvent.Connected, 6).map((r) => r.aux),
    [1, 0],
  );
  await sleep(50);
  p.probe(6); // while down: nothing listens, so the reconnects are refused
  p.probe(6);
  await sink.until(() => sink.count('error', 6) === 2);
  for (const r of sink.errors(6)) assert.ok(r === ErrorReason.refused || r === ErrorReason.closed, `reason ${r}`);

  srv = await startServer(echo, port);
  await sink.until(() => sink.records(ProbeEvent.Connected, 6).length === 3, 3000, 'up again');
  assert.deepEqual(
    sink.records(ProbeEvent.Connected, 6).map((r) => r.aux),
    [1, 0, 1],
  );
  assert.equal(sink.records(ProbeEvent.Connect, 6).length, 2);
  p.probe(6);
  await sink.until(() => sink.count('reply', 6) === 2);
  assertBooksBalance(sink, 6);
  await p.close();
  await stopServer(srv);
});

test('tcp_echo: probes in flight when the peer closes fail with closed (FIN) or reset (RST)', async () => {
  const srv = await startServer((c) => c.resume()); // reads, never echoes
  const sink = new RecordingSink();
  const p = tcpEchoProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('tcp_echo', { slot: 12, port: srv.port, timeoutMs: 5000 }, { reconnect_min_backoff: '50ms' }));
  await sink.until(() => sink.records(ProbeEvent.Connected, 12).length === 1);
  p.probe(12);
  p.probe(12);
  await sink.until(() => srv.conns.size === 1);
  await sleep(20);
  for (const c of srv.conns) c.end(); // orderly close
  await sink.until(() => sink.count('error', 12) === 2, 2000, 'errors on close');
  assert.deepEqual(sink.errors(12), [ErrorReason.closed, ErrorReason.closed]);
  await sink.until(() => sink.records(ProbeEvent.Connected, 12).length === 3, 2000, 'reconnected');
  p.probe(12);
  await sleep(20);
  for (const c of srv.conns) c.resetAndDestroy(); // abortive close
  await sink.until(() => sink.count('error', 12) === 3, 2000, 'error on reset');
  assert.equal(sink.errors(12)[2], ErrorReason.reset);
  assert.equal(sink.count('timeout', 12), 0);
  assertBooksBalance(sink, 12);
  await p.close();
  await stopServer(srv);
});

test('tcp_echo: a target whose port is closed reports refused once the first connect fails; nothing sent before', async () => {
  const tmp = await startServer(() => {});
  const port = tmp.port;
  await stopServer(tmp);
  const sink = new RecordingSink();
  const p = tcpEchoProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('tcp_echo', { slot: 8, port }, { reconnect_max_backoff: '100ms' }));
  p.probe(8); // first connect still pending: skipped, not counted as loss
  assert.equal(sink.count('sent', 8), 0);
  await sleep(100);
  p.probe(8);
  p.probe(8);
  assert.deepEqual(sink.errors(8), [ErrorReason.refused, ErrorReason.refused]);
  assert.equal(sink.records(ProbeEvent.Connected, 8).length, 0);
  assertBooksBalance(sink, 8);
  await p.close();
});

test('tcp_echo: remove() while connected forgets in-flight probes and closes the connection', async () => {
  const srv = await startServer((c) => c.resume()); // reads, never echoes
  const sink = new RecordingSink();
  const p = tcpEchoProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('tcp_echo', { slot: 9, port: srv.port, timeoutMs: 100 }));
  await sink.until(() => sink.records(ProbeEvent.Connected, 9).length === 1);
  p.probe(9);
  p.remove(9);
  await sleep(200);
  assert.equal(sink.count('timeout', 9) + sink.count('error', 9), 0);
  await sink.until(() => srv.conns.size === 0, 1000, 'server side closed');
  await p.close();
  await stopServer(srv);
});

test('tcp_echo: works against an independent echo server (socat PIPE) with many frames', async (t) => {
  const tmp = await startServer(() => {});
  const port = tmp.port;
  await stopServer(tmp);
  const kid: ChildProcess = spawn('socat', [`TCP4-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, 'PIPE'], { stdio: 'ignore' });
  t.after(() => kid.kill('SIGTERM'));
  await sleep(300);
  const sink = new RecordingSink();
  const p = tcpEchoProberFactory(sink, TEST_SETTINGS);
  p.add(shardTarget('tcp_echo', { slot: 10, port, intervalMs: 5, timeoutMs: 1000 }));
  await sink.until(() => sink.records(ProbeEvent.Connected, 10).length === 1, 3000);
  for (let i = 0; i < 200; i++) {
    p.probe(10);
    if (i % 20 === 0) await sleep(1);
  }
  await sink.until(() => sink.outstanding(10) === 0, 3000);
  assert.equal(sink.count('reply', 10), 200);
  assert.equal(sink.count('dropped') + sink.count('duplicate', 10) + sink.count('late', 10), 0);
  await p.close();
});

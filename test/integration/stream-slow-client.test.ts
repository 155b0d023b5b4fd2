/**
 * Slow stream clients are dropped and never slow anything else: the real exporter
 * probes 10,000 ICMP targets on 127.0.0.0/8 (1 s interval) while
 *  - a raw TCP client subscribes to every target over SSE, reads through the initial
 *    states, then stops reading (its kernel buffers fill, then the server's backlog);
 *  - a gRPC client subscribes to 2,000 targets, takes the initial states, then pauses;
 *  - one SSE and one gRPC client watch a group of 100 targets and keep reading.
 * Both slow clients must be dropped (buffer_full), the reading ones must go on getting
 * results after that, probing must keep its rate, and nothing is lost on loopback
 * (timeouts and errors stay 0: no false loss). The dropped SSE client, reading again,
 * finds `event: dropped` at the end of its stream. Needs root (raw ICMP sockets).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { status as Status } from '@grpc/grpc-js';
import { ExporterProcess, NEEDS_ROOT, tempDir, waitFor, type Metrics } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { SseClient } from '../helpers/sse-client.js';
import { Subscription, telemetryClient } from '../helpers/grpc-client.js';
import { loopbackAddresses } from '../../load-tests/loopback-fleet.js';

const N = 10_000;
const GROUPS = 100;
/** The default stream.max_buffer_bytes (1 MiB), written out so the test says what it exercises. */
const MAX_BUFFER = 1024 * 1024;

/** A raw HTTP/1.1 client that reads the SSE stream until told to stop reading. */
class RawSseClient {
  text = '';
  ended = false;
  readonly socket;
  readonly closed: Promise<void>;
  constructor(host: string, port: number, path: string) {
    this.socket = connect({ host, port });
    this.socket.setEncoding('latin1');
    this.socket.on('data', (s: string) => {
      this.text += s;
    });
    this.closed = new Promise((resolve) => {
      const done = (): void => {
        this.ended = true;
        resolve();
      };
      this.socket.on('end', done);
      this.socket.on('close', done);
      this.socket.on('error', done);
    });
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\n\r\n`);
  }
}

const sum = (m: Metrics, name: string): number => m.sum(name);

test(
  'slow SSE and gRPC clients are dropped while 10,000 targets are probed, with no false loss and the others served',
  { skip: NEEDS_ROOT, timeout: 150_000 },
  async (t) => {
    const dir = tempDir('fp-slow');
    let exp: ExporterProcess | undefined;
    let client: ReturnType<typeof telemetryClient> | undefined;
    const raws: RawSseClient[] = [];
    const sses: SseClient[] = [];
    t.after(async () => {
      for (const r of raws) r.socket.destroy();
      for (const s of sses) s.close();
      client?.close();
      await exp?.stop(5000);
      dir.cleanup();
    });
    const targetsFile = dir.file(
      'targets.json',
      loopbackAddresses(N).map((address, i) => ({ name: `t${i}`, address, labels: { group: `g${i % GROUPS}` } })),
    );
    const webPort = await freePort();
    const grpcPort = await freePort();
    const listen = `127.0.0.1:${webPort}`;
    const cfg = dir.file('c.yaml', {
      workers: 2,
      log: { level: 'warn' },
      web: { listen_address: listen },
      grpc: { listen_address: `127.0.0.1:${grpcPort}` },
      probe_defaults: { interval: '1s', timeout: '1s' },
      stream: { max_buffer_bytes: MAX_BUFFER, state_interval: '5s' },
      target_files: [targetsFile],
    });
    exp = new ExporterProcess(['run', '--config', cfg], listen);
    await exp.waitReady(60_000);
    client = telemetryClient(`127.0.0.1:${grpcPort}`);

    // The readers: 100 targets each.
    const reader = new SseClient(`${exp.url}/api/v1/stream?label=group=g7`);
    sses.push(reader);
    const grpcReader = Subscription.open(client, undefined, { subscribe: { mode: 'STREAM', labels: [{ name: 'group', value: 'g8' }] } });
    await reader.response;
    assert.equal(reader.status, 200);
    await reader.until("the reader's initial states", () => reader.of('sync').length === 1, 20_000);
    await grpcReader.until("the gRPC reader's initial states", () => grpcReader.of('sync_response').length === 1, 20_000);

    // The slow ones: every target; they read the initial 10,000 states, then stop.
    const slow = new RawSseClient('127.0.0.1', webPort, '/api/v1/stream');
    raws.push(slow);
    await waitFor('the slow SSE client to get through its initial states', () => slow.text.includes('event: sync\n'), 60_000, 20);
    slow.socket.pause();
    // 2,000 targets (20 groups): enough to fill its HTTP/2 window and backlog in seconds,
    // few enough for the test's own gRPC client to take the initial states in time.
    const slowGroups = Array.from({ length: 20 }, (_, i) => ({ name: 'group', value: `g${50 + i}` }));
    const grpcSlow = Subscription.open(client, undefined, { subscribe: { mode: 'STREAM', labels: slowGroups } });
    await grpcSlow.until("the slow gRPC client's initial states", () => grpcSlow.of('sync_response').length === 1, 60_000);
    grpcSlow.call.pause();

    const m0 = await exp.scrape();
    const t0 = Date.now();
    const dropCount = (m: Metrics, transport: string): number | undefined =>
      m.value('fleetprobe_stream_dropped_clients_total', { transport, reason: 'buffer_full' });
    await waitFor('the slow SSE client to be dropped (buffer_full)', async () => dropCount(await exp.scrape(), 'sse') === 1, 60_000, 100);
    // The dropped SSE client reads again at once (within the server's grace before it
    // cuts the socket): what was queued, then the last event, then the end (the last
    // HTTP chunk: the raw client sees the chunked framing).
    slow.socket.resume();
    await Promise.race([slow.closed, new Promise((r) => setTimeout(r, 10_000))]);
    assert.ok(slow.ended, 'the dropped SSE connection is closed');
    assert.match(slow.text, /event: dropped\ndata: \{"reason":"buffer_full"\}\n\n\r\n(0\r\n\r\n)?$/, `tail: ${JSON.stringify(slow.text.slice(-300))}`);
    const dropped = await waitFor(
      'the slow gRPC client to be dropped (buffer_full)',
      async () => {
        const m = await exp.scrape();
        return dropCount(m, 'grpc') === 1 && m;
      },
      60_000,
      250,
    );
    grpcSlow.call.resume();
    const slowStatus = await grpcSlow.ended(10_000);
    assert.equal(slowStatus.code, Status.RESOURCE_EXHAUSTED, slowStatus.details);
    assert.equal(dropped.value('fleetprobe_stream_clients', { transport: 'sse' }), 1);
    assert.equal(dropped.value('fleetprobe_stream_clients', { transport: 'grpc' }), 1);

    // The readers go on: 5 more seconds of results for their group.
    const readerBefore = reader.of('result').length;
    const grpcBefore = grpcReader.of('result').length;
    await new Promise((r) => setTimeout(r, 5000));
    const readerGot = reader.of('result').length - readerBefore;
    const grpcGot = grpcReader.of('result').length - grpcBefore;
    // 100 targets at 1/s for 5 s: ~500 each; wide margin for a loaded machine.
    assert.ok(readerGot >= 300, `SSE reader got ${readerGot} results in 5 s after the drops`);
    assert.ok(grpcGot >= 300, `gRPC reader got ${grpcGot} results in 5 s after the drops`);
    assert.ok(
      reader.of('result').every((e) => Number((e.json!.target as string).slice(1)) % GROUPS === 7),
      'only its group',
    );
    assert.ok(reader.of('result').every((e) => e.json!.outcome === 'reply'));
    assert.ok(grpcReader.of('result').every((r) => r.result.outcome === 'REPLY'));

    // Probing kept its pace and lost nothing (on loopback every loss is false loss).
    const m1 = await exp.scrape();
    const seconds = (Date.now() - t0) / 1000;
    const rate = (sum(m1, 'fleetprobe_probe_sent_total') - sum(m0, 'fleetprobe_probe_sent_total')) / seconds;
    // Wide margin: other work on a shared machine delays probes too; a stall would show as far less.
    assert.ok(rate >= 0.5 * N, `probes/s while the slow clients were dropped: ${rate.toFixed(0)}`);
    assert.equal(sum(m1, 'fleetprobe_probe_timeouts_total'), 0, 'no timeouts on loopback');
    assert.equal(sum(m1, 'fleetprobe_probe_errors_total'), 0, 'no errors on loopback');
    assert.ok(sum(m1, 'fleetprobe_probe_received_total') >= 0.9 * sum(m1, 'fleetprobe_probe_sent_total') - 2 * N, 'replies keep up with sends');
  },
);

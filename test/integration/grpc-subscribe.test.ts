/**
 * gRPC fleetprobe.v1.Telemetry/Subscribe against the real exporter (a child process
 * probing ICMP on 127.0.0.0/8), with a client built from the shipped .proto:
 * ONCE, STREAM and POLL, NOT_FOUND, INVALID_ARGUMENT, UNAUTHENTICATED,
 * RESOURCE_EXHAUSTED, server reflection (what grpcurl uses), and UNAVAILABLE on
 * SIGTERM. Needs root (raw ICMP sockets).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { status as Status, Metadata } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { ExporterProcess, NEEDS_ROOT, tempDir, waitFor } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { bearer, reflectionClient, Subscription, telemetryClient, type Message } from '../helpers/grpc-client.js';

const TOKEN = 'grpc-test-token-abcdef';
const dir = tempDir('fp-grpc');
let exp: ExporterProcess;
let grpcAddress: string;
let client: ReturnType<typeof telemetryClient>;
const md = (): Metadata => bearer(TOKEN);

before(async () => {
  if (NEEDS_ROOT) return;
  const webPort = await freePort();
  const grpcPort = await freePort();
  const listen = `127.0.0.1:${webPort}`;
  grpcAddress = `127.0.0.1:${grpcPort}`;
  const cfg = dir.file('c.yaml', {
    workers: 2,
    flush_interval: '100ms',
    web: { listen_address: listen },
    probe_defaults: { interval: '200ms', timeout: '1s' },
    api: { token: TOKEN, require_token_for_reads: true },
    stream: { max_clients: 4, state_interval: '1s' },
    targets: [
      { name: 'a', address: '127.0.0.21', labels: { rack: 'r1' } },
      { name: 'b', address: '127.0.0.22', labels: { rack: 'r2' } },
      { name: 'c', address: '127.0.0.23', labels: { rack: 'r1' } },
    ],
  });
  exp = new ExporterProcess(['run', '--config', cfg, '--grpc.listen-address', grpcAddress], listen);
  await exp.waitReady(15_000);
  client = telemetryClient(grpcAddress);
  await waitFor(
    'a few probes of every target',
    async () => {
      const m = await exp.scrape();
      return ['a', 'b', 'c'].every((t) => m.value('fleetprobe_probe_received_total', { target: t })! >= 3);
    },
    10_000,
  );
});
after(async () => {
  client?.close();
  await exp?.stop(3000);
  dir.cleanup();
});

const summary = (r: Message): string => `${r.response}:${r.target}`;

test('reflection lists the service and serves its descriptors and their imports (what grpcurl needs)', { skip: NEEDS_ROOT, timeout: 15_000 }, async () => {
  const rc = reflectionClient(grpcAddress);
  const ask = async (requests: Message[]): Promise<Message[]> => {
    const call = rc.ServerReflectionInfo();
    const answers: Message[] = [];
    call.on('data', (m: Message) => answers.push(m));
    const ended = new Promise<void>((resolve, reject) => {
      call.on('end', resolve);
      call.on('error', reject);
    });
    for (const r of requests) call.write(r);
    call.end();
    await ended;
    return answers;
  };
  const decode = (b: Buffer) =>
    descriptor.FileDescriptorProto.decode(b) as unknown as {
      name: string;
      package: string;
      dependency: string[];
      service: { name: string; method: { name: string; clientStreaming: boolean; serverStreaming: boolean }[] }[];
      messageType: { name: string }[];
    };
  try {
    const [list, bySymbol] = await ask([{ list_services: '' }, { file_containing_symbol: 'fleetprobe.v1.Telemetry' }]);
    const services = (list.list_services_response.service as { name: string }[]).map((s) => s.name);
    assert.ok(services.includes('fleetprobe.v1.Telemetry'), services.join());
    const raw = bySymbol.file_descriptor_response.file_descriptor_proto as Buffer[];
    const files = raw.map(decode);
    const tele = files.find((f) => f.package === 'fleetprobe.v1');
    assert.ok(tele, JSON.stringify(files.map((f) => f.name)));
    const svc = tele.service.find((x) => x.name === 'Telemetry');
    assert.deepEqual(
      svc?.method.map((m) => [m.name, m.clientStreaming, m.serverStreaming]),
      [['Subscribe', true, true]],
    );
    // grpcurl then asks for the file by the name reflection gave it, and for its imports (none).
    const [byName] = await ask([{ file_by_filename: tele.name }]);
    assert.ok((byName.file_descriptor_response.file_descriptor_proto as Buffer[]).map(decode).some((f) => f.package === 'fleetprobe.v1'));
    assert.deepEqual(tele.dependency, []);
    // A dynamic client built from the reflected descriptors alone resolves every type
    // and round-trips what the server sends.
    const root = (protobuf.Root as unknown as { fromDescriptor(d: unknown): protobuf.Root }).fromDescriptor(
      descriptor.FileDescriptorSet.fromObject({ file: raw.map((b) => descriptor.FileDescriptorProto.decode(b)) }),
    );
    root.resolveAll();
    const Response = root.lookupType('fleetprobe.v1.SubscribeResponse');
    const s = Subscription.open(client, md(), { subscribe: { mode: 'ONCE', targets: ['a'] } });
    await s.ended();
    const sent = s.responses[0].state;
    const bytes = Buffer.from(Response.encode(Response.fromObject({ target: 'a', state: { ...sent, errors: [{ reason: 'refused', count: 2 }] } })).finish());
    const back = Response.toObject(Response.decode(bytes), { longs: Number });
    assert.deepEqual(back.state.labels, [{ name: 'rack', value: 'r1' }]);
    assert.deepEqual(back.state.errors, [{ reason: 'refused', count: 2 }]);
    assert.equal(back.state.sent, sent.sent);
    assert.equal(back.state.timeUnixNano ?? back.state.time_unix_nano, sent.time_unix_nano);
  } finally {
    rc.close();
  }
});

test('ONCE: the state of each selected target, a sync_response, then status OK', { skip: NEEDS_ROOT, timeout: 15_000 }, async () => {
  const s = Subscription.open(client, md(), { subscribe: { mode: 'ONCE', targets: ['c', 'a'] } });
  const st = await s.ended();
  assert.equal(st.code, Status.OK, st.details);
  assert.deepEqual(s.responses.map(summary), ['state:a', 'state:c', 'sync_response:']);
  const a = s.responses[0].state;
  assert.equal(a.kind, 'icmp');
  assert.equal(a.address, '127.0.0.21');
  assert.deepEqual(a.labels, [{ name: 'rack', value: 'r1' }]);
  assert.deepEqual(a.errors, []);
  assert.ok(a.sent >= 3 && a.received >= 3 && a.timeouts === 0, JSON.stringify(a));
  assert.ok(a.last_rtt_seconds > 0 && a.last_rtt_seconds < 0.1);
  assert.ok(Math.abs(a.time_unix_nano / 1e9 - Date.now() / 1000) < 30, String(a.time_unix_nano));

  const all = Subscription.open(client, md(), { subscribe: { mode: 'ONCE' } });
  assert.equal((await all.ended()).code, Status.OK);
  assert.deepEqual(
    all.of('state').map((r) => r.target),
    ['a', 'b', 'c'],
    'no selection: every target',
  );

  const byLabel = Subscription.open(client, md(), {
    subscribe: {
      mode: 'ONCE',
      labels: [
        { name: 'rack', value: 'r2' },
        { name: 'kind', value: 'icmp' },
      ],
    },
  });
  assert.equal((await byLabel.ended()).code, Status.OK);
  assert.deepEqual(
    byLabel.of('state').map((r) => r.target),
    ['b'],
  );
});

test(
  'STREAM: states, sync_response, then every result of the selected targets as it comes, and states again',
  { skip: NEEDS_ROOT, timeout: 20_000 },
  async () => {
    const s = Subscription.open(client, md(), { subscribe: { mode: 'STREAM', labels: [{ name: 'rack', value: 'r1' }] } });
    await s.until('sync', () => s.of('sync_response').length === 1, 5000);
    assert.deepEqual(s.responses.slice(0, 3).map(summary), ['state:a', 'state:c', 'sync_response:']);
    await s.until(
      '10 results of a and c and a second state of each',
      () => {
        const r = s.of('result').map((x) => x.target);
        const st = s.of('state').map((x) => x.target);
        return (
          r.filter((t) => t === 'a').length >= 10 &&
          r.filter((t) => t === 'c').length >= 10 &&
          st.filter((t) => t === 'a').length >= 2 &&
          st.filter((t) => t === 'c').length >= 2
        );
      },
      10_000,
    );
    for (const r of s.of('result')) {
      assert.ok(r.target === 'a' || r.target === 'c', r.target);
      assert.equal(r.result.kind, 'icmp');
      assert.equal(r.result.outcome, 'REPLY');
      assert.ok(r.result.rtt_seconds > 0 && r.result.rtt_seconds < 0.1);
      assert.equal(r.result.reason, '');
    }
    assert.equal((await exp.scrape()).value('fleetprobe_stream_clients', { transport: 'grpc' }), 1);
    s.call.cancel();
    assert.equal((await s.ended()).code, Status.CANCELLED);
    await waitFor('the cancelled call to be gone', async () => (await exp.scrape()).value('fleetprobe_stream_clients', { transport: 'grpc' }) === 0, 5000);
  },
);

test('POLL: the current states on subscribe and on every poll; half-close ends with OK', { skip: NEEDS_ROOT, timeout: 15_000 }, async () => {
  const s = Subscription.open(client, md(), { subscribe: { mode: 'POLL', targets: ['b'] } });
  await s.until('first answer', () => s.of('sync_response').length === 1, 5000);
  const first = s.of('state')[0].state.sent as number;
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(s.responses.length, 2, 'nothing between polls');
  s.call.write({ poll: {} });
  await s.until('answer to the poll', () => s.of('sync_response').length === 2, 5000);
  assert.deepEqual(s.responses.map(summary), ['state:b', 'sync_response:', 'state:b', 'sync_response:']);
  assert.ok((s.of('state')[1].state.sent as number) > first, 'the poll reads the state now');
  s.call.end();
  assert.equal((await s.ended()).code, Status.OK);
});

test('NOT_FOUND names unknown targets; a selection matching nothing is NOT_FOUND too', { skip: NEEDS_ROOT, timeout: 10_000 }, async () => {
  const s = Subscription.open(client, md(), { subscribe: { mode: 'STREAM', targets: ['a', 'nope', 'other'] } });
  const st = await s.ended();
  assert.equal(st.code, Status.NOT_FOUND);
  assert.match(st.details, /unknown targets: nope, other/);
  assert.equal(s.responses.length, 0);
  const l = Subscription.open(client, md(), { subscribe: { mode: 'ONCE', labels: [{ name: 'rack', value: 'r9' }] } });
  const ls = await l.ended();
  assert.equal(ls.code, Status.NOT_FOUND);
  assert.match(ls.details, /no target matches labels rack=r9/);
});

test('INVALID_ARGUMENT for malformed requests, with every problem named', { skip: NEEDS_ROOT, timeout: 15_000 }, async () => {
  const cases: [string, (s: Subscription) => void, RegExp][] = [
    ['poll first', (s) => s.call.write({ poll: {} }), /first message must carry "subscribe"/],
    [
      'unknown mode and bad matchers',
      (s) => s.call.write({ subscribe: { mode: 7, targets: [''], labels: [{ name: 'target', value: 'a' }] } }),
      /mode 7 .*; targets\[0\] is empty; labels\[0\]: .*cannot be matched/,
    ],
    [
      'poll in STREAM mode',
      (s) => {
        s.call.write({ subscribe: { mode: 'STREAM', targets: ['a'] } });
        setTimeout(() => s.call.write({ poll: {} }), 300);
      },
      /poll is only accepted in POLL mode \(this call is STREAM\)/,
    ],
    [
      'a second subscribe',
      (s) => {
        s.call.write({ subscribe: { mode: 'POLL', targets: ['a'] } });
        s.call.write({ subscribe: { mode: 'POLL', targets: ['b'] } });
      },
      /only one subscribe per call/,
    ],
    ['half-close before subscribing', (s) => s.call.end(), /ended before a subscribe/],
  ];
  for (const [name, act, why] of cases) {
    const s = Subscription.open(client, md());
    act(s);
    const st = await s.ended();
    assert.equal(st.code, Status.INVALID_ARGUMENT, `${name}: ${st.code} ${st.details}`);
    assert.match(st.details, why, name);
  }
  await waitFor('every call gone', async () => (await exp.scrape()).value('fleetprobe_stream_clients', { transport: 'grpc' }) === 0, 5000);
});

test('the token is required when configured: UNAUTHENTICATED without it or with a wrong one', { skip: NEEDS_ROOT, timeout: 10_000 }, async () => {
  const none = Subscription.open(client, new Metadata(), { subscribe: { mode: 'ONCE' } });
  const ns = await none.ended();
  assert.equal(ns.code, Status.UNAUTHENTICATED);
  assert.match(ns.details, /needs the API token/);
  const wrong = Subscription.open(client, bearer('not-the-token'), { subscribe: { mode: 'ONCE' } });
  assert.equal((await wrong.ended()).code, Status.UNAUTHENTICATED);
  const m = await exp.scrape();
  assert.ok(m.value('fleetprobe_stream_rejected_total', { transport: 'grpc', reason: 'unauthorized' })! >= 2);
  assert.ok(m.value('fleetprobe_stream_rejected_total', { transport: 'grpc', reason: 'not_found' })! >= 2);
  assert.ok(m.value('fleetprobe_stream_rejected_total', { transport: 'grpc', reason: 'invalid' })! >= 5);
});

test('RESOURCE_EXHAUSTED beyond stream.max_clients', { skip: NEEDS_ROOT, timeout: 15_000 }, async () => {
  const open = [0, 1, 2, 3].map(() => Subscription.open(client, md(), { subscribe: { mode: 'STREAM', targets: ['a'] } }));
  for (const s of open) await s.until('sync', () => s.of('sync_response').length === 1, 5000);
  const over = Subscription.open(client, md(), { subscribe: { mode: 'STREAM', targets: ['a'] } });
  const st = await over.ended();
  assert.equal(st.code, Status.RESOURCE_EXHAUSTED);
  assert.match(st.details, /stream\.max_clients = 4/);
  for (const s of open) s.call.cancel();
  await waitFor('the calls to be gone', async () => (await exp.scrape()).value('fleetprobe_stream_clients', { transport: 'grpc' }) === 0, 5000);
});

test('SIGTERM: open streams end with UNAVAILABLE and the process exits promptly', { skip: NEEDS_ROOT, timeout: 20_000 }, async () => {
  const s = Subscription.open(client, md(), { subscribe: { mode: 'STREAM' } });
  await s.until('sync', () => s.of('sync_response').length === 1, 5000);
  const stopped = await exp.stop(8000);
  assert.equal(stopped.killed, false, exp.tail());
  assert.equal(stopped.code, 0, exp.tail());
  const st = await s.ended();
  assert.equal(st.code, Status.UNAVAILABLE, st.details);
});

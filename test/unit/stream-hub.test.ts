import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ErrorReason, ProbeEvent } from '../../src/protocol/events.js';
import { TargetStore } from '../../src/aggregate/store.js';
import { StreamError, StreamHub, type HubLimits } from '../../src/stream/hub.js';
import { SseFormat } from '../../src/stream/sse-format.js';
import type { CatalogEntry } from '../../src/stream/selection.js';
import type { DropReason, EventTime, StreamFormat, StreamSink, Transport } from '../../src/stream/types.js';
import type { SlotState } from '../../src/aggregate/store.js';

/** A sink that records what the hub does to it; its backlog is set by the test. */
class RecordingSink implements StreamSink<string> {
  chunks: string[] = [];
  writes = 0;
  backlogBytes = 0;
  ended = false;
  dropped: DropReason | null = null;
  shut = false;
  private closeCbs: (() => void)[] = [];
  private waiters: { bytes: number; resolve: () => void }[] = [];
  constructor(readonly transport: Transport = 'sse') {}
  backlog(): number {
    return this.backlogBytes;
  }
  write(chunks: readonly string[]): void {
    this.writes++;
    this.chunks.push(...chunks);
  }
  below(bytes: number): Promise<void> {
    if (this.backlogBytes < bytes) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ bytes, resolve }));
  }
  /** The client read what it owed down to `left` bytes. */
  drain(left = 0): void {
    this.backlogBytes = left;
    this.waiters = this.waiters.filter((w) => (w.bytes > left ? (w.resolve(), false) : true));
  }
  end(): void {
    this.ended = true;
    this.close();
  }
  drop(reason: DropReason): void {
    this.dropped = reason;
    this.close();
  }
  shutdown(): void {
    this.shut = true;
    this.close();
  }
  onClose(cb: () => void): void {
    this.closeCbs.push(cb);
  }
  /** The client went away. */
  close(): void {
    for (const cb of this.closeCbs.splice(0)) cb();
  }
  events(): { event: string; data: Record<string, unknown> }[] {
    return this.chunks
      .join('')
      .split('\n\n')
      .filter((b) => b.trim() !== '')
      .map((block) => {
        const ev = /^event: (.*)$/m.exec(block)![1];
        const data = JSON.parse(/^data: (.*)$/m.exec(block)![1]) as Record<string, unknown>;
        return { event: ev, data };
      });
  }
  of(event: string): { event: string; data: Record<string, unknown> }[] {
    return this.events().filter((e) => e.event === event);
  }
  names(event: string): string[] {
    return this.events()
      .filter((e) => e.event === event)
      .map((e) => e.data.target as string);
  }
}

/** SseFormat that counts how often it encodes. */
class CountingFormat implements StreamFormat<string> {
  readonly inner = new SseFormat();
  results = 0;
  states = 0;
  setCatalog(c: Parameters<SseFormat['setCatalog']>[0]): void {
    this.inner.setCatalog(c);
  }
  result(slot: number, outcome: number, rtt: number, reason: number, time: EventTime): string {
    this.results++;
    return this.inner.result(slot, outcome, rtt, reason, time);
  }
  state(slot: number, s: SlotState, time: EventTime): string {
    this.states++;
    return this.inner.state(slot, s, time);
  }
  sync(): string {
    return this.inner.sync();
  }
  size(c: string): number {
    return c.length;
  }
}

const tick = async (n = 6): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

function batch(records: [number, number, number?, number?, number?][]): ArrayBuffer {
  const w = new BatchWriter(8);
  for (const [s, e, r = 0, a = 0, v = 0] of records) w.push(s, e, r, a, v);
  return w.take(0, 1);
}

interface Fixture {
  hub: StreamHub;
  store: TargetStore;
  format: CountingFormat;
  grpcFormat: CountingFormat;
  entries: CatalogEntry[];
  limits: HubLimits;
  catalogCalls: () => number;
  clock: { mono: number };
  apply(buf: ArrayBuffer): void;
}

function fixture(n = 6, limits: Partial<HubLimits> = {}, monoStepMs = 0): Fixture {
  const store = new TargetStore();
  const entries: CatalogEntry[] = [];
  for (let i = 0; i < n; i++) {
    const e: CatalogEntry = { slot: i, name: `t${i}`, kind: 'icmp', address: `127.0.0.${i + 1}`, labels: { rack: i % 2 === 0 ? 'even' : 'odd' } };
    entries.push(e);
    store.defineSlot(i, { name: e.name, kind: 'icmp', address: e.address, labels: e.labels });
  }
  let calls = 0;
  const l: HubLimits = { maxClients: 10, maxBufferBytes: 10_000, stateIntervalMs: 1000, stallTimeoutMs: 60_000, ...limits };
  const clock = { mono: 0 };
  const format = new CountingFormat();
  const grpcFormat = new CountingFormat();
  const hub = new StreamHub({
    catalog: () => {
      calls++;
      return entries;
    },
    state: (slot) => store.slotState(slot),
    limits: () => l,
    formats: { sse: format, grpc: grpcFormat },
    wallNow: () => 1_700_000_000_000,
    monoNow: () => (clock.mono += monoStepMs),
  });
  return {
    hub,
    store,
    format,
    grpcFormat,
    entries,
    limits: l,
    catalogCalls: () => calls,
    clock,
    apply(buf) {
      store.applyBatch(buf);
      hub.onBatch(buf);
    },
  };
}

const sel = (targets: string[] = [], labels: [string, string][] = []) => ({ targets, labels: labels.map(([name, value]) => ({ name, value })) });

test('without subscribers a batch costs nothing: no catalog read, no encoding', () => {
  const f = fixture();
  for (let i = 0; i < 5; i++)
    f.apply(
      batch([
        [0, ProbeEvent.Reply, 0, 0, 0.001],
        [1, ProbeEvent.Timeout],
      ]),
    );
  f.hub.targetsChanged();
  f.apply(batch([[0, ProbeEvent.Reply, 0, 0, 0.001]]));
  assert.equal(f.catalogCalls(), 0);
  assert.equal(f.format.results + f.format.states, 0);
});

test('once: the state of every selected target, a sync marker, then end; the subscriber is gone', async () => {
  const f = fixture();
  f.apply(
    batch([
      [1, ProbeEvent.Sent],
      [1, ProbeEvent.Reply, 0, 0, 0.002],
      [3, ProbeEvent.Sent],
      [3, ProbeEvent.Error, ErrorReason.refused],
    ]),
  );
  const sink = new RecordingSink();
  f.hub.subscribe('sse', { selection: sel(['t3', 't1']), mode: 'once', sink });
  assert.equal(sink.chunks.length, 0, "nothing is written in the subscriber's own turn");
  assert.equal(f.hub.clients('sse'), 1);
  await tick();
  const ev = sink.events();
  assert.deepEqual(
    ev.map((e) => e.event),
    ['state', 'state', 'sync'],
  );
  assert.deepEqual(
    ev.slice(0, 2).map((e) => e.data.target),
    ['t1', 't3'],
  );
  assert.equal(ev[0].data.received, 1);
  assert.equal(ev[0].data.last_rtt_seconds, 0.002);
  assert.deepEqual(ev[1].data.errors, { refused: 1 });
  assert.equal(ev[1].data.loss_ratio, 1);
  assert.equal(sink.ended, true);
  assert.equal(f.hub.clients('sse'), 0);
  assert.equal(f.hub.stats.events.sse, 2);
});

test('stream: results only for selected slots, non-result records skipped, one write per batch', async () => {
  const f = fixture();
  const odd = new RecordingSink();
  const two = new RecordingSink();
  f.hub.subscribe('sse', { selection: sel([], [['rack', 'odd']]), mode: 'stream', sink: odd });
  f.hub.subscribe('sse', { selection: sel(['t2']), mode: 'stream', sink: two });
  await tick();
  odd.chunks = [];
  two.chunks = [];
  odd.writes = 0;
  f.apply(
    batch([
      [1, ProbeEvent.Sent],
      [1, ProbeEvent.Reply, 0, 0, 0.0005],
      [2, ProbeEvent.Timeout],
      [3, ProbeEvent.Error, ErrorReason.host_unreachable],
      [4, ProbeEvent.Reply, 0, 0, 0.001],
      [5, ProbeEvent.Late, 0, 0, 1.5],
      [5, ProbeEvent.Duplicate],
      [1, ProbeEvent.Phase, 0, 4, 0.1],
      [1, ProbeEvent.Connected, 0, 1],
      [99, ProbeEvent.Reply, 0, 0, 0.1],
    ]),
  );
  assert.equal(odd.writes, 1);
  const r = odd.events().filter((e) => e.event === 'result');
  assert.deepEqual(
    r.map((e) => [e.data.target, e.data.outcome, e.data.rtt_seconds, e.data.reason]),
    [
      ['t1', 'reply', 0.0005, null],
      ['t3', 'error', null, 'host_unreachable'],
      ['t5', 'late', 1.5, null],
      ['t5', 'duplicate', null, null],
    ],
  );
  assert.deepEqual(
    two.events().map((e) => [e.event, e.data.target, e.data.outcome]),
    [['result', 't2', 'timeout']],
  );
  assert.equal(r[0].data.time, new Date(1_700_000_000_000).toISOString());
  assert.equal(r[0].data.kind, 'icmp');
});

test('an event is encoded once per format and the same chunk goes to every subscriber of it', async () => {
  const f = fixture();
  const sinks = [new RecordingSink(), new RecordingSink(), new RecordingSink()];
  const g = new RecordingSink('grpc');
  for (const sink of sinks) f.hub.subscribe('sse', { selection: sel(), mode: 'stream', sink });
  f.hub.subscribe('grpc', { selection: sel(['t0']), mode: 'stream', sink: g });
  await tick();
  for (const s of [...sinks, g]) s.chunks = [];
  f.format.results = 0;
  f.grpcFormat.results = 0;
  f.apply(
    batch([
      [0, ProbeEvent.Reply, 0, 0, 0.001],
      [1, ProbeEvent.Timeout],
    ]),
  );
  assert.equal(f.format.results, 2, 'two records, three SSE subscribers: two encodings');
  assert.equal(f.grpcFormat.results, 1);
  assert.equal(sinks[0].chunks.length, 2);
  for (const s of sinks) for (let i = 0; i < 2; i++) assert.equal(s.chunks[i], sinks[0].chunks[i]);
  assert.equal(f.hub.stats.events.sse, 3 * 6 + 3 * 2);
  assert.equal(f.hub.stats.events.grpc, 1 + 1);
});

test("stream: initial states, then sync, then results; a result before its target's state is in that state", async () => {
  const f = fixture();
  const sink = new RecordingSink();
  f.hub.subscribe('sse', { selection: sel(['t0', 't1']), mode: 'stream', sink });
  // Before the hub's first write: the state of t0, read later, counts this reply.
  f.apply(
    batch([
      [0, ProbeEvent.Sent],
      [0, ProbeEvent.Reply, 0, 0, 0.001],
    ]),
  );
  assert.equal(sink.chunks.length, 0);
  await tick();
  f.apply(batch([[1, ProbeEvent.Timeout]]));
  const ev = sink.events();
  assert.deepEqual(
    ev.map((e) => `${e.event}:${(e.data.target as string | undefined) ?? ''}`),
    ['state:t0', 'state:t1', 'sync:', 'result:t1'],
  );
  assert.equal(ev[0].data.received, 1);
});

test('stream: during a long initial sync, results of targets whose state was sent follow at once, the others are in their state', async () => {
  const f = fixture(600, { maxBufferBytes: 1_000_000 });
  const sink = new RecordingSink();
  f.hub.subscribe('sse', { selection: sel(), mode: 'stream', sink });
  await Promise.resolve();
  await Promise.resolve();
  await new Promise((r) => setImmediate(r));
  const statesSoFar = sink.names('state').length;
  assert.ok(statesSoFar > 0 && statesSoFar < 600, `mid-sync: ${statesSoFar} states`);
  f.apply(
    batch([
      [10, ProbeEvent.Reply, 0, 0, 0.001],
      [550, ProbeEvent.Sent],
      [550, ProbeEvent.Reply, 0, 0, 0.002],
    ]),
  );
  await tick(12);
  const ev = sink.events().map((e) => `${e.event}:${(e.data.target as string | undefined) ?? ''}`);
  assert.equal(ev.length, 600 + 1 + 1, ev.slice(-3).join());
  assert.equal(ev.indexOf('result:t10'), statesSoFar, 'right after the states already sent');
  assert.equal(ev[ev.length - 1], 'sync:');
  assert.ok(!ev.includes('result:t550'));
  assert.equal(sink.events().find((e) => e.data.target === 't550')!.data.received, 1, 'the later state of t550 holds its reply');
});

test('poll: states and sync at subscribe and on every poll; polls during one coalesce', async () => {
  const f = fixture();
  const sink = new RecordingSink('grpc');
  const sub = f.hub.subscribe('grpc', { selection: sel(['t4']), mode: 'poll', sink });
  await tick();
  assert.deepEqual(
    sink.events().map((e) => e.event),
    ['state', 'sync'],
  );
  f.apply(
    batch([
      [4, ProbeEvent.Sent],
      [4, ProbeEvent.Reply, 0, 0, 0.003],
    ]),
  );
  assert.equal(sink.events().length, 2, 'poll mode takes no results');
  f.hub.poll(sub);
  f.hub.poll(sub);
  f.hub.poll(sub);
  await tick(12);
  const ev = sink.events();
  assert.deepEqual(
    ev.map((e) => e.event),
    ['state', 'sync', 'state', 'sync', 'state', 'sync'],
  );
  assert.equal(ev[2].data.sent, 1);
  assert.equal(f.hub.clients('grpc'), 1);
  sink.close();
  assert.equal(f.hub.clients('grpc'), 0);
  f.hub.poll(sub);
  await tick();
  assert.equal(sink.events().length, 6, 'a closed subscription is not polled');
});

test('a subscriber that owes max_buffer_bytes when events are ready is dropped; the others go on', async () => {
  const f = fixture(6, { maxBufferBytes: 1000 });
  const slow = new RecordingSink();
  const fast = new RecordingSink();
  f.hub.subscribe('sse', { selection: sel(), mode: 'stream', sink: slow });
  f.hub.subscribe('sse', { selection: sel(), mode: 'stream', sink: fast });
  await tick();
  slow.backlogBytes = 999;
  f.apply(batch([[0, ProbeEvent.Reply, 0, 0, 0.001]]));
  assert.equal(slow.dropped, null, 'below the bound: written');
  slow.backlogBytes = 1000;
  const before = slow.chunks.length;
  f.apply(batch([[0, ProbeEvent.Reply, 0, 0, 0.001]]));
  assert.equal(slow.dropped, 'buffer_full');
  assert.equal(slow.chunks.length, before, 'nothing more is written to a dropped client');
  assert.equal(f.hub.stats.dropped.sse.buffer_full, 1);
  assert.equal(f.hub.clients('sse'), 1);
  f.apply(batch([[2, ProbeEvent.Timeout]]));
  assert.equal(fast.names('result').length, 3);
  assert.equal(slow.names('result').length, 1);
});

test('a subscriber that stops reading during its initial sync is dropped when results come', async () => {
  const f = fixture(600, { maxBufferBytes: 100_000 });
  const sink = new RecordingSink();
  f.hub.subscribe('sse', { selection: sel(), mode: 'stream', sink });
  await Promise.resolve();
  await Promise.resolve();
  sink.backlogBytes = 100_000; // the client stopped reading: the sync waits for a drain
  await tick(4);
  const written = sink.chunks.length;
  assert.equal(sink.dropped, null);
  f.apply(batch([[0, ProbeEvent.Reply, 0, 0, 0.001]]));
  assert.equal(sink.dropped, 'buffer_full');
  await tick(12);
  assert.equal(sink.chunks.length, written, 'nothing more is written');
});

test('a full state keeps the backlog under half the bound, in chunks of at most a quarter of it', async () => {
  const f = fixture(600, { maxBufferBytes: 8000 });
  const sink = new RecordingSink();
  const chunkSizes: number[] = [];
  const write = sink.write.bind(sink);
  sink.write = (chunks) => {
    chunkSizes.push(chunks.reduce((a, c) => a + c.length, 0));
    sink.backlogBytes += chunkSizes[chunkSizes.length - 1];
    write(chunks);
  };
  f.hub.subscribe('sse', { selection: sel(), mode: 'once', sink });
  for (let i = 0; i < 400 && !sink.ended; i++) {
    await tick(2);
    assert.ok(sink.backlogBytes < 4000 + 2000 + 400, `backlog ${sink.backlogBytes}`);
    sink.drain();
  }
  assert.equal(sink.ended, true);
  assert.equal(sink.names('state').length, 600);
  assert.ok(Math.max(...chunkSizes.slice(0, -1)) < 2000 + 400, `chunks ${Math.max(...chunkSizes)}`);
});

test('a full state waits while the client owes half its bound, goes on below a quarter; one that does not drain within stall_timeout is dropped (stalled)', async () => {
  // A long stall timeout while the patient client is waited for (a loaded machine may take a while between ticks).
  const f = fixture(6, { maxBufferBytes: 1000, stallTimeoutMs: 60_000 });
  const patient = new RecordingSink();
  patient.backlogBytes = 600;
  f.hub.subscribe('sse', { selection: sel(), mode: 'once', sink: patient });
  await tick();
  assert.equal(patient.ended, false, 'waiting for room');
  patient.drain(300);
  await tick();
  assert.equal(patient.ended, false, 'not yet under a quarter');
  patient.drain(200);
  await tick();
  assert.equal(patient.ended, true, 'under a quarter: a backlog that never empties (results keep coming) is fine');

  f.limits.stallTimeoutMs = 30;
  const stuck = new RecordingSink();
  stuck.backlogBytes = 600;
  f.hub.subscribe('sse', { selection: sel(), mode: 'once', sink: stuck });
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(stuck.dropped, 'stalled');
  assert.equal(stuck.ended, false);
  assert.equal(f.hub.stats.dropped.sse.stalled, 1);
  assert.equal(f.hub.size, 0);
});

test('states of a large selection are written in chunks with the loop turning between them', async () => {
  const f = fixture(600, { maxBufferBytes: 1_000_000 });
  const sink = new RecordingSink();
  f.hub.subscribe('sse', { selection: sel(), mode: 'once', sink });
  await Promise.resolve();
  await Promise.resolve();
  await new Promise((r) => setImmediate(r));
  assert.ok(sink.writes >= 1 && sink.writes < 3, `after one turn only the first chunk(s): ${sink.writes} writes`);
  await tick(10);
  assert.equal(sink.names('state').length, 600);
  assert.ok(sink.writes >= 4, `${sink.writes} writes`);
});

test('stream.max_clients: one more is refused with limit, counted; a closed one frees its place', () => {
  const f = fixture(6, { maxClients: 2 });
  const a = new RecordingSink();
  f.hub.subscribe('sse', { selection: sel(), mode: 'stream', sink: a });
  f.hub.subscribe('grpc', { selection: sel(), mode: 'stream', sink: new RecordingSink('grpc') });
  assert.equal(f.hub.hasRoom(), false);
  assert.throws(
    () => f.hub.subscribe('sse', { selection: sel(), mode: 'stream', sink: new RecordingSink() }),
    (e: unknown) => e instanceof StreamError && e.code === 'limit' && /stream\.max_clients = 2/.test(e.message),
  );
  assert.equal(f.hub.stats.rejected.sse.limit, 1);
  a.close();
  assert.equal(f.hub.hasRoom(), true);
});

test('unknown targets are refused with their names and counted', () => {
  const f = fixture();
  assert.throws(
    () => f.hub.subscribe('grpc', { selection: sel(['t1', 'nope']), mode: 'once', sink: new RecordingSink('grpc') }),
    (e: unknown) => e instanceof StreamError && e.code === 'not_found' && e.unknown.join() === 'nope',
  );
  assert.equal(f.hub.stats.rejected.grpc.not_found, 1);
  assert.equal(f.hub.size, 0);
  f.hub.countRejected('grpc', 'invalid');
  assert.equal(f.hub.stats.rejected.grpc.invalid, 1);
});

test('targetsChanged: selections are resolved again (a new target of a label joins, a removed one leaves)', async () => {
  const f = fixture(4);
  const sink = new RecordingSink();
  f.hub.subscribe('sse', { selection: sel([], [['rack', 'even']]), mode: 'stream', sink });
  await tick();
  sink.chunks = [];
  // t0 removed, t9 (slot 9) added with rack=even.
  f.entries.splice(0, 1);
  f.entries.push({ slot: 9, name: 't9', kind: 'udp', address: '127.0.0.9:4000', labels: { rack: 'even' } });
  f.store.releaseSlot(0);
  f.store.defineSlot(9, { name: 't9', kind: 'udp', address: '127.0.0.9:4000', labels: { rack: 'even' } });
  f.hub.targetsChanged();
  f.apply(
    batch([
      [0, ProbeEvent.Reply, 0, 0, 0.001],
      [2, ProbeEvent.Reply, 0, 0, 0.001],
      [9, ProbeEvent.Timeout],
    ]),
  );
  assert.deepEqual(
    sink
      .events()
      .filter((e) => e.event === 'result')
      .map((e) => [e.data.target, e.data.kind]),
    [
      ['t2', 'icmp'],
      ['t9', 'udp'],
    ],
  );
});

test('periodic states: each selected target once per state_interval, spread over the batches', async () => {
  const f = fixture(10, { stateIntervalMs: 1000 });
  const sink = new RecordingSink();
  f.hub.subscribe('sse', { selection: sel([], [['rack', 'odd']]), mode: 'stream', sink });
  await tick();
  sink.chunks = [];
  const perBatch: number[] = [];
  for (let i = 0; i < 20; i++) {
    f.clock.mono += 100;
    const before = sink.names('state').length;
    f.apply(batch([]));
    perBatch.push(sink.names('state').length - before);
  }
  const states = sink.names('state');
  // 2 s: every odd target twice, never more than one or two per 100 ms batch.
  assert.deepEqual([...new Set(states)].sort(), ['t1', 't3', 't5', 't7', 't9']);
  for (const t of ['t1', 't3', 't5', 't7', 't9']) assert.equal(states.filter((s) => s === t).length, 2, t);
  assert.ok(Math.max(...perBatch) <= 1, `spread: ${perBatch.join(',')}`);
});

test('a long pause between batches is capped at one state per target', async () => {
  const f = fixture(4, { stateIntervalMs: 1000 });
  const sink = new RecordingSink();
  f.hub.subscribe('sse', { selection: sel(), mode: 'stream', sink });
  await tick();
  sink.chunks = [];
  f.clock.mono += 60_000;
  f.apply(batch([]));
  assert.deepEqual(sink.names('state').sort(), ['t0', 't1', 't2', 't3']);
});

test('close(): every subscriber is shut down and new ones are refused', async () => {
  const f = fixture();
  const a = new RecordingSink();
  const b = new RecordingSink('grpc');
  f.hub.subscribe('sse', { selection: sel(), mode: 'stream', sink: a });
  f.hub.subscribe('grpc', { selection: sel(), mode: 'poll', sink: b });
  f.hub.close();
  assert.equal(a.shut && b.shut, true);
  assert.equal(f.hub.size, 0);
  assert.throws(() => f.hub.subscribe('sse', { selection: sel(), mode: 'once', sink: new RecordingSink() }), /shutting down/);
  await tick();
  assert.equal(a.chunks.length + b.chunks.length, 0, 'a closed subscription is not synced');
});

test('a large batch is fanned out in slices with the loop turning between them, batches in arrival order', async () => {
  // Every look at the clock takes 1 ms: a slice ends after its first step of 256 records.
  const f = fixture(1000, { stateIntervalMs: 3_600_000 }, 1);
  const sink = new RecordingSink();
  f.hub.subscribe('sse', { selection: sel(), mode: 'stream', sink });
  for (let i = 0; i < 20; i++) await tick();
  assert.equal(sink.of('sync').length, 1);
  sink.chunks = [];
  const big: [number, number, number, number, number][] = [];
  for (let i = 0; i < 1000; i++) big.push([i, ProbeEvent.Reply, 0, 0, 0.001]);
  const encodedBefore = f.format.results;
  sink.writes = 0;
  f.apply(batch(big));
  const firstSlice = f.format.results - encodedBefore;
  assert.ok(firstSlice >= 256 && firstSlice < 1000, `first slice: ${firstSlice} records`);
  assert.equal(sink.writes, 0, 'a batch is written when it is done');
  f.apply(batch([[0, ProbeEvent.Timeout]]));
  assert.equal(f.format.results - encodedBefore, firstSlice, 'the next batch waits for the one before');
  await tick(12);
  assert.equal(sink.writes, 2, 'one write per batch');
  const results = sink.events().filter((e) => e.event === 'result');
  assert.equal(results.length, 1001);
  assert.deepEqual(
    results.slice(0, 1000).map((e) => e.data.target),
    Array.from({ length: 1000 }, (_, i) => `t${i}`),
  );
  assert.deepEqual([results[1000].data.target, results[1000].data.outcome], ['t0', 'timeout']);
});

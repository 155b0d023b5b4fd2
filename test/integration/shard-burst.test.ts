/**
 * One-shot bursts on a real shard (runShard in-process with a MessageChannel, the code
 * path of the piscina task) against real TCP on loopback: the burst borrows the
 * shard's prober and is answered once with its own records, while the scheduled
 * target's records in the batches stay exactly its own; cancel and stop answer with
 * what the burst has; a bad spec or an unsupported kind is refused. The dispatcher's
 * bookkeeping (routing, abort, a lost worker, stop) is checked against a transport
 * that loses messages on purpose, a fault a real worker does not produce on demand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { MessageChannel } from 'node:worker_threads';
import { BatchReader } from '../../src/protocol/batch.js';
import { BURST_SLOT_BASE, type BurstSpec, type FromWorkerBurst, type ToWorkerBurst } from '../../src/protocol/burst.js';
import { ProbeEvent } from '../../src/protocol/events.js';
import type { FromWorker } from '../../src/protocol/messages.js';
import { BurstDispatcher, BurstError } from '../../src/pool/burst.js';
import { summarizeBurst } from '../../src/pool/burst-summary.js';
import { runShard } from '../../workers/shard.js';
import { tcpProberFactory } from '../../workers/probes/tcp.js';
import { shardTarget } from '../fixtures/shard-target.js';

async function listen(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => s.on('error', () => {}).end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

function spec(port: number, count: number, intervalMs: number): BurstSpec {
  const { slot: _s, phaseMs: _p, intervalMs: _i, ...target } = shardTarget('tcp', { port, timeoutMs: 500, name: 'burst' });
  return { target, count, intervalMs };
}

async function withShard(fn: (send: (m: ToWorkerBurst | { type: 'stop' }) => void, answers: Map<number, FromWorkerBurst>, batchSlots: Map<number, number[]>) => Promise<void>, scheduledPort: number): Promise<FromWorker[]> {
  const ch = new MessageChannel();
  const messages: FromWorker[] = [];
  const answers = new Map<number, FromWorkerBurst>();
  const batchSlots = new Map<number, number[]>(); // slot -> events seen in batches
  ch.port1.on('message', (m: FromWorker) => {
    messages.push(m);
    if (m.type === 'burst_done' || m.type === 'burst_failed') {
      assert.ok(!answers.has(m.id), `burst ${m.id} answered once`);
      answers.set(m.id, m);
    }
    if (m.type === 'batch') {
      const r = new BatchReader(m.buf);
      for (let i = 0; i < r.count; i++) {
        const list = batchSlots.get(r.slot(i)) ?? [];
        list.push(r.event(i));
        batchSlots.set(r.slot(i), list);
      }
    }
  });
  const scheduled = shardTarget('tcp', { slot: 7, port: scheduledPort, intervalMs: 100, timeoutMs: 500 });
  const done = runShard({ settings: { workerIndex: 0, cookie: 9, icmpIdentifier: 0x7100, flushIntervalMs: 50 }, targets: [scheduled], port: ch.port2 }, { factories: { tcp: tcpProberFactory } });
  try {
    await fn((m) => ch.port1.postMessage(m), answers, batchSlots);
  } finally {
    ch.port1.postMessage({ type: 'stop' });
    await done;
    await new Promise((r) => setTimeout(r, 20));
    ch.port1.close();
  }
  return messages;
}

const waitFor = async (what: string, cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('a burst runs on the shard prober, is answered once with its own records, and never enters the batches', async () => {
  const { server, port } = await listen();
  const closed = await listen();
  closed.server.close();
  try {
    const messages = await withShard(async (send, answers, batchSlots) => {
      send({ type: 'burst', id: 1, spec: spec(port, 4, 20) });
      send({ type: 'burst', id: 2, spec: spec(closed.port, 3, 10) });
      send({ type: 'burst', id: 3, spec: { ...spec(port, 0, 10) } });
      send({ type: 'burst', id: 4, spec: { ...spec(port, 2, 10), target: { ...spec(port, 2, 10).target, kind: 'icmp' } } });
      await waitFor('four answers', () => answers.size === 4);
      const ok = answers.get(1)!;
      assert.equal(ok.type, 'burst_done');
      if (ok.type !== 'burst_done') return;
      const s = summarizeBurst(ok.records);
      assert.deepEqual([s.sent, s.received, s.completed, ok.started, ok.cut], [4, 4, 4, 4, false]);
      assert.equal(new Float64Array(ok.times).length, new BatchReader(ok.records).count, 'one time per record');
      // 4 probes 20ms apart: the last starts ~60ms after the first.
      assert.ok(ok.durationMs >= 55, `duration ${ok.durationMs}`);
      const refused = answers.get(2)!;
      assert.equal(refused.type, 'burst_done');
      if (refused.type === 'burst_done') assert.deepEqual(summarizeBurst(refused.records).errors, { refused: 3 });
      const bad = answers.get(3)!;
      assert.equal(bad.type, 'burst_failed');
      if (bad.type === 'burst_failed') assert.match(bad.reason, /count must be an integer/);
      const unsupported = answers.get(4)!;
      assert.equal(unsupported.type, 'burst_failed');
      if (unsupported.type === 'burst_failed') assert.match(unsupported.reason, /probe kind 'icmp' is not supported/);
      await waitFor('the scheduled target probed', () => (batchSlots.get(7) ?? []).filter((e) => e === ProbeEvent.Reply).length >= 3);
      for (const slot of batchSlots.keys()) assert.ok(slot < BURST_SLOT_BASE, `batch record of burst slot ${slot}`);
      assert.deepEqual([...batchSlots.keys()], [7], 'only the scheduled target in the batches');
    }, port);
    assert.equal(messages.filter((m) => m.type === 'target_rejected').length, 0);
  } finally {
    server.close();
  }
});

test('cancel and stop answer a running burst with what it has', async () => {
  const { server, port } = await listen();
  try {
    const messages = await withShard(async (send, answers) => {
      send({ type: 'burst', id: 10, spec: spec(port, 100, 20) });
      send({ type: 'burst', id: 11, spec: spec(port, 100, 20) });
      await new Promise((r) => setTimeout(r, 150));
      send({ type: 'burst_cancel', id: 10 });
      await waitFor('the cancelled burst answered', () => answers.has(10));
      const c = answers.get(10)!;
      assert.equal(c.type, 'burst_done');
      if (c.type === 'burst_done') {
        assert.equal(c.cut, true);
        assert.ok(c.started >= 3 && c.started < 100, `started ${c.started}`);
        assert.ok(summarizeBurst(c.records).received >= 2);
      }
      send({ type: 'burst_cancel', id: 999 }); // unknown: ignored
    }, port);
    // Burst 11 was still running at stop: answered (cut) before {stopped}.
    const i11 = messages.findIndex((m) => m.type === 'burst_done' && m.id === 11);
    const iStopped = messages.findIndex((m) => m.type === 'stopped');
    assert.ok(i11 >= 0 && iStopped > i11, 'answered before stopped');
    const m11 = messages[i11];
    if (m11.type === 'burst_done') assert.equal(m11.cut, true);
  } finally {
    server.close();
  }
});

test('dispatcher: round robin over running workers, abort cancels, a lost worker and stop reject, stray answers ignored', async () => {
  const posted: Array<[number, ToWorkerBurst]> = [];
  const running = new Set([0, 1]);
  const d = new BurstDispatcher({ workers: 2, post: (w, m) => running.has(w) && (posted.push([w, m]), true) });
  const s = spec(1, 1, 10);
  const p1 = d.run(s);
  const p2 = d.run(s);
  assert.deepEqual(posted.map(([w]) => w), [0, 1], 'in turn');
  running.delete(0);
  const p3 = d.run(s, { worker: 0 });
  await assert.rejects(p3, (e: BurstError) => e.code === 'unavailable');
  const ac = new AbortController();
  const p4 = d.run(s, { signal: ac.signal });
  assert.equal(posted.at(-1)![0], 1, 'a worker without a shard is skipped');
  ac.abort();
  assert.deepEqual(posted.at(-1)![1], { type: 'burst_cancel', id: (posted.at(-2)![1] as { id: number }).id });
  const rec = new (await import('../../src/protocol/batch.js')).BatchWriter(4).take(0, 0, 0);
  const id1 = (posted[0][1] as { id: number }).id;
  d.onMessage(1, { type: 'burst_done', id: id1, records: rec, times: new ArrayBuffer(0), started: 1, durationMs: 1, cut: false }); // wrong worker: ignored
  assert.equal(d.inFlight, 3);
  d.onMessage(0, { type: 'burst_done', id: id1, records: rec, times: new ArrayBuffer(0), started: 1, durationMs: 1, cut: false });
  assert.equal((await p1).worker, 0);
  d.workerLost(1);
  await assert.rejects(p2, (e: BurstError) => e.code === 'worker_lost');
  await assert.rejects(p4, (e: BurstError) => e.code === 'worker_lost');
  running.add(0);
  const p5 = d.run(s);
  d.close();
  await assert.rejects(p5, (e: BurstError) => e.code === 'stopped');
  await assert.rejects(d.run(s), (e: BurstError) => e.code === 'stopped');
  await assert.rejects(new BurstDispatcher({ workers: 1, post: () => true }).run(spec(1, 0, 1)), (e: BurstError) => e.code === 'invalid');
});

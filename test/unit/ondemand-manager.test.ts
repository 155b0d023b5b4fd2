/**
 * TestManager's unlisted runs (GET /probe's bursts): they share the slots and the end
 * path of the listed tests but never enter the tests' list, their max_concurrent, their
 * kept results or their metrics; an abort cancels on the worker.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestManager, type TestDescription } from '../../src/ondemand/manager.js';
import { newTally, summarize } from '../../src/protocol/ondemand/result.js';
import type { OnDemandTask } from '../../src/protocol/messages.js';
import type { ShardTarget } from '../../src/targets/model.js';

const desc: TestDescription = { kind: 'tcp', target: null, address: '127.0.0.1', count: 3, intervalMs: 10, timeoutMs: 100, size: null, tags: {} };

function harness(maxConcurrent = 1) {
  const started: OnDemandTask[] = [];
  const cancelled: string[] = [];
  let accept = true;
  const manager = new TestManager(() => ({ maxConcurrent, resultsKept: 5 }), {
    start: (_worker, task) => {
      if (accept) started.push(task);
      return accept;
    },
    cancel: (_worker, id) => cancelled.push(id),
  });
  const task = (id: string, slotIndex: number): OnDemandTask => ({ id, target: { slot: 0xf000_0000 + slotIndex } as ShardTarget, count: 3, intervalMs: 10 });
  return { manager, started, cancelled, task, refuse: () => (accept = false) };
}

test('an unlisted run is not listed, not counted against max_concurrent, not kept, and resolves with its result', async () => {
  const h = harness(1);
  const run = h.manager.runUnlisted(desc, 0, h.task);
  const listed = h.manager.start(desc, 0, h.task);
  assert.ok(listed.ok, 'the one listed place is still free while an unlisted run runs');
  assert.equal(h.manager.runningCount, 1);
  assert.deepEqual(
    h.manager.list().map((v) => v.id),
    [listed.ok ? listed.id : ''],
  );
  const [unlisted, other] = h.started;
  assert.notEqual(unlisted.target.slot, other.target.slot, 'slots shared with listed tests never collide');
  assert.equal(h.manager.get(unlisted.id), null);
  assert.equal(h.manager.cancel(unlisted.id), null, 'DELETE /api/v1/tests cannot reach it');

  const result = summarize('tcp', { ...newTally(), sent: 3, received: 3, rtts: [0.001, 0.002, 0.003] });
  h.manager.end(unlisted.id, 'done', result);
  assert.deepEqual(await run, { ok: true, state: 'done', result, error: null });
  assert.equal(h.manager.runningCount, 1, 'the listed test still holds its place');
  assert.equal(h.manager.testsByKindState.size, 0, 'the on-demand metrics count listed tests only');
  assert.equal(h.manager.probesByKind.size, 0);
  assert.equal(h.manager.list().length, 1, 'the unlisted run is forgotten');
});

test('an abort cancels the unlisted run on its worker; the run resolves with what the worker answers', async () => {
  const h = harness();
  const ac = new AbortController();
  const run = h.manager.runUnlisted(desc, 0, h.task, ac.signal);
  ac.abort();
  assert.deepEqual(h.cancelled, [h.started[0].id]);
  const partial = summarize('tcp', { ...newTally(), sent: 1, received: 1, rtts: [0.001] });
  h.manager.end(h.started[0].id, 'cancelled', partial);
  const out = await run;
  assert.ok(out.ok);
  assert.equal(out.state, 'cancelled');
  assert.equal(out.result?.sent, 1);
});

test('an unlisted run fails when its worker goes away or cannot take it', async () => {
  const h = harness();
  const run = h.manager.runUnlisted(desc, 0, h.task);
  h.manager.workerGone(0);
  const out = await run;
  assert.ok(out.ok);
  assert.equal(out.state, 'failed');
  assert.equal(out.result, null);
  h.refuse();
  const refused = await h.manager.runUnlisted(desc, 0, h.task);
  assert.equal(refused.ok, false);
});

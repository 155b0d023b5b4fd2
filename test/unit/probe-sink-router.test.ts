import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchReader, Header } from '../../src/protocol/batch.js';
import { DropReason, ErrorReason, ProbeEvent } from '../../src/protocol/events.js';
import { ONDEMAND_SLOT_BASE } from '../../src/protocol/messages.js';
import { Batcher } from '../../workers/batcher.js';
import { ProbeSinkRouter } from '../../workers/probe-sink-router.js';
import type { ProbeSink } from '../../workers/probes/prober.js';

/** Every call the on-demand side receives, as [method, ...args]. */
function recorder(): ProbeSink & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  const rec =
    (name: string) =>
    (...args: unknown[]) =>
      void calls.push([name, ...args]);
  return {
    calls,
    sent: rec('sent'),
    reply: rec('reply'),
    timeout: rec('timeout'),
    error: rec('error'),
    duplicate: rec('duplicate'),
    late: rec('late'),
    dropped: rec('dropped'),
    record: rec('record'),
    transferred: rec('transferred'),
  };
}

test('outcomes of on-demand slots go to the tests, never into the batch; scheduled slots as before', () => {
  const batch = new Batcher(0, 16);
  const od = recorder();
  const r = new ProbeSinkRouter(batch, od);
  const T = ONDEMAND_SLOT_BASE + 5;
  for (const slot of [7, T]) {
    r.sent(slot);
    r.reply(slot, 0.002, 41);
    r.timeout(slot);
    r.error(slot, ErrorReason.refused);
    r.duplicate(slot);
    r.late(slot, 0.5);
    r.record(slot, ProbeEvent.Status, 0, 200, 0);
    r.transferred(slot, 1000, 0.1);
  }
  r.dropped(DropReason.bad_cookie);
  const reader = new BatchReader(batch.take());
  const slots = Array.from({ length: reader.count }, (_, i) => reader.slot(i));
  assert.deepEqual(slots, [7, 7, 7, 7, 7, 7, 7], 'seven records, all of the scheduled slot');
  assert.equal(reader.header[Header.DropsStart + DropReason.bad_cookie], 1, 'drops stay with the batch');
  assert.deepEqual(od.calls, [
    ['sent', T],
    ['reply', T, 0.002, 41],
    ['timeout', T],
    ['error', T, ErrorReason.refused],
    ['duplicate', T],
    ['late', T, 0.5],
    ['record', T, ProbeEvent.Status, 0, 200, 0],
    ['transferred', T, 1000, 0.1],
  ]);
  assert.ok(ONDEMAND_SLOT_BASE + 0x0fff_ffff <= 0xffff_ffff, 'on-demand slots fit the uint32 slot of probe payloads');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchReader, Header } from '../../src/protocol/batch.js';
import { DropReason, ErrorReason, ProbeEvent } from '../../src/protocol/events.js';
import { Batcher } from '../../workers/batcher.js';

test('each sink call becomes one record with the right event, reason and value', () => {
  const b = new Batcher(3, 16);
  b.sent(1);
  b.reply(1, 0.000123);
  b.timeout(2);
  b.error(3, ErrorReason.host_unreachable);
  b.duplicate(4);
  b.late(5, 1.5);
  b.record(6, ProbeEvent.Status, 0, 204, 0);
  const r = new BatchReader(b.take());
  assert.equal(r.count, 7);
  const rows = Array.from({ length: r.count }, (_, i) => [r.slot(i), r.event(i), r.reason(i), r.aux(i), r.value(i)]);
  assert.deepEqual(rows, [
    [1, ProbeEvent.Sent, 0, 0, 0],
    [1, ProbeEvent.Reply, 0, 0, 0.000123],
    [2, ProbeEvent.Timeout, 0, 0, 0],
    [3, ProbeEvent.Error, ErrorReason.host_unreachable, 0, 0],
    [4, ProbeEvent.Duplicate, 0, 0, 0],
    [5, ProbeEvent.Late, 0, 0, 1.5],
    [6, ProbeEvent.Status, 0, 204, 0],
  ]);
  assert.equal(r.header[Header.WorkerIndex], 3);
});

test('drops are counted in the header, unknown codes folded into the last counter', () => {
  const b = new Batcher(0);
  b.dropped(DropReason.bad_cookie);
  b.dropped(DropReason.bad_cookie);
  b.dropped(DropReason.short);
  b.dropped(999);
  const r = new BatchReader(b.take());
  assert.equal(r.header[Header.DropsStart + DropReason.bad_cookie], 2);
  assert.equal(r.header[Header.DropsStart + DropReason.short], 1);
  assert.equal(r.header[Header.DropsStart + DropReason.garbage], 1);
  assert.equal(r.count, 0);
});

test('batches are numbered from 1, empty ones included, and start fresh after take', () => {
  const b = new Batcher(1, 16);
  for (let i = 0; i < 100; i++) b.sent(i); // grows past the initial capacity
  b.dropped(DropReason.short);
  const first = new BatchReader(b.take());
  assert.equal(first.count, 100);
  assert.equal(first.header[Header.BatchSeq], 1);
  const second = new BatchReader(b.take());
  assert.equal(second.count, 0);
  assert.equal(second.header[Header.BatchSeq], 2);
  assert.equal(second.header[Header.DropsStart + DropReason.short], 0);
  assert.equal(b.length, 0);
});

test('header fields written through the getter land in the batch being filled', () => {
  const b = new Batcher(0);
  b.take();
  b.header[Header.Targets] = 12;
  assert.equal(new BatchReader(b.take()).header[Header.Targets], 12);
});

test('log is forwarded when a log function is given', () => {
  const seen: string[] = [];
  new Batcher(0, 16, (level, msg) => seen.push(`${level}:${msg}`)).log('warn', 'x');
  assert.deepEqual(seen, ['warn:x']);
  new Batcher(0).log('warn', 'no sink, no throw');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriter, Header } from '../../src/protocol/batch.js';
import { ErrorReason, ProbeEvent } from '../../src/protocol/events.js';
import { labelText } from '../../src/aggregate/label-arena.js';
import { TargetStore, type SlotDefinition } from '../../src/aggregate/store.js';
import { bucketIndex } from '../../src/aggregate/buckets.js';

const icmp = (name: string, extra: Partial<SlotDefinition> = {}): SlotDefinition => ({ name, kind: 'icmp', address: '127.0.0.1', labels: {}, ...extra });

/** Build a batch from [slot, event, reason, aux, value] tuples. */
function batch(records: [number, number, number?, number?, number?][], worker = 0, seq = 1): ArrayBuffer {
  const w = new BatchWriter(4);
  for (const [s, e, r = 0, a = 0, v = 0] of records) w.push(s, e, r, a, v);
  return w.take(worker, seq);
}

test('a defined target exists from the start with zero counters and NaN last RTT', () => {
  const st = new TargetStore();
  st.defineSlot(0, icmp('a'));
  const s = st.snapshot();
  assert.equal(s.highWater, 1);
  assert.equal(s.defined[0], 1);
  for (const col of [s.sent, s.received, s.timeouts, s.duplicates, s.late, s.rttSum, s.connects, s.connected, s.httpStatus, s.lossRatio])
    assert.equal(col[0], 0);
  assert.ok(Number.isNaN(s.lastRtt[0]));
  assert.ok(s.rttBuckets.every((x) => x === 0));
  assert.equal(st.size, 1);
});

test('Sent, Reply, Timeout, Duplicate and Late records land in their counters', () => {
  const st = new TargetStore();
  st.defineSlot(1, icmp('a'));
  st.applyBatch(
    batch([
      [1, ProbeEvent.Sent],
      [1, ProbeEvent.Sent],
      [1, ProbeEvent.Sent],
      [1, ProbeEvent.Reply, 0, 0, 0.001],
      [1, ProbeEvent.Reply, 0, 0, 0.003],
      [1, ProbeEvent.Timeout],
      [1, ProbeEvent.Duplicate],
      [1, ProbeEvent.Late, 0, 0, 2.5],
    ]),
  );
  const s = st.snapshot();
  assert.equal(s.sent[1], 3);
  assert.equal(s.received[1], 2);
  assert.equal(s.timeouts[1], 1);
  assert.equal(s.duplicates[1], 1);
  assert.equal(s.late[1], 1);
  assert.equal(s.rttSum[1], 0.004);
  assert.equal(s.lastRtt[1], 0.003);
  // RTT histogram holds replies only (late RTTs are not observed): count == received.
  const stride = s.buckets.length + 1;
  const row = Array.from(s.rttBuckets.subarray(stride, 2 * stride));
  assert.equal(
    row.reduce((a, b) => a + b, 0),
    2,
  );
  assert.equal(row[bucketIndex(s.buckets, 0.001)], 1);
  assert.equal(row[bucketIndex(s.buckets, 0.003)], 1);
  assert.equal(s.lossRatio[1], 1 / 3);
});

test('Error records count by reason and as lost; TargetInvalid counts by reason but is not a probe', () => {
  const st = new TargetStore();
  st.defineSlot(0, icmp('a'));
  st.applyBatch(
    batch([
      [0, ProbeEvent.Error, ErrorReason.host_unreachable, 0, 0.0004],
      [0, ProbeEvent.Error, ErrorReason.host_unreachable],
      [0, ProbeEvent.Error, ErrorReason.send_failed],
      [0, ProbeEvent.Reply, 0, 0, 0.001],
      [0, ProbeEvent.TargetInvalid, ErrorReason.resolve],
    ]),
  );
  const s = st.snapshot();
  assert.equal(s.errors[ErrorReason.host_unreachable]![0], 2);
  assert.equal(s.errors[ErrorReason.send_failed]![0], 1);
  assert.equal(s.errors[ErrorReason.resolve]![0], 1);
  assert.equal(s.errors[ErrorReason.refused], undefined, 'reason columns are allocated lazily');
  assert.equal(s.received[0], 1);
  assert.equal(s.rttSum[0], 0.001, 'an error RTT is not observed');
  assert.equal(s.lossRatio[0], 3 / 4);
});

test('an error reason code outside the known set is counted as unknown', () => {
  const st = new TargetStore();
  st.defineSlot(0, icmp('a'));
  st.applyBatch(batch([[0, ProbeEvent.Error, 250]]));
  assert.equal(st.snapshot().errors[ErrorReason.unknown]![0], 1);
});

test('tcp_echo Connect and Connected records', () => {
  const st = new TargetStore();
  st.defineSlot(0, { name: 'e', kind: 'tcp_echo', address: '127.0.0.1:7', labels: {} });
  st.applyBatch(
    batch([
      [0, ProbeEvent.Connect],
      [0, ProbeEvent.Connected, 0, 1],
    ]),
  );
  let s = st.snapshot();
  assert.equal(s.connects[0], 1);
  assert.equal(s.connected[0], 1);
  st.applyBatch(
    batch([
      [0, ProbeEvent.Connected, 0, 0],
      [0, ProbeEvent.Connect],
      [0, ProbeEvent.Connected, 0, 7],
    ]),
  );
  s = st.snapshot();
  assert.equal(s.connects[0], 2);
  assert.equal(s.connected[0], 1, 'any nonzero aux means up');
  st.applyBatch(batch([[0, ProbeEvent.Connected, 0, 0]]));
  assert.equal(st.snapshot().connected[0], 0);
});

test('http Phase records fill per-phase histograms; Status keeps the latest code', () => {
  const st = new TargetStore();
  st.defineSlot(2, { name: 'h', kind: 'http', url: 'http://127.0.0.1:8080/', labels: {} });
  st.applyBatch(
    batch([
      [2, ProbeEvent.Phase, 0, 1, 0.0002],
      [2, ProbeEvent.Phase, 0, 4, 0.01],
      [2, ProbeEvent.Phase, 0, 4, 0.02],
      [2, ProbeEvent.Status, 0, 200],
      [2, ProbeEvent.Status, 0, 503],
    ]),
  );
  const s = st.snapshot();
  const stride = s.buckets.length + 1;
  assert.equal(s.phaseBuckets[0], undefined, 'dns phase never recorded: not allocated');
  const connect = s.phaseBuckets[1]!.subarray(2 * stride, 3 * stride);
  assert.equal(connect[bucketIndex(s.buckets, 0.0002)], 1);
  const total = s.phaseBuckets[4]!.subarray(2 * stride, 3 * stride);
  assert.equal(
    total.reduce((a, b) => a + b, 0),
    2,
  );
  assert.equal(s.phaseSum[4]![2], 0.03);
  assert.equal(s.httpStatus[2], 503);
});

test('records for undefined, released or out-of-range slots are dropped and counted', () => {
  const st = new TargetStore();
  st.defineSlot(0, icmp('a'));
  st.defineSlot(1, icmp('b'));
  st.releaseSlot(1);
  st.applyBatch(
    batch([
      [1, ProbeEvent.Sent],
      [5, ProbeEvent.Sent],
      [0xffffffff, ProbeEvent.Reply, 0, 0, 1],
      [0, ProbeEvent.Sent],
    ]),
  );
  assert.equal(st.unknownSlotRecords, 3);
  const s = st.snapshot();
  assert.equal(s.sent[0], 1);
  assert.equal(s.defined[1], 0);
  assert.equal(st.size, 1);
});

test('unknown event codes and HTTP phases are dropped and counted as malformed', () => {
  const st = new TargetStore();
  st.defineSlot(0, { name: 'h', kind: 'http', url: 'http://127.0.0.1/', labels: {} });
  st.applyBatch(
    batch([
      [0, 0],
      [0, 99],
      [0, ProbeEvent.Phase, 0, 17, 0.1],
    ]),
  );
  assert.equal(st.malformedRecords, 3);
  assert.ok(st.snapshot().phaseBuckets.every((p) => p === undefined));
});

test('negative or non-finite values are observed as 0 and counted', () => {
  const st = new TargetStore();
  st.defineSlot(0, icmp('a'));
  st.applyBatch(
    batch([
      [0, ProbeEvent.Reply, 0, 0, -1],
      [0, ProbeEvent.Reply, 0, 0, NaN],
      [0, ProbeEvent.Reply, 0, 0, Infinity],
    ]),
  );
  const s = st.snapshot();
  assert.equal(st.invalidValues, 3);
  assert.equal(s.received[0], 3);
  assert.equal(s.rttSum[0], 0);
  assert.equal(s.rttBuckets[0], 3);
});

test('applyBatch returns the batch header and rejects a malformed buffer without merging', () => {
  const st = new TargetStore();
  st.defineSlot(0, icmp('a'));
  const w = new BatchWriter(4);
  w.header[Header.ProbesStarted] = 42;
  w.push(0, ProbeEvent.Sent);
  const h = st.applyBatch(w.take(3, 9));
  assert.equal(h[Header.WorkerIndex], 3);
  assert.equal(h[Header.BatchSeq], 9);
  assert.equal(h[Header.ProbesStarted], 42);
  assert.throws(() => st.applyBatch(new ArrayBuffer(10)), RangeError);
  assert.equal(st.snapshot().sent[0], 1);
  assert.equal(st.batchesApplied, 1);
});

test('redefining the same target keeps its counters (worker restart, reload) and updates labels', () => {
  const st = new TargetStore();
  st.defineSlot(0, icmp('a', { labels: { dc: 'x' } }));
  st.applyBatch(
    batch([
      [0, ProbeEvent.Sent],
      [0, ProbeEvent.Reply, 0, 0, 0.002],
      [0, ProbeEvent.Timeout],
    ]),
  );
  st.defineSlot(0, icmp('a', { labels: { dc: 'y' } }));
  const s = st.snapshot();
  assert.equal(s.sent[0], 1);
  assert.equal(s.received[0], 1);
  assert.equal(s.lastRtt[0], 0.002);
  assert.equal(s.lossRatio[0], 0.5, 'loss window kept');
  assert.match(labelText(s.labels, 0), /dc="y"/);
});

test('changing only the loss window size keeps counters but restarts the window', () => {
  const st = new TargetStore();
  st.defineSlot(0, icmp('a', { lossWindow: 10 }));
  st.applyBatch(
    batch([
      [0, ProbeEvent.Timeout],
      [0, ProbeEvent.Sent],
    ]),
  );
  st.defineSlot(0, icmp('a', { lossWindow: 20 }));
  const s = st.snapshot();
  assert.equal(s.timeouts[0], 1);
  assert.equal(s.lossRatio[0], 0);
});

test('a different target in a slot (name, kind or address changed) starts from zero', () => {
  for (const next of [icmp('b'), icmp('a', { address: '127.0.0.2' }), { name: 'a', kind: 'tcp', address: '127.0.0.1:80', labels: {} } as SlotDefinition]) {
    const st = new TargetStore();
    st.defineSlot(0, icmp('a'));
    st.applyBatch(
      batch([
        [0, ProbeEvent.Sent],
        [0, ProbeEvent.Reply, 0, 0, 0.002],
        [0, ProbeEvent.Error, ErrorReason.refused],
        [0, ProbeEvent.Phase, 0, 2, 0.1],
        [0, ProbeEvent.Connect],
        [0, ProbeEvent.Status, 0, 200],
      ]),
    );
    st.defineSlot(0, next);
    const s = st.snapshot();
    assert.equal(s.sent[0], 0, JSON.stringify(next));
    assert.equal(s.received[0], 0);
    assert.ok(Number.isNaN(s.lastRtt[0]));
    assert.equal(s.errors[ErrorReason.refused]![0], 0);
    assert.ok(s.rttBuckets.every((x) => x === 0));
    assert.ok(s.phaseBuckets[2]!.every((x) => x === 0));
    assert.equal(s.phaseSum[2]![0], 0);
    assert.equal(s.connects[0], 0);
    assert.equal(s.httpStatus[0], 0);
    assert.equal(s.lossRatio[0], 0);
    assert.equal(st.size, 1);
  }
});

test('a released slot reused by a target starts from zero even with the same name', () => {
  const st = new TargetStore();
  st.defineSlot(4, icmp('a'));
  st.applyBatch(batch([[4, ProbeEvent.Sent]]));
  st.releaseSlot(4);
  assert.equal(st.isDefined(4), false);
  st.defineSlot(4, icmp('a'));
  assert.equal(st.snapshot().sent[4], 0);
  st.releaseSlot(4);
  st.releaseSlot(4); // idempotent
  assert.equal(st.size, 0);
});

test('storage grows to the slot high-water mark and keeps every value', () => {
  const st = new TargetStore({ initialSlots: 16 });
  st.defineSlot(3, icmp('a'));
  st.applyBatch(
    batch([
      [3, ProbeEvent.Reply, 0, 0, 0.5],
      [3, ProbeEvent.Error, ErrorReason.ttl_exceeded],
      [3, ProbeEvent.Phase, 0, 0, 0.25],
    ]),
  );
  st.defineSlot(40_000, icmp('far'));
  assert.equal(st.slotCapacity, 40_001); // max(slot + 1, capacity × 1.5): not the next power of two
  assert.equal(st.highWater, 40_001);
  st.applyBatch(
    batch([
      [40_000, ProbeEvent.Reply, 0, 0, 0.001],
      [40_000, ProbeEvent.Error, ErrorReason.ttl_exceeded],
      [40_000, ProbeEvent.Phase, 0, 0, 0.5],
    ]),
  );
  const s = st.snapshot();
  assert.equal(s.received[3], 1);
  assert.equal(s.rttSum[3], 0.5);
  assert.equal(s.errors[ErrorReason.ttl_exceeded]![3], 1);
  assert.equal(s.errors[ErrorReason.ttl_exceeded]![40_000], 1);
  assert.equal(s.phaseSum[0]![3], 0.25);
  assert.equal(s.phaseSum[0]![40_000], 0.5);
  assert.equal(s.lossRatio[3], 0.5);
  assert.equal(s.lossRatio[40_000], 0.5);
  assert.equal(
    s.defined.reduce((a, b) => a + b, 0),
    2,
  );
});

test('counters are monotonic across many batches (no reset between batches)', () => {
  const st = new TargetStore();
  st.defineSlot(0, icmp('a'));
  for (let i = 1; i <= 50; i++)
    st.applyBatch(
      batch(
        [
          [0, ProbeEvent.Sent],
          [0, ProbeEvent.Reply, 0, 0, 0.001],
        ],
        i % 2,
        i,
      ),
    );
  assert.equal(st.snapshot().sent[0], 50);
  assert.equal(st.snapshot().received[0], 50);
});

test('a snapshot is isolated from later merges and redefinitions', () => {
  const st = new TargetStore();
  st.defineSlot(0, icmp('a'));
  const before = st.snapshot();
  st.applyBatch(
    batch([
      [0, ProbeEvent.Sent],
      [0, ProbeEvent.Reply, 0, 0, 0.001],
    ]),
  );
  st.defineSlot(0, icmp('b'));
  assert.equal(before.sent[0], 0);
  assert.equal(
    before.rttBuckets.reduce((a, b) => a + b, 0),
    0,
  );
  assert.match(labelText(before.labels, 0), /target="a"/, 'a snapshot keeps the labels it was taken with');
});

test('label fragment: fixed order target, address, kind, then user labels sorted, escaped', () => {
  const st = new TargetStore();
  st.defineSlot(0, { name: 'we"ird\\na\nme', kind: 'icmp', address: '::1', labels: { zone: 'ü', app: 'x"y', b_2: 'line1\nline2' } });
  const s = st.snapshot();
  assert.equal(labelText(s.labels, 0), 'target="we\\"ird\\\\na\\nme",address="::1",kind="icmp",app="x\\"y",b_2="line1\\nline2",zone="ü"');
});

test('http targets without an address use the url as the address label', () => {
  const st = new TargetStore();
  st.defineSlot(0, { name: 'h', kind: 'http', url: 'https://127.0.0.1:8443/health', labels: {} });
  assert.match(labelText(st.snapshot().labels, 0), /address="https:\/\/127.0.0.1:8443\/health"/);
});

test('invalid definitions throw and leave the slot untouched', () => {
  const st = new TargetStore();
  st.defineSlot(0, icmp('a'));
  st.applyBatch(batch([[0, ProbeEvent.Sent]]));
  assert.throws(() => st.defineSlot(0, icmp('b', { labels: { target: 'x' } })), /reserved/);
  assert.throws(() => st.defineSlot(0, icmp('b', { labels: { __x: 'x' } })), /reserved/);
  assert.throws(() => st.defineSlot(0, icmp('b', { labels: { 'bad-name': 'x' } })), /invalid label name/);
  assert.throws(() => st.defineSlot(0, icmp('b', { labels: { le: 'x' } })), /reserved/);
  assert.throws(() => st.defineSlot(0, icmp('b', { lossWindow: 0 })), RangeError);
  assert.throws(() => st.defineSlot(0, { ...icmp('b'), kind: 'smtp' as never }), /unknown probe kind/);
  assert.throws(() => st.defineSlot(-1, icmp('b')), RangeError);
  assert.equal(st.nameOf(0), 'a');
  assert.equal(st.snapshot().sent[0], 1);
});

test('a custom bucket layout is validated and used', () => {
  assert.throws(() => new TargetStore({ buckets: [2, 1] }), RangeError);
  const st = new TargetStore({ buckets: [0.01, 0.1] });
  st.defineSlot(0, icmp('a'));
  st.applyBatch(
    batch([
      [0, ProbeEvent.Reply, 0, 0, 0.05],
      [0, ProbeEvent.Reply, 0, 0, 5],
    ]),
  );
  assert.deepEqual(Array.from(st.snapshot().rttBuckets), [0, 1, 1]);
});

test('a record counts on a slot only if its batch was written at or after the slot got its target (every small pair of generations)', () => {
  for (let slotGen = 0; slotGen <= 4; slotGen++) {
    for (let batchGen = 0; batchGen <= 4; batchGen++) {
      const st = new TargetStore();
      st.defineSlot(0, icmp('a'), slotGen);
      const w = new BatchWriter(4);
      w.push(0, ProbeEvent.Sent);
      w.push(0, ProbeEvent.Reply, 0, 0, 0.002);
      st.applyBatch(w.take(1, 1, batchGen));
      const s = st.snapshot();
      const counts = batchGen >= slotGen;
      assert.equal(s.sent[0], counts ? 1 : 0, `slot at ${slotGen}, batch at ${batchGen}`);
      assert.equal(s.received[0], counts ? 1 : 0);
      assert.equal(st.staleRecords, counts ? 0 : 2);
      assert.equal(st.unknownSlotRecords, 0);
    }
  }
});

test('a new target in a slot takes the new generation; the same target keeps its own (and its counters)', () => {
  const st = new TargetStore();
  st.defineSlot(0, icmp('a'), 3);
  st.applyBatch(batch([[0, ProbeEvent.Sent]]));
  assert.equal(st.staleRecords, 1, 'a batch of generation 0 predates the definition at 3');
  const w = new BatchWriter(4);
  w.push(0, ProbeEvent.Sent);
  st.applyBatch(w.take(0, 2, 3));
  st.defineSlot(0, icmp('a', { labels: { rack: 'r1' } }), 7); // same identity: not a new target
  assert.equal(st.slotGeneration(0), 3);
  assert.equal(st.snapshot().sent[0], 1);
  st.defineSlot(0, icmp('a', { address: '127.0.0.2' }), 8); // another address: a new target in place
  assert.equal(st.slotGeneration(0), 8);
  assert.equal(st.snapshot().sent[0], 0);
  const late = new BatchWriter(4);
  late.push(0, ProbeEvent.Reply, 0, 0, 0.001); // written while the worker still probed 127.0.0.1
  st.applyBatch(late.take(0, 3, 7));
  assert.equal(st.snapshot().received[0], 0, 'a reply of the old address is not counted on the new one');
  assert.equal(st.staleRecords, 2);
  st.releaseSlot(0);
  assert.ok(Number.isNaN(st.slotGeneration(0)));
});

test('capacity: reserve() sizes every column exactly; one slot past it grows by half, never to a power of two', () => {
  const st = new TargetStore({ initialSlots: 16 });
  st.reserve(100_000);
  assert.equal(st.slotCapacity, 100_000);
  for (let s = 0; s < 100_000; s += 997) st.defineSlot(s, icmp(`t${s}`));
  assert.equal(st.slotCapacity, 100_000);
  st.defineSlot(100_000, icmp('one-more'));
  assert.equal(st.slotCapacity, 150_000);
  st.reserve(10); // never shrinks
  assert.equal(st.slotCapacity, 150_000);
  // Adding slots one at a time: capacity stays within 1.5× of what is used.
  const one = new TargetStore({ initialSlots: 16 });
  for (let s = 0; s < 5000; s++) {
    one.defineSlot(s, icmp(`t${s}`));
    assert.ok(one.slotCapacity <= Math.max(16, Math.ceil(1.5 * (s + 1))), `capacity ${one.slotCapacity} for ${s + 1} slots`);
  }
});

test('columns of kind-specific families are not allocated until a slot of one of their kinds is defined', () => {
  const st = new TargetStore({ initialSlots: 1000 });
  for (let s = 0; s < 10; s++) st.defineSlot(s, icmp(`t${s}`));
  for (const c of ['connects', 'connected', 'httpStatus'] as const) assert.equal(st.columnAllocated(c), false, c);
  for (const c of ['sent', 'received', 'timeouts', 'late', 'duplicates', 'lastRtt'] as const) assert.equal(st.columnAllocated(c), true, c);
  const icmpOnly = st.memoryBytes().columns;
  // A Connect record for an icmp slot (a confused worker) changes nothing that is exposed, and allocates nothing.
  st.applyBatch(
    batch([
      [1, ProbeEvent.Connect],
      [1, ProbeEvent.Connected, 0, 1],
      [1, ProbeEvent.Status, 0, 200],
    ]),
  );
  assert.equal(st.memoryBytes().columns, icmpOnly);
  const before = st.snapshot();
  assert.deepEqual([...before.connects], new Array(10).fill(0));
  assert.deepEqual([...before.httpStatus], new Array(10).fill(0));

  st.defineSlot(10, { name: 'e', kind: 'tcp_echo', address: '127.0.0.1:7' });
  assert.equal(st.columnAllocated('connects'), true);
  assert.equal(st.columnAllocated('connected'), true);
  assert.equal(st.columnAllocated('httpStatus'), false);
  assert.equal(st.memoryBytes().columns, icmpOnly + 2 * 8 * st.slotCapacity);
  st.applyBatch(
    batch([
      [10, ProbeEvent.Connect],
      [10, ProbeEvent.Connected, 0, 1],
    ]),
  );
  const after = st.snapshot();
  assert.equal(after.connects[10], 1);
  assert.equal(after.connected[10], 1);
  // Growing keeps the allocated column's values and leaves the unallocated one unallocated.
  st.defineSlot(5000, icmp('far'));
  assert.equal(st.snapshot().connects[10], 1);
  assert.equal(st.columnAllocated('httpStatus'), false);
  st.defineSlot(11, { name: 'h', kind: 'http', url: 'http://127.0.0.1:1/' });
  assert.equal(st.columnAllocated('httpStatus'), true);
  st.applyBatch(batch([[11, ProbeEvent.Status, 0, 204]]));
  assert.equal(st.snapshot().httpStatus[11], 204);
});

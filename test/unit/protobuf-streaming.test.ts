/**
 * The streaming protobuf writer (sized families written once into fixed-size chunks)
 * against the reference writer it replaced (test/helpers/protobuf-reference.ts: each
 * message built whole, its length put in front at its end): byte for byte, for stores
 * of every kind, with and without classic buckets, chunk sizes that split every field,
 * varints of every length the exposition can produce, and labels longer than the
 * sink's slack. Also decoded with protobufjs where the bytes are unusual.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ProbeEvent } from '../../src/protocol/events.js';
import { TargetStore, type StoreSnapshot } from '../../src/aggregate/store.js';
import type { ExpHistogramColumnsView } from '../../src/aggregate/exp-histogram.js';
import { protobufChunks, DEFAULT_PROTOBUF_CHUNK_BYTES } from '../../src/metrics/protobuf-exposition.js';
import { ChunkSink, DEFAULT_SINK_SLACK } from '../../src/metrics/chunk-sink.js';
import { putDouble, putVarint, varintSize, viewOf } from '../../src/metrics/proto-wire.js';
import { PROBE_KINDS, type ProbeKind } from '../../src/targets/model.js';
import { populatedStore } from '../helpers/populated-store.js';
import { referenceProtobufChunks } from '../helpers/protobuf-reference.js';
import { decodeDelimited } from '../helpers/prom-protobuf.js';

const CHUNK_SIZES = [1, 7, 64, 4096, DEFAULT_PROTOBUF_CHUNK_BYTES];

/** The new writer's output for `snap`, checked chunk by chunk: every chunk but the last exactly chunkBytes. */
function streamed(snap: StoreSnapshot, classicHistograms: boolean, chunkBytes: number): Buffer {
  const chunks = [...protobufChunks(snap, { classicHistograms }, chunkBytes)];
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i];
    if (i < chunks.length - 1) assert.equal(c.length, chunkBytes, `chunk ${i} of ${chunks.length} at chunk size ${chunkBytes}`);
    else assert.ok(c.length >= 1 && c.length <= chunkBytes, `last chunk: ${c.length} bytes at chunk size ${chunkBytes}`);
  }
  return Buffer.concat(chunks);
}

function reference(snap: StoreSnapshot, classicHistograms: boolean): Buffer {
  return Buffer.concat([...referenceProtobufChunks(snap, { classicHistograms })]);
}

/** Same bytes as the reference at every chunk size, both classic settings; returns the reference (classic on). */
function assertSameAsReference(snap: StoreSnapshot, what: string, chunkSizes = CHUNK_SIZES): Buffer {
  let out: Buffer = Buffer.alloc(0);
  for (const classic of [true, false]) {
    const want = reference(snap, classic);
    if (classic) out = want;
    for (const size of chunkSizes) {
      const got = streamed(snap, classic, size);
      if (!got.equals(want)) {
        let at = 0;
        while (at < got.length && at < want.length && got[at] === want[at]) at++;
        assert.fail(`${what}, classic ${classic}, chunk ${size}: ${got.length} bytes, want ${want.length}; first difference at byte ${at}`);
      }
    }
  }
  return out;
}

function storeOf(kinds: readonly ProbeKind[], labels: (s: number) => Record<string, string> | undefined = () => undefined, buckets?: number[]): TargetStore {
  const store = new TargetStore(buckets === undefined ? { initialSlots: 4 } : { initialSlots: 4, buckets });
  kinds.forEach((kind, s) =>
    store.defineSlot(s, {
      name: `t${s}`,
      kind,
      address: kind === 'icmp' ? `127.0.0.${s + 1}` : kind === 'http' ? undefined : `127.0.0.${s + 1}:7`,
      url: kind === 'http' ? `http://127.0.0.${s + 1}:8080/` : undefined,
      labels: labels(s),
    }),
  );
  return store;
}

function probe(store: TargetStore, slots: number, rounds: number): void {
  const w = new BatchWriter(64);
  for (let r = 0; r < rounds; r++) {
    for (let s = 0; s < slots; s++) {
      w.push(s, ProbeEvent.Sent);
      if ((s + r) % 5 === 0) w.push(s, ProbeEvent.Timeout);
      else w.push(s, ProbeEvent.Reply, 0, 0, 0.0001 * (1 + ((s * 7 + r * 13) % 400)));
      if ((s + r) % 7 === 0) w.push(s, ProbeEvent.Error, (s + r) % 9);
      w.push(s, ProbeEvent.Phase, 0, (s + r) % 5, 0.002);
    }
    store.applyBatch(w.take(0, r + 1));
  }
}

test('the populated store (every kind, escaped labels, an empty slot, a redefined slot): same bytes as the reference at chunk sizes 1, 7, 64, 4096 and the default', () => {
  assertSameAsReference(populatedStore().snapshot(), 'default buckets');
  assertSameAsReference(populatedStore([0.0005, 0.01, 0.25, 2]).snapshot(), 'custom buckets');
});

test('stores of one kind each, a store with released slots, and an empty store: same bytes as the reference', () => {
  for (const kind of PROBE_KINDS) {
    const store = storeOf([kind, kind, kind]);
    assertSameAsReference(store.snapshot(), `${kind}, never probed`);
    probe(store, 3, 6);
    assertSameAsReference(store.snapshot(), `${kind}, probed`);
  }
  const mixed = storeOf(['icmp', 'http', 'tcp', 'udp', 'tcp_echo', 'icmp']);
  probe(mixed, 6, 9);
  mixed.releaseSlot(1);
  mixed.releaseSlot(5); // the highest slot: the snapshot's high water still covers it, undefined
  assertSameAsReference(mixed.snapshot(), 'released slots');
  const empty = new TargetStore({ initialSlots: 4 });
  assert.equal(reference(empty.snapshot(), true).length, 0);
  for (const size of [1, 7]) assert.deepEqual([...protobufChunks(empty.snapshot(), { classicHistograms: true }, size)], [], 'an empty store writes nothing');
});

test('metrics.series_labels compact (fleetprobe_target_info first, address and kind only there): same bytes as the reference', () => {
  const kinds: ProbeKind[] = ['icmp', 'http', 'tcp', 'udp', 'tcp_echo', 'icmp'];
  const store = new TargetStore({ initialSlots: 4, seriesLabels: 'compact' });
  kinds.forEach((kind, s) =>
    store.defineSlot(s, {
      name: `t${s}`,
      kind,
      address: kind === 'icmp' ? `127.0.0.${s + 1}` : kind === 'http' ? undefined : `127.0.0.${s + 1}:7`,
      url: kind === 'http' ? `http://127.0.0.${s + 1}:8080/` : undefined,
      labels: s % 2 === 0 ? { rack: `r${s}`, note: 'x'.repeat(s * 40) } : undefined,
    }),
  );
  probe(store, kinds.length, 5);
  store.releaseSlot(2);
  const want = assertSameAsReference(store.snapshot(), 'compact');
  const fams = decodeDelimited(want);
  assert.equal(fams[0].name, 'fleetprobe_target_info');
  assert.equal(fams[0].metric.length, kinds.length - 1);
  assert.equal(reference(new TargetStore({ initialSlots: 4, seriesLabels: 'compact' }).snapshot(), true).length, 0, 'no target: no info family');
});

test('labels longer than a chunk and than the sink slack (a record that grows the buffer), and 2-byte Metric lengths', () => {
  const labels: Record<string, string>[] = [{ big: 'x'.repeat(DEFAULT_SINK_SLACK * 2 + 17) }, { mid: 'ü'.repeat(300) }, { small: 'a' }];
  const store = storeOf(['icmp', 'http', 'icmp'], (s) => labels[s]);
  probe(store, 3, 4);
  const want = assertSameAsReference(store.snapshot(), 'large labels', [1, 7, 4096, 40_000, DEFAULT_PROTOBUF_CHUNK_BYTES]);
  const fams = decodeDelimited(want);
  const sent = fams.find((f) => f.name === 'fleetprobe_probe_sent_total')!;
  assert.equal(sent.metric.length, 3);
  assert.equal(sent.metric[0].label!.find((l) => l.name === 'big')!.value.length, DEFAULT_SINK_SLACK * 2 + 17);
});

/** Every integer length a varint of the exposition can have: 1 to 8 bytes (counts are doubles below 2^53). */
const VARINT_EDGES = [
  0,
  1,
  127,
  128,
  16383,
  16384,
  2 ** 21 - 1,
  2 ** 21,
  2 ** 28 - 1,
  2 ** 28,
  2 ** 35 - 1,
  2 ** 35,
  2 ** 42,
  2 ** 49 - 1,
  2 ** 49,
  2 ** 53 - 1,
];

test('counts needing varints of 1 to 8 bytes, negative and large deltas, spans far from zero, deltas longer than 127 bytes: same bytes as the reference', () => {
  // One bound more than the edges: slot 0's cumulative counts are the edges, one per bucket.
  const bounds = Array.from({ length: VARINT_EDGES.length }, (_, i) => 0.0001 * 2 ** i);
  const store = storeOf(['icmp', 'icmp', 'icmp', 'http'], undefined, bounds);
  probe(store, 4, 3);
  const snap = store.snapshot();
  // Snapshot columns are the scrape's own copies: set them to the values to test.
  const rtt = (snap as unknown as Record<string, Float64Array>).rttBuckets;
  const stride = snap.buckets.length + 1;
  assert.equal(stride, VARINT_EDGES.length + 1);
  const native = (snap as unknown as Record<string, ExpHistogramColumnsView>).rttNative as {
    schema: Int8Array;
    first: Int32Array;
    counts: Float64Array;
    zero: Float64Array;
    window: number;
  };
  // Slot 0: non-cumulative rows whose cumulative counts are the edges (the total, 2^53 - 1, too).
  for (let b = 0; b < stride; b++) rtt[b] = b === 0 ? VARINT_EDGES[0] : b < VARINT_EDGES.length ? VARINT_EDGES[b] - VARINT_EDGES[b - 1] : 0;
  // Slot 1: a count at 2^49 in its +Inf bucket only.
  rtt.fill(0, stride, 2 * stride);
  rtt[2 * stride - 1] = 2 ** 49;
  // Slot 0's native window: every cell populated, alternating huge and zero counts (deltas of
  // ±2^49: 8 bytes each, 320 bytes of deltas), negative schema, a far negative span offset.
  const w = native.window;
  for (let c = 0; c < w; c++) native.counts[c] = c % 2 === 0 ? 2 ** 49 - 1 : 0;
  native.counts[w - 1] = 3;
  native.schema[0] = -4;
  native.first[0] = -(2 ** 30);
  native.zero[0] = 2 ** 40;
  // Slot 1: one populated cell, every other slot-1 field at an edge.
  native.counts.fill(0, w, 2 * w);
  native.counts[w + w - 1] = 2 ** 35;
  native.first[1] = 2 ** 20;
  native.schema[1] = 8;
  native.zero[1] = 127;
  // Slot 2: first set but no cell populated (a window emptied by a downscale): no span at all.
  native.counts.fill(0, 2 * w, 3 * w);
  native.first[2] = 5;
  snap.sent[2] = 2 ** 60; // doubles: any value
  const want = assertSameAsReference(snap, 'edge varints');
  const rttFam = decodeDelimited(want).find((f) => f.name === 'fleetprobe_probe_rtt_seconds')!;
  const h0 = rttFam.metric[0].histogram!;
  assert.deepEqual(
    h0.bucket!.map((b) => b.cumulative_count),
    VARINT_EDGES,
  );
  assert.equal(h0.sample_count, 2 ** 53 - 1);
  assert.equal(h0.schema, -4);
  assert.equal(h0.zero_count, 2 ** 40);
  assert.equal(h0.positive_span![0].offset, -(2 ** 30));
  assert.equal(h0.positive_delta!.length, w);
  assert.equal(rttFam.metric[2].histogram!.positive_span?.length ?? 0, 0, 'no span');
});

test('a bigger fleet (mixed kinds, 3,000 targets): same bytes as the reference', () => {
  const n = 3000;
  const kinds = Array.from({ length: n }, (_, s): ProbeKind => (s % 10 < 7 ? 'icmp' : PROBE_KINDS[s % PROBE_KINDS.length]));
  const store = storeOf(kinds, (s) => ({ region: `eu-${s % 3}`, rack: `r${s % 40}` }));
  probe(store, n, 5);
  assertSameAsReference(store.snapshot(), '3,000 targets', [7, 65_536]);
});

test('proto-wire: varints of every length, and doubles, as the protobuf encoding has them', () => {
  const buf = new Uint8Array(16);
  for (const v of VARINT_EDGES) {
    const end = putVarint(buf, 0, v);
    assert.equal(end, varintSize(v), `size of ${v}`);
    let x = 0;
    for (let i = end - 1; i >= 0; i--) x = x * 128 + (buf[i] & 0x7f);
    assert.equal(x, v);
    for (let i = 0; i < end; i++) assert.equal(buf[i] >= 0x80, i < end - 1, `continuation bit of byte ${i} of ${v}`);
  }
  for (const v of [0, -0, 1.5, -(2 ** 60), Infinity, -Infinity, NaN, Number.MIN_VALUE, 2 ** -128]) {
    assert.equal(putDouble(viewOf(buf), 3, v), 11);
    const want = Buffer.alloc(8);
    want.writeDoubleLE(v);
    assert.deepEqual(Buffer.from(buf.subarray(3, 11)), want, `double ${v}`);
  }
});

test('ChunkSink: chunks of exactly the chunk size, records across chunk edges, handed-out chunks never overwritten', () => {
  for (const size of [1, 3, 10]) {
    const sink = new ChunkSink(size, 4);
    const out: Buffer[] = [];
    const want: number[] = [];
    for (let r = 0; r < 30; r++) {
      const len = (r * 5) % 13; // 0..12 bytes, more than the slack at times
      sink.room(len);
      for (let i = 0; i < len; i++) {
        sink.buf[sink.pos++] = (r * 31 + i) & 255;
        want.push((r * 31 + i) & 255);
      }
      if (sink.full) out.push(...sink.cut());
      assert.ok(sink.pos < size || !sink.full);
    }
    out.push(...sink.finish());
    for (const c of out.slice(0, -1)) assert.equal(c.length, size);
    assert.deepEqual([...Buffer.concat(out)], want, `chunk size ${size}`);
  }
  const appended = new ChunkSink(3, 1);
  appended.append(Uint8Array.from([1, 2]));
  appended.append(Uint8Array.from([3, 4, 5, 6, 7, 8, 9])); // longer than the slack
  assert.deepEqual(
    appended.finish().map((c) => [...c]),
    [
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ],
  );
  assert.deepEqual(new ChunkSink(8).finish(), [], 'nothing written: no chunk');
  assert.throws(() => new ChunkSink(0), RangeError);
});

/**
 * Group rollups (aggregate/groups.ts and what exports them): group keys, source and
 * destination labels, accumulation against the per-target series of the same store,
 * counters that stay monotonic while targets come, go and change labels, folding beyond
 * the limit, mesh sources, and the text and OTLP forms against the group catalog.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DataPointType, type DataPoint, type Histogram } from '@opentelemetry/sdk-metrics';
import { ValueType } from '@opentelemetry/api';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ERROR_REASON_NAMES, ProbeEvent } from '../../src/protocol/events.js';
import { TargetStore, type SlotDefinition } from '../../src/aggregate/store.js';
import { GroupRollups, OTHER_GROUP, cellLabels, groupKey, groupValues, sourceValues, type GroupRollupSnapshot } from '../../src/aggregate/groups.js';
import { NO_GROUP, rowKey } from '../../src/aggregate/matrix.js';
import { GROUP_FAMILIES, GROUP_FAMILY_DECLS, groupCellLayout } from '../../src/metrics/group-catalog.js';
import { renderGroupExpositionText } from '../../src/metrics/group-exposition.js';
import { groupMetricData, groupSnapshotMetrics } from '../../src/metrics/group-otel.js';
import { GroupRollupExports } from '../../src/metrics/group-rollups.js';
import { renderExpositionText } from '../../src/metrics/exposition.js';
import { StoreMetricProducer } from '../../src/metrics/otel-producer.js';
import { parsePrometheusText, type Sample } from '../../src/metrics/text-parse.js';
import { METRIC_FAMILIES } from '../../src/metrics/catalog.js';
import { formatNumber } from '../../src/metrics/format.js';
import { PROBE_KINDS } from '../../src/kinds/index.js';
import { populatedStore } from '../helpers/populated-store.js';
import { Registry } from 'prom-client';

const BUCKETS = [0.001, 0.01, 0.1];

function setup(groupBy: string[], limit = 100, now: () => number = () => 1_000) {
  const store = new TargetStore({ buckets: BUCKETS, initialSlots: 4 });
  const g = new GroupRollups({ groupBy, limit, stride: BUCKETS.length + 1, liveColumns: () => store.liveColumns(), now });
  store.observeSlots(g);
  return { store, g };
}

function icmp(name: string, labels: Record<string, string>): SlotDefinition {
  return { name, kind: 'icmp', address: '127.0.0.1', labels };
}

/** Every slot in `slots`: `sent` probes, `answered` of them answered with `rtt`, then one timeout per lost and an error for every third lost. */
function probe(store: TargetStore, slots: number[], sent: number, answered: number, rtt = 0.005): void {
  const w = new BatchWriter(1024);
  for (const s of slots) {
    for (let i = 0; i < sent; i++) {
      w.push(s, ProbeEvent.Sent);
      if (i < answered) w.push(s, ProbeEvent.Reply, 0, 0, rtt);
      else if (i % 3 === 0) w.push(s, ProbeEvent.Error, 5);
      else w.push(s, ProbeEvent.Timeout);
    }
  }
  store.applyBatch(w.take(0, 1));
}

/** cell of a snapshot by its labels (as "k=v,k=v"), with the catalog's numbers by family id. */
function cells(r: GroupRollupSnapshot): Map<string, Record<string, number | number[]>> {
  const out = new Map<string, Record<string, number | number[]>>();
  const { width, stride, offset } = r.layout;
  r.cells.forEach((c, i) => {
    const row: Record<string, number | number[]> = { targets: c.targets };
    for (const f of GROUP_FAMILIES) {
      if (f.countsTargets) continue;
      const o = i * width + offset[f.id];
      if (f.type === 'histogram') {
        row[`${f.id}Buckets`] = Array.from(r.values.subarray(o, o + stride));
        row[`${f.id}Sum`] = r.values[o + stride];
      } else row[f.id] = r.values[o];
    }
    out.set(c.labels.map(([k, v]) => `${k}=${v}`).join(','), row);
  });
  return out;
}

const collect = (store: TargetStore, g: GroupRollups, source: string[] | null = null) => cells(g.collect(store.snapshot(), source));

// ------------------------------------------------------------------ keys and labels

test('group keys: the values of the group_by labels in order, "" for a missing one, never ambiguous', () => {
  assert.deepEqual(groupValues({ rack: 'r1', pod: 'p2', other: 'x' }, ['pod', 'rack']), ['p2', 'r1']);
  assert.deepEqual(groupValues({ rack: 'r1' }, ['rack', 'pod']), ['r1', NO_GROUP]);
  assert.deepEqual(groupValues(undefined, ['rack']), [NO_GROUP]);
  assert.notEqual(groupKey(['a,b']), groupKey(['a', 'b']));
  assert.notEqual(groupKey(['a', '']), groupKey(['', 'a']));
  assert.notEqual(groupKey(['a"', 'b']), groupKey(['a', '"b']));
  assert.equal(groupKey(['r1', 'p2']), groupKey(['r1', 'p2']));
});

test("source values are the matrix's row keys: prober and peer name the node, other labels are the node's own", () => {
  const node = { node: 'node-a', labels: { rack: 'r9', site: 's1' } };
  assert.deepEqual(sourceValues(node, ['rack', 'peer', 'prober', 'pod']), ['r9', 'node-a', 'node-a', NO_GROUP]);
  for (const l of ['rack', 'peer', 'prober', 'pod']) assert.equal(sourceValues(node, [l])[0], rowKey(node, l), l);
});

test('cell labels: src_* only with a source, then dst_*, then kind; empty values left out', () => {
  assert.deepEqual(cellLabels(['rack', 'pod'], null, ['r1', ''], 'icmp'), [
    ['dst_rack', 'r1'],
    ['kind', 'icmp'],
  ]);
  assert.deepEqual(cellLabels(['rack', 'pod'], ['r0', 'p0'], ['r1', 'p1'], 'udp'), [
    ['src_rack', 'r0'],
    ['src_pod', 'p0'],
    ['dst_rack', 'r1'],
    ['dst_pod', 'p1'],
    ['kind', 'udp'],
  ]);
  assert.deepEqual(cellLabels(['rack'], [''], [''], 'http'), [['kind', 'http']]);
});

// ------------------------------------------------------------------ accumulation

test('each (group, kind) cell sums its targets: sent, received, lost = timeouts + errors, the RTT histogram, the target count', () => {
  const { store, g } = setup(['rack']);
  store.defineSlot(0, icmp('a', { rack: 'r1' }));
  store.defineSlot(1, icmp('b', { rack: 'r1' }));
  store.defineSlot(2, icmp('c', { rack: 'r2' }));
  store.defineSlot(3, { name: 'd', kind: 'tcp', address: '127.0.0.1:1', labels: { rack: 'r1' } });
  store.defineSlot(4, icmp('e', {}));
  // RTTs exact in binary, so sums compare exactly.
  probe(store, [0, 1], 10, 7, 2 ** -8);
  probe(store, [2], 6, 6, 2 ** -4);
  probe(store, [3], 4, 1, 0.5);
  probe(store, [4], 2, 2, 2 ** -11);
  const c = collect(store, g);
  assert.deepEqual([...c.keys()].sort(), ['dst_rack=r1,kind=icmp', 'dst_rack=r1,kind=tcp', 'dst_rack=r2,kind=icmp', 'kind=icmp']);
  assert.deepEqual(c.get('dst_rack=r1,kind=icmp'), { targets: 2, sent: 20, received: 14, lost: 6, rttBuckets: [0, 14, 0, 0], rttSum: 14 * 2 ** -8 });
  assert.deepEqual(c.get('dst_rack=r2,kind=icmp'), { targets: 1, sent: 6, received: 6, lost: 0, rttBuckets: [0, 0, 6, 0], rttSum: 6 * 2 ** -4 });
  assert.deepEqual(c.get('dst_rack=r1,kind=tcp'), { targets: 1, sent: 4, received: 1, lost: 3, rttBuckets: [0, 0, 0, 1], rttSum: 0.5 });
  assert.deepEqual(c.get('kind=icmp'), { targets: 1, sent: 2, received: 2, lost: 0, rttBuckets: [2, 0, 0, 0], rttSum: 2 * 2 ** -11 });
  assert.deepEqual(g.stats(), { groups: 3, folded: 0, foldedTargets: 0 });
});

test('the text rollup equals the per-target series of the same snapshot summed by group and kind (populated store: every kind, reason and odd label)', () => {
  const store = new TargetStore({ initialSlots: 16 });
  const rollups = new GroupRollupExports(store, { groupBy: ['rack', 'note'], limit: 1000 }, () => null);
  const filled = populatedStore();
  // The populated store's targets, redefined into a store the rollups watch from the start, and its batches replayed.
  const src = filled.snapshot();
  for (let s = 0; s < src.highWater; s++) {
    const attrs = filled.slotAttributes(s);
    if (attrs === undefined) continue;
    const { target, address, kind, ...labels } = attrs;
    store.defineSlot(s, {
      name: target,
      kind: kind as SlotDefinition['kind'],
      address: kind === 'http' ? undefined : address,
      url: kind === 'http' ? address : undefined,
      labels,
    });
  }
  const w = new BatchWriter(4096);
  for (let s = 0; s < src.highWater; s++) {
    if (src.defined[s] !== 1) continue;
    for (let i = 0; i < src.sent[s]; i++) w.push(s, ProbeEvent.Sent);
    for (let i = 0; i < src.timeouts[s]; i++) w.push(s, ProbeEvent.Timeout);
    src.errors.forEach((col, r) => {
      for (let i = 0; i < (col?.[s] ?? 0); i++) w.push(s, ProbeEvent.Error, r);
    });
    const stride = src.buckets.length + 1;
    for (let b = 0; b < stride; b++)
      for (let i = 0; i < src.rttBuckets[s * stride + b]; i++) w.push(s, ProbeEvent.Reply, 0, 0, b < src.buckets.length ? src.buckets[b] : 100);
  }
  store.applyBatch(w.take(0, 1));
  const snap = store.snapshot();
  const perTarget = parsePrometheusText(renderExpositionText(snap)).samples;
  const groups = parsePrometheusText(renderGroupExpositionText(rollups.collect(snap), snap.buckets)).samples;
  const keyOf = (l: Record<string, string>) => `${l.rack ?? ''}|${l.note ?? ''}|${l.kind}`;
  const groupKeyOf = (l: Record<string, string>) => `${l.dst_rack ?? ''}|${l.dst_note ?? ''}|${l.kind}`;
  const sumBy = (samples: Sample[], names: string[], key: (l: Record<string, string>) => string, le?: string) => {
    const m = new Map<string, number>();
    for (const s of samples)
      if (names.includes(s.name) && (le === undefined || s.labels.le === le)) m.set(key(s.labels), (m.get(key(s.labels)) ?? 0) + s.value);
    return m;
  };
  const same = (perTargetNames: string[], groupName: string, le?: string) => {
    const a = sumBy(perTarget, perTargetNames, keyOf, le);
    const b = sumBy(groups, [groupName], groupKeyOf, le);
    assert.deepEqual([...b.entries()].sort(), [...a.entries()].sort(), `${groupName}${le ? ` le=${le}` : ''}`);
  };
  same(['fleetprobe_probe_sent_total'], 'fleetprobe_group_probes_sent_total');
  same(['fleetprobe_probe_received_total'], 'fleetprobe_group_probes_received_total');
  same(['fleetprobe_probe_timeouts_total', 'fleetprobe_probe_errors_total'], 'fleetprobe_group_probes_lost_total');
  for (const le of [...Array.from(snap.buckets, formatNumber), '+Inf'])
    same(['fleetprobe_probe_rtt_seconds_bucket'], 'fleetprobe_group_rtt_seconds_bucket', le);
  same(['fleetprobe_probe_rtt_seconds_count'], 'fleetprobe_group_rtt_seconds_count');
  // Targets per group: the number of per-target sent series.
  const counts = new Map<string, number>();
  for (const s of perTarget) if (s.name === 'fleetprobe_probe_sent_total') counts.set(keyOf(s.labels), (counts.get(keyOf(s.labels)) ?? 0) + 1);
  assert.deepEqual([...sumBy(groups, ['fleetprobe_group_targets'], groupKeyOf).entries()].sort(), [...counts.entries()].sort());
  // Sums compare with float tolerance (added in another order).
  const sums = sumBy(groups, ['fleetprobe_group_rtt_seconds_sum'], groupKeyOf);
  for (const [k, v] of sumBy(perTarget, ['fleetprobe_probe_rtt_seconds_sum'], keyOf)) assert.ok(Math.abs((sums.get(k) ?? NaN) - v) < 1e-9, k);
  assert.ok(
    groups.some((s) => s.labels.dst_note?.includes('"') && s.labels.dst_note.includes('\n')),
    'an escaped value read back intact',
  );
});

// ------------------------------------------------------------------ monotonic while targets change

test("a released target's probes stay in its group; the group disappears with its last target", () => {
  const { store, g } = setup(['rack']);
  store.defineSlot(0, icmp('a', { rack: 'r1' }));
  store.defineSlot(1, icmp('b', { rack: 'r1' }));
  probe(store, [0, 1], 10, 8);
  const before = collect(store, g).get('dst_rack=r1,kind=icmp')!;
  store.releaseSlot(0);
  const after = collect(store, g).get('dst_rack=r1,kind=icmp')!;
  assert.deepEqual({ ...after, targets: 2 }, before, 'same counts, one target fewer');
  assert.equal(after.targets, 1);
  probe(store, [1], 5, 5);
  assert.equal(collect(store, g).get('dst_rack=r1,kind=icmp')!.sent, 25);
  store.releaseSlot(1);
  assert.equal(g.collect(store.snapshot()).cells.length, 0);
  assert.deepEqual(g.stats(), { groups: 0, folded: 0, foldedTargets: 0 });
  // Back later: a new series from zero.
  store.defineSlot(1, icmp('b', { rack: 'r1' }));
  assert.equal(collect(store, g).get('dst_rack=r1,kind=icmp')!.sent, 0);
});

test("a slot taken by another target: the old target's counts stay in its group, the new one starts from zero in its own", () => {
  const { store, g } = setup(['rack']);
  store.defineSlot(0, icmp('a', { rack: 'r1' }));
  store.defineSlot(1, icmp('keep', { rack: 'r1' }));
  probe(store, [0, 1], 10, 10);
  store.defineSlot(0, icmp('z', { rack: 'r2' })); // another name: counters reset by the store
  let c = collect(store, g);
  assert.equal(c.get('dst_rack=r1,kind=icmp')!.sent, 20);
  assert.equal(c.get('dst_rack=r1,kind=icmp')!.targets, 1);
  assert.equal(c.get('dst_rack=r2,kind=icmp')!.sent, 0);
  // Another target in the same group on that slot: r1 keeps both histories and grows by the new one's.
  store.defineSlot(0, icmp('y', { rack: 'r1' }));
  probe(store, [0], 3, 3);
  c = collect(store, g);
  assert.equal(c.get('dst_rack=r1,kind=icmp')!.sent, 23);
  assert.equal(c.get('dst_rack=r1,kind=icmp')!.targets, 2);
  assert.equal(c.has('dst_rack=r2,kind=icmp'), false, 'r2 lost its only target');
});

test('a target that changes group keeps its counters: the old group keeps what it counted there, the new one does not jump', () => {
  const { store, g } = setup(['rack']);
  store.defineSlot(0, icmp('a', { rack: 'r1' }));
  store.defineSlot(1, icmp('b', { rack: 'r2' }));
  store.defineSlot(2, icmp('c', { rack: 'r1' }));
  probe(store, [0, 1], 10, 9);
  const r2Before = collect(store, g).get('dst_rack=r2,kind=icmp')!;
  store.defineSlot(0, icmp('a', { rack: 'r2' })); // same target, new label: the store carries its counters on
  assert.equal(store.snapshot().sent[0], 10, 'the per-target counter carried on');
  let c = collect(store, g);
  assert.equal(c.get('dst_rack=r1,kind=icmp')!.sent, 10, 'r1 keeps its 10');
  assert.equal(c.get('dst_rack=r1,kind=icmp')!.targets, 1);
  assert.deepEqual({ ...c.get('dst_rack=r2,kind=icmp')!, targets: 1 }, r2Before, 'r2 did not jump by the carried 10');
  probe(store, [0], 4, 4);
  c = collect(store, g);
  assert.equal(c.get('dst_rack=r2,kind=icmp')!.sent, 14);
  assert.equal(c.get('dst_rack=r1,kind=icmp')!.sent, 10);
});

test('redefining a target with the same group (a reload) changes nothing', () => {
  const { store, g } = setup(['rack']);
  store.defineSlot(0, icmp('a', { rack: 'r1', x: '1' }));
  probe(store, [0], 10, 6);
  const before = collect(store, g);
  store.defineSlot(0, icmp('a', { rack: 'r1', x: '2' }));
  store.defineSlot(0, { ...icmp('a', { rack: 'r1' }), lossWindow: 7 });
  assert.deepEqual(collect(store, g), before);
});

test('group counters never decrease through a random sequence of probes, releases, relabels and new targets', () => {
  const { store, g } = setup(['rack'], 3);
  let seed = 7;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
  const last = new Map<string, Record<string, number | number[]>>();
  for (let step = 0; step < 400; step++) {
    const slot = rnd(8);
    const op = rnd(10);
    if (op < 5) {
      if (store.isDefined(slot)) probe(store, [slot], 1 + rnd(4), rnd(4), [0.0005, 0.005, 0.05][rnd(3)]);
    } else if (op < 7) store.releaseSlot(slot);
    else store.defineSlot(slot, icmp(`t${slot}-${rnd(2)}`, { rack: `r${rnd(5)}` }));
    const now = collect(store, g);
    for (const [k, v] of now) {
      const prev = last.get(k);
      if (prev === undefined) continue;
      for (const f of ['sent', 'received', 'lost', 'rttSum'] as const)
        assert.ok((v[f] as number) >= (prev[f] as number), `step ${step} ${k} ${f} ${String(prev[f])} -> ${String(v[f])}`);
      (v.rttBuckets as number[]).forEach((x, b) => assert.ok(x >= (prev.rttBuckets as number[])[b], `step ${step} ${k} bucket ${b}`));
    }
    // A cell that vanished (no target left) may start over later: forget it.
    for (const k of [...last.keys()]) if (!now.has(k)) last.delete(k);
    for (const [k, v] of now) last.set(k, v);
    // Targets add up to the defined slots.
    let defined = 0;
    for (let s = 0; s < 8; s++) if (store.isDefined(s)) defined++;
    assert.equal(
      [...now.values()].reduce((a, v) => a + (v.targets as number), 0),
      defined,
      `step ${step}`,
    );
  }
});

// ------------------------------------------------------------------ cardinality

test('beyond the limit, further groups are folded into __other__ and counted; a folded group stays folded while it has folded targets', () => {
  const { store, g } = setup(['rack', 'pod'], 2);
  store.defineSlot(0, icmp('a', { rack: 'r1', pod: 'p1' }));
  store.defineSlot(1, icmp('b', { rack: 'r2', pod: 'p1' }));
  store.defineSlot(2, icmp('c', { rack: 'r3', pod: 'p1' }));
  store.defineSlot(3, icmp('d', { rack: 'r4' }));
  store.defineSlot(4, icmp('e', { rack: 'r3', pod: 'p1' }));
  probe(store, [0, 1, 2, 3, 4], 4, 2);
  let c = collect(store, g);
  assert.deepEqual([...c.keys()].sort(), [
    'dst_rack=__other__,dst_pod=__other__,kind=icmp',
    'dst_rack=r1,dst_pod=p1,kind=icmp',
    'dst_rack=r2,dst_pod=p1,kind=icmp',
  ]);
  assert.equal(c.get(`dst_rack=${OTHER_GROUP},dst_pod=${OTHER_GROUP},kind=icmp`)!.targets, 3);
  assert.equal(c.get(`dst_rack=${OTHER_GROUP},dst_pod=${OTHER_GROUP},kind=icmp`)!.sent, 12);
  assert.deepEqual(g.stats(), { groups: 2, folded: 2, foldedTargets: 3 });
  // r2 goes: room for one group, but r3 stays folded (its numbers would otherwise split in two)...
  store.releaseSlot(1);
  store.defineSlot(5, icmp('f', { rack: 'r3', pod: 'p1' }));
  assert.deepEqual(g.stats(), { groups: 1, folded: 2, foldedTargets: 4 });
  // ...while a group never folded gets the free place.
  store.defineSlot(6, icmp('g', { rack: 'r5' }));
  c = collect(store, g);
  assert.ok(c.has('dst_rack=r5,kind=icmp'));
  assert.deepEqual(g.stats(), { groups: 2, folded: 2, foldedTargets: 4 });
  // The folded targets leave: __other__ keeps their counts while it has targets, then disappears.
  for (const s of [2, 4, 5]) store.releaseSlot(s);
  assert.deepEqual(g.stats(), { groups: 2, folded: 1, foldedTargets: 1 });
  assert.equal(collect(store, g).get(`dst_rack=${OTHER_GROUP},dst_pod=${OTHER_GROUP},kind=icmp`)!.sent, 12);
  store.releaseSlot(3);
  assert.deepEqual(g.stats(), { groups: 2, folded: 0, foldedTargets: 0 });
  assert.ok(![...collect(store, g).keys()].some((k) => k.includes(OTHER_GROUP)));
});

test('series = groups × kinds: 1,000 targets in 10 racks and 2 kinds are 20 cells', () => {
  const { store, g } = setup(['rack'], 10);
  for (let s = 0; s < 1000; s++)
    store.defineSlot(s, s % 2 ? icmp(`t${s}`, { rack: `r${s % 10}` }) : { name: `t${s}`, kind: 'udp', address: '127.0.0.1:7', labels: { rack: `r${s % 10}` } });
  const r = g.collect(store.snapshot());
  assert.equal(r.cells.length, 10);
  for (let s = 0; s < 1000; s++) store.defineSlot(s, { ...icmp(`t${s}`, { rack: `r${s % 10}` }), kind: s % 3 ? 'icmp' : 'udp' });
  assert.equal(g.collect(store.snapshot()).cells.length, 20);
  assert.equal(g.stats().groups, 10);
});

// ------------------------------------------------------------------ mesh: source → destination

test("mesh mode: each cell is a source → destination pair; a change of this node's labels starts every cell over under the new labels", () => {
  let t = 1_000;
  const { store, g } = setup(['rack', 'peer'], 100, () => t);
  store.defineSlot(0, icmp('node-b/icmp', { rack: 'r1', peer: 'node-b', prober: 'node-a' }));
  store.defineSlot(1, icmp('node-c/icmp', { rack: 'r2', peer: 'node-c', prober: 'node-a' }));
  probe(store, [0], 10, 10);
  probe(store, [1], 10, 5);
  const node = { node: 'node-a', labels: { rack: 'r1' } };
  let c = collect(store, g, sourceValues(node, g.groupBy));
  assert.deepEqual([...c.keys()].sort(), [
    'src_rack=r1,src_peer=node-a,dst_rack=r1,dst_peer=node-b,kind=icmp',
    'src_rack=r1,src_peer=node-a,dst_rack=r2,dst_peer=node-c,kind=icmp',
  ]);
  assert.equal(c.get('src_rack=r1,src_peer=node-a,dst_rack=r2,dst_peer=node-c,kind=icmp')!.lost, 5);
  // The same source again: nothing starts over.
  t = 2_000;
  assert.equal(g.collect(store.snapshot(), sourceValues(node, g.groupBy)).cells[0].startMs, 1_000);
  // This node moved to rack r3 (its peer entry changed): new series from zero, started now.
  t = 3_000;
  const moved = sourceValues({ node: 'node-a', labels: { rack: 'r3' } }, g.groupBy);
  const r = g.collect(store.snapshot(), moved);
  c = cells(r);
  assert.deepEqual([...c.keys()].sort(), [
    'src_rack=r3,src_peer=node-a,dst_rack=r1,dst_peer=node-b,kind=icmp',
    'src_rack=r3,src_peer=node-a,dst_rack=r2,dst_peer=node-c,kind=icmp',
  ]);
  for (const v of c.values()) assert.deepEqual({ ...v, targets: 0 }, { targets: 0, sent: 0, received: 0, lost: 0, rttBuckets: [0, 0, 0, 0], rttSum: 0 });
  assert.ok(r.cells.every((x) => x.startMs === 3_000));
  probe(store, [1], 4, 0);
  assert.equal(collect(store, g, moved).get('src_rack=r3,src_peer=node-a,dst_rack=r2,dst_peer=node-c,kind=icmp')!.lost, 4);
});

// ------------------------------------------------------------------ the catalog and its exporters

test('the group catalog is well formed: unique names, Prometheus conventions, sources of the same type every kind has', () => {
  for (const key of ['id', 'prometheus', 'otel'] as const) assert.equal(new Set(GROUP_FAMILIES.map((f) => f[key])).size, GROUP_FAMILIES.length, key);
  const perTarget = new Set(METRIC_FAMILIES.map((f) => f.prometheus));
  for (const f of GROUP_FAMILIES) {
    assert.match(f.prometheus, /^fleetprobe_group_[a-z_]+$/);
    assert.ok(!perTarget.has(f.prometheus));
    if (f.type === 'counter') assert.match(f.prometheus, /_total$/);
    else assert.doesNotMatch(f.prometheus, /_total$/);
    if (f.unit === 's') assert.match(f.prometheus, /_seconds$/);
    // The OTLP→Prometheus translation lands on the Prometheus name.
    const translated = f.otel.replaceAll('.', '_') + (f.unit === 's' ? '_seconds' : '') + (f.type === 'counter' ? '_total' : '');
    assert.equal(translated, f.prometheus, f.id);
    for (const s of f.sources) assert.equal(s.kinds.length, PROBE_KINDS.length, `${f.id} sums ${s.id}`);
  }
  assert.deepEqual(groupCellLayout(20), { width: 3 + 21, stride: 20, offset: { sent: 0, received: 1, lost: 2, rtt: 3, targets: -1 } });
  assert.deepEqual(
    GROUP_FAMILY_DECLS.map((d) => d.id),
    GROUP_FAMILIES.map((f) => f.id),
  );
});

test('the text form has every group family in catalog order with its help and type; histograms cumulative with _count = received', () => {
  const { store, g } = setup(['rack']);
  store.defineSlot(0, icmp('a', { rack: 'r1' }));
  store.defineSlot(1, icmp('b', { rack: 'r2' }));
  probe(store, [0], 10, 7, 0.005);
  probe(store, [1], 3, 3, 0.5);
  const snap = store.snapshot();
  const ex = parsePrometheusText(renderGroupExpositionText(g.collect(snap), snap.buckets));
  assert.deepEqual(
    [...ex.types.keys()],
    GROUP_FAMILIES.map((f) => f.prometheus),
  );
  for (const f of GROUP_FAMILIES) {
    assert.equal(ex.types.get(f.prometheus), f.type);
    assert.equal(ex.help.get(f.prometheus), f.help);
  }
  const v = (name: string, labels: Record<string, string>) =>
    ex.samples.find((s) => s.name === name && Object.entries(labels).every(([k, x]) => s.labels[k] === x))?.value;
  assert.deepEqual(
    ['0.001', '0.01', '0.1', '+Inf'].map((le) => v('fleetprobe_group_rtt_seconds_bucket', { dst_rack: 'r1', le })),
    [0, 7, 7, 7],
  );
  assert.equal(v('fleetprobe_group_rtt_seconds_count', { dst_rack: 'r1' }), v('fleetprobe_group_probes_received_total', { dst_rack: 'r1' }));
  assert.equal(v('fleetprobe_group_rtt_seconds_bucket', { dst_rack: 'r2', le: '0.1' }), 0);
  assert.equal(v('fleetprobe_group_rtt_seconds_bucket', { dst_rack: 'r2', le: '+Inf' }), 3);
  assert.equal(v('fleetprobe_group_probes_lost_total', { dst_rack: 'r1' }), 3);
  // No group: no family at all.
  const empty = setup(['rack']);
  assert.equal(renderGroupExpositionText(empty.g.collect(empty.store.snapshot()), empty.store.buckets), '');
});

test("OTLP: the group families with the catalog's names, units and point types, labels as attributes, the cells' start times", () => {
  const { store, g } = setup(['rack']);
  store.defineSlot(0, icmp('a', { rack: 'r1' }));
  store.defineSlot(1, { name: 'b', kind: 'udp', address: '127.0.0.1:7', labels: { rack: 'r2' } });
  probe(store, [0, 1], 5, 4, 0.005);
  const snap = store.snapshot();
  const metrics = groupMetricData(g.collect(snap), snap.buckets, [2_000, 0]);
  assert.deepEqual(
    metrics.map((m) => m.descriptor.name),
    GROUP_FAMILIES.map((f) => f.otel),
  );
  const pointType = { counter: DataPointType.SUM, gauge: DataPointType.GAUGE, histogram: DataPointType.HISTOGRAM } as const;
  GROUP_FAMILIES.forEach((f, i) => {
    const m = metrics[i];
    assert.equal(m.descriptor.unit, f.unit);
    assert.equal(m.descriptor.description, f.help);
    assert.equal(m.descriptor.valueType, f.valueType === 'int' ? ValueType.INT : ValueType.DOUBLE);
    assert.equal(m.dataPointType, pointType[f.type]);
    if (m.dataPointType === DataPointType.SUM) assert.equal(m.isMonotonic, true);
    assert.deepEqual(
      new Set(m.dataPoints.map((p) => JSON.stringify(p.attributes))),
      new Set(['{"dst_rack":"r1","kind":"icmp"}', '{"dst_rack":"r2","kind":"udp"}']),
    );
    for (const p of m.dataPoints) assert.deepEqual(p.startTime, [1, 0]);
  });
  const rtt = metrics[GROUP_FAMILIES.findIndex((f) => f.id === 'rtt')].dataPoints as DataPoint<Histogram>[];
  assert.deepEqual(rtt[0].value.buckets, { boundaries: BUCKETS, counts: [0, 4, 0, 0] });
  assert.equal(rtt[0].value.count, 4);
  const lost = metrics[GROUP_FAMILIES.findIndex((f) => f.id === 'lost')].dataPoints as DataPoint<number>[];
  assert.deepEqual(
    lost.map((p) => p.value),
    [1, 1],
  );
});

test("the store's OTLP producer appends the group metrics of its own snapshot (snapshotMetrics hook), and /metrics self registry counts the groups", async () => {
  const store = new TargetStore({ buckets: BUCKETS });
  const registry = new Registry();
  const rollups = new GroupRollupExports(store, { groupBy: ['rack'], limit: 1 }, () => null, registry);
  store.defineSlot(0, icmp('a', { rack: 'r1' }));
  store.defineSlot(1, icmp('b', { rack: 'r2' }));
  probe(store, [0, 1], 2, 2);
  const scopes = new StoreMetricProducer(store, { now: () => 5_000, snapshotMetrics: groupSnapshotMetrics(rollups) }).collectScopeMetrics();
  const names = scopes[0].metrics.map((m) => m.descriptor.name);
  assert.deepEqual(names, [...METRIC_FAMILIES.filter((f) => f.kinds.includes('icmp')).map((f) => f.otel), ...GROUP_FAMILIES.map((f) => f.otel)]);
  const sent = scopes[0].metrics.find((m) => m.descriptor.name === 'fleetprobe.group.probes.sent')!;
  assert.deepEqual(
    sent.dataPoints.map((p) => [p.attributes, p.value]),
    [
      [{ dst_rack: 'r1', kind: 'icmp' }, 2],
      [{ dst_rack: OTHER_GROUP, kind: 'icmp' }, 2],
    ],
  );
  const self = parsePrometheusText(await registry.metrics()).samples.filter((s) => s.name === 'fleetprobe_rollup_groups');
  assert.deepEqual(
    self.map((s) => [s.labels.state, s.value]),
    [
      ['exported', 1],
      ['folded', 1],
    ],
  );
});

test("the README documents exactly the group catalog's families with their types, and metrics.group_by", () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('### Group rollups');
  assert.ok(start > 0, 'README has a Group rollups section');
  const section = readme.slice(start, readme.indexOf('\n## ', start));
  const rows = section.split('\n').filter((l) => l.startsWith('| `fleetprobe_group_'));
  const documented = new Map(rows.map((r) => [/`(fleetprobe_group_[a-z_]+)/.exec(r)![1], r.split('|')[2].trim()]));
  assert.deepEqual([...documented.keys()].sort(), GROUP_FAMILIES.map((f) => f.prometheus).sort());
  for (const f of GROUP_FAMILIES) assert.equal(documented.get(f.prometheus), f.type, f.prometheus);
  for (const word of ['metrics.group_by', 'metrics.group_limit', 'src_', 'dst_', OTHER_GROUP, 'fleetprobe_rollup_groups'])
    assert.ok(section.includes(word), word);
});

test('unknown error reasons and every reason count as lost', () => {
  const { store, g } = setup(['rack']);
  store.defineSlot(0, icmp('a', { rack: 'r1' }));
  const w = new BatchWriter(256);
  for (let r = 0; r < ERROR_REASON_NAMES.length + 3; r++) w.push(0, ProbeEvent.Error, r);
  store.applyBatch(w.take(0, 1));
  assert.equal(collect(store, g).get('dst_rack=r1,kind=icmp')!.lost, ERROR_REASON_NAMES.length + 3);
});

test("generations: results of a slot's former target (a stale batch) and of a released one count in no group", () => {
  const { store, g } = setup(['rack']);
  const batch = (slot: number, sent: number, generation: number): ArrayBuffer => {
    const w = new BatchWriter(256);
    for (let i = 0; i < sent; i++) {
      w.push(slot, ProbeEvent.Sent);
      w.push(slot, ProbeEvent.Timeout);
    }
    return w.take(0, 1, generation);
  };
  store.defineSlot(0, icmp('a', { rack: 'r1' }), 1);
  store.defineSlot(1, icmp('keep', { rack: 'r3' }), 1);
  store.applyBatch(batch(0, 4, 1));
  // Update 2 puts another target in slot 0; a worker's batch written before it applied update 2 still carries a's probes.
  store.defineSlot(0, icmp('b', { rack: 'r2' }), 2);
  store.applyBatch(batch(0, 7, 1));
  let c = collect(store, g);
  assert.equal(store.staleRecords, 14, 'the store dropped the stale records');
  assert.equal(c.has('dst_rack=r1,kind=icmp'), false, 'a left: its group went with it');
  assert.deepEqual([c.get('dst_rack=r2,kind=icmp')!.sent, c.get('dst_rack=r2,kind=icmp')!.lost], [0, 0], "b starts from zero, and a's late probes are not b's");
  store.applyBatch(batch(0, 3, 2));
  assert.equal(collect(store, g).get('dst_rack=r2,kind=icmp')!.lost, 3);
  // Released at update 3; probes still in flight for it are dropped, and the group keeps what it had.
  store.applyBatch(batch(1, 2, 2));
  store.releaseSlot(1);
  store.applyBatch(batch(1, 5, 2));
  c = collect(store, g);
  assert.equal(c.has('dst_rack=r3,kind=icmp'), false);
  assert.equal(c.get('dst_rack=r2,kind=icmp')!.sent, 3);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { LabelArena, encodeLabels, infoPairs, infoText, labelPairs, labelText, pairBytes, type LabelArenaView } from '../../src/aggregate/label-arena.js';

const PROTO = fileURLToPath(new URL('../../../test/fixtures/prometheus-client-metrics.proto', import.meta.url));
const Metric = protobuf.parse(readFileSync(PROTO, 'utf8'), { keepCase: true }).root.lookupType('io.prometheus.client.Metric');

/** A slot's protobuf bytes decoded as the label fields of a Metric. */
function decodedPairs(v: LabelArenaView, slot: number): [string, string][] {
  const m = Metric.toObject(Metric.decode(labelPairs(v, slot)), { arrays: true }) as { label: { name: string; value: string }[] };
  return m.label.map((l) => [l.name, l.value]);
}

function expected(name: string, address: string, kind: string, labels: Record<string, string>): { text: string; pairs: [string, string][] } {
  const e = encodeLabels(name, address, kind, labels);
  return { text: e.text, pairs: e.pairs.map(([k, v]) => [k, v]) };
}

test("a slot's text fragment and protobuf label pairs say the same labels (escaping, unicode, sorted user labels)", () => {
  const a = new LabelArena(4);
  a.set(1, encodeLabels('we"ird\\n\name', '::1', 'icmp', { zone: 'ü', app: 'x"y' }));
  const v = a.view(4);
  assert.equal(labelText(v, 1), 'target="we\\"ird\\\\n\\name",address="::1",kind="icmp",app="x\\"y",zone="ü"');
  assert.deepEqual(decodedPairs(v, 1), [
    ['target', 'we"ird\\n\name'],
    ['address', '::1'],
    ['kind', 'icmp'],
    ['app', 'x"y'],
    ['zone', 'ü'],
  ]);
  assert.equal(labelText(v, 0), '', 'an unset slot is empty');
  assert.equal(labelPairs(v, 0).length, 0);
});

test('a long label value (> 127 bytes: two-byte lengths) encodes and decodes', () => {
  const a = new LabelArena(1);
  const long = 'x'.repeat(300);
  a.set(0, encodeLabels('t', '127.0.0.1', 'icmp', { note: long }));
  assert.deepEqual(decodedPairs(a.view(1), 0).at(-1), ['note', long]);
  assert.equal(Metric.decode(pairBytes('reason', 'timeout')).toJSON().label[0].value, 'timeout');
});

test('many redefinitions (growth and compaction): every slot keeps its labels, and old snapshots keep theirs', () => {
  const slots = 50;
  const a = new LabelArena(8);
  a.grow(slots);
  const want = new Map<number, { text: string; pairs: [string, string][] }>();
  const snapshots: { view: LabelArenaView; want: Map<number, { text: string; pairs: [string, string][] }> }[] = [];
  for (let round = 0; round < 200; round++) {
    const s = (round * 7) % slots;
    if (round % 13 === 5) {
      a.clear(s);
      want.delete(s);
    } else {
      const labels = { rack: `r${round}`, pad: 'p'.repeat(round % 50) };
      a.set(s, encodeLabels(`t${s}`, `127.0.0.${s + 1}`, 'icmp', labels));
      want.set(s, expected(`t${s}`, `127.0.0.${s + 1}`, 'icmp', labels));
    }
    if (round % 20 === 0) snapshots.push({ view: a.view(slots), want: new Map(want) });
  }
  snapshots.push({ view: a.view(slots), want: new Map(want) });
  for (const [k, snap] of snapshots.entries()) {
    for (let s = 0; s < slots; s++) {
      const w = snap.want.get(s);
      assert.equal(labelText(snap.view, s), w?.text ?? '', `snapshot ${k} slot ${s} text`);
      assert.deepEqual(w === undefined ? [] : decodedPairs(snap.view, s), w?.pairs ?? [], `snapshot ${k} slot ${s} pairs`);
    }
  }
});

test('bad user labels are refused before anything is written', () => {
  assert.throws(() => encodeLabels('t', 'a', 'icmp', { target: 'x' }));
  assert.throws(() => encodeLabels('t', 'a', 'icmp', { '0bad': 'x' }));
  assert.throws(() => encodeLabels('t', 'a', 'icmp', { ok: 3 as unknown as string }), /string/);
});

/** A compact-mode slot's info LabelPairs decoded. */
function decodedInfoPairs(v: LabelArenaView, slot: number): [string, string][] {
  const m = Metric.toObject(Metric.decode(infoPairs(v, v.info!, slot)), { arrays: true }) as { label: { name: string; value: string }[] };
  return m.label.map((l) => [l.name, l.value]);
}

test('compact series labels: target and user labels on the series, address and kind (escaped) in the info labels only', () => {
  const a = new LabelArena(4);
  a.set(2, encodeLabels('we"ird\\n\name', 'http://h/"q"\\', 'http', { zone: 'ü', app: 'x"y' }, 'compact'));
  const v = a.view(4, true);
  assert.equal(labelText(v, 2), 'target="we\\"ird\\\\n\\name",app="x\\"y",zone="ü"');
  assert.equal(infoText(v, 2), ',address="http://h/\\"q\\"\\\\",kind="http"');
  assert.deepEqual(decodedPairs(v, 2), [
    ['target', 'we"ird\\n\name'],
    ['app', 'x"y'],
    ['zone', 'ü'],
  ]);
  assert.deepEqual(decodedInfoPairs(v, 2), [
    ['address', 'http://h/"q"\\'],
    ['kind', 'http'],
  ]);
  // The info line's labels (series + info) are exactly the full mode's, in another order.
  const full = encodeLabels('we"ird\\n\name', 'http://h/"q"\\', 'http', { zone: 'ü', app: 'x"y' });
  assert.deepEqual(new Set([...decodedPairs(v, 2), ...decodedInfoPairs(v, 2)].map((p) => p.join('='))), new Set(full.pairs.map((p) => p.join('='))));
  assert.equal(full.infoText, '', 'full mode: no info labels');
  assert.equal(full.infoPbSize, 0);
  assert.equal(a.view(4, false).info, undefined, 'a full-mode view has no info index');
});

test('compact without user labels, and the same target switched between modes: the bytes of each mode, old views unchanged', () => {
  const a = new LabelArena(2);
  a.set(0, encodeLabels('t', '::1', 'icmp', undefined, 'compact'));
  const compact = a.view(2, true);
  assert.equal(labelText(compact, 0), 'target="t"');
  assert.equal(infoText(compact, 0), ',address="::1",kind="icmp"');
  a.set(0, encodeLabels('t', '::1', 'icmp', undefined, 'full'));
  a.dropInfo();
  const full = a.view(2, true);
  assert.equal(full.info, undefined, 'no slot has info labels any more: nothing to copy');
  assert.equal(labelText(full, 0), 'target="t",address="::1",kind="icmp"');
  assert.equal(labelText(compact, 0), 'target="t"', 'the older view keeps its bytes');
  assert.equal(infoText(compact, 0), ',address="::1",kind="icmp"');
});

test('dropInfo refuses while a slot still has info labels; clear and grow keep the info index in step', () => {
  const a = new LabelArena(2);
  a.set(1, encodeLabels('t', '127.0.0.1', 'icmp', { r: 'x' }, 'compact'));
  assert.throws(() => a.dropInfo(), /slot 1/);
  a.grow(64);
  a.set(40, encodeLabels('u', '127.0.0.2', 'udp', undefined, 'compact'));
  let v = a.view(64, true);
  assert.equal(v.info!.textLen.length, 64);
  assert.equal(infoText(v, 1), ',address="127.0.0.1",kind="icmp"');
  assert.equal(infoText(v, 40), ',address="127.0.0.2",kind="udp"');
  a.clear(1);
  a.clear(40);
  v = a.view(64, true);
  assert.equal(v.info!.textLen[1], 0);
  assert.equal(v.info!.pbLen[40], 0);
  a.dropInfo();
});

test('compact mode through growth and compaction: every slot keeps its series and info labels', () => {
  const slots = 40;
  const a = new LabelArena(4);
  a.grow(slots);
  const want = new Map<number, { text: string; info: string; pairs: [string, string][] }>();
  for (let round = 0; round < 300; round++) {
    const s = (round * 11) % slots;
    if (round % 17 === 3) {
      a.clear(s);
      want.delete(s);
      continue;
    }
    const labels = { rack: `r${round}`, pad: 'p'.repeat(round % 60) };
    const e = encodeLabels(`t${s}`, `127.0.0.${s + 1}`, round % 2 === 0 ? 'icmp' : 'tcp', labels, 'compact');
    a.set(s, e);
    want.set(s, { text: e.text, info: e.infoText, pairs: e.infoPairs.map(([k, x]) => [k, x]) });
  }
  const v = a.view(slots, true);
  for (let s = 0; s < slots; s++) {
    const w = want.get(s);
    assert.equal(labelText(v, s), w?.text ?? '', `slot ${s} text`);
    assert.equal(infoText(v, s), w?.info ?? '', `slot ${s} info text`);
    if (w !== undefined) assert.deepEqual(decodedInfoPairs(v, s), w.pairs, `slot ${s} info pairs`);
  }
});

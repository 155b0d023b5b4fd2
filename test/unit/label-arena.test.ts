import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { LabelArena, encodeLabels, labelPairs, labelText, pairBytes, type LabelArenaView } from '../../src/aggregate/label-arena.js';

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

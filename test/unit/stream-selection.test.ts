import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Catalog,
  describeSelection,
  labelMatcherProblem,
  parseLabelArg,
  resolveSelection,
  type CatalogEntry,
  type Selection,
} from '../../src/stream/selection.js';

const entries: CatalogEntry[] = [
  { slot: 4, name: 'a', kind: 'icmp', address: '127.0.0.1', labels: { rack: 'r1', zone: 'z1' } },
  { slot: 0, name: 'b', kind: 'icmp', address: '127.0.0.2', labels: { rack: 'r2', zone: 'z1' } },
  { slot: 7, name: 'c', kind: 'udp', address: '127.0.0.1:4000', labels: { rack: 'r1' } },
  { slot: 2, name: 'd', kind: 'http', address: 'http://127.0.0.1:4001/v1/ping', labels: {} },
];
const cat = new Catalog(entries);
const sel = (targets: string[] = [], labels: [string, string][] = []): Selection => ({ targets, labels: labels.map(([name, value]) => ({ name, value })) });
const slots = (s: Selection, strict = true): number[] => {
  const r = resolveSelection(s, cat, strict);
  assert.ok(r.ok, r.ok ? '' : r.message);
  return [...r.slots];
};

test('Catalog indexes entries by name and slot and knows the high-water slot', () => {
  assert.equal(cat.highWater, 8);
  assert.equal(cat.byName.get('c')?.slot, 7);
  assert.equal(cat.bySlot[2]?.name, 'd');
  assert.equal(cat.bySlot[1], undefined);
  assert.equal(new Catalog([]).highWater, 0);
});

test('an empty selection is every target, slots sorted', () => {
  assert.deepEqual(slots(sel()), [0, 2, 4, 7]);
});

test('names select those targets only, duplicates once, sorted by slot', () => {
  assert.deepEqual(slots(sel(['c', 'a', 'c'])), [4, 7]);
  assert.deepEqual(slots(sel(['d'])), [2]);
});

test('same label name: any of the values; different names: all must hold', () => {
  assert.deepEqual(slots(sel([], [['rack', 'r1']])), [4, 7]);
  assert.deepEqual(
    slots(
      sel(
        [],
        [
          ['rack', 'r1'],
          ['rack', 'r2'],
        ],
      ),
    ),
    [0, 4, 7],
  );
  assert.deepEqual(
    slots(
      sel(
        [],
        [
          ['rack', 'r1'],
          ['zone', 'z1'],
        ],
      ),
    ),
    [4],
  );
  assert.deepEqual(
    slots(
      sel(
        [],
        [
          ['rack', 'r1'],
          ['rack', 'r2'],
          ['zone', 'z1'],
        ],
      ),
    ),
    [0, 4],
  );
});

test('kind and address match the target itself', () => {
  assert.deepEqual(slots(sel([], [['kind', 'icmp']])), [0, 4]);
  assert.deepEqual(
    slots(
      sel(
        [],
        [
          ['kind', 'udp'],
          ['kind', 'http'],
        ],
      ),
    ),
    [2, 7],
  );
  assert.deepEqual(slots(sel([], [['address', '127.0.0.1:4000']])), [7]);
});

test('names and labels together: both must hold', () => {
  assert.deepEqual(slots(sel(['a', 'b', 'c'], [['rack', 'r1']])), [4, 7]);
  assert.deepEqual(
    slots(
      sel(
        ['b'],
        [
          ['rack', 'r1'],
          ['rack', 'r2'],
        ],
      ),
    ),
    [0],
  );
});

test('strict: unknown names are not_found with every unknown name', () => {
  const r = resolveSelection(sel(['a', 'x', 'y', 'x']), cat);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.code, 'not_found');
  assert.deepEqual(r.unknown, ['x', 'y']);
  assert.match(r.message, /unknown targets: x, y/);
});

test('strict: a selection matching nothing is not_found and says what it asked for', () => {
  for (const s of [sel([], [['rack', 'r9']]), sel(['b'], [['rack', 'r1']]), sel([], [['missing', 'v']])]) {
    const r = resolveSelection(s, cat);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.deepEqual(r.unknown, []);
      assert.match(r.message, /^no target matches /);
    }
  }
  const empty = resolveSelection(sel(), new Catalog([]));
  assert.equal(empty.ok, false);
  if (!empty.ok) assert.match(empty.message, /all targets/);
});

test('lenient (after a reload): unknown names are skipped, an empty result is empty', () => {
  assert.deepEqual(slots(sel(['a', 'gone']), false), [4]);
  assert.deepEqual(slots(sel(['gone']), false), []);
  assert.deepEqual(slots(sel([], [['rack', 'r9']]), false), []);
});

test('a label value that only exists as an inherited property never matches', () => {
  assert.deepEqual(slots(sel([], [['toString', 'x']]), false), []);
  assert.deepEqual(slots(sel([], [['constructor', 'x']]), false), []);
});

test('parseLabelArg: key=value, the value may hold "=" or be empty; every bad form says why', () => {
  assert.deepEqual(parseLabelArg('rack=r1'), { name: 'rack', value: 'r1' });
  assert.deepEqual(parseLabelArg('expr=a=b'), { name: 'expr', value: 'a=b' });
  assert.deepEqual(parseLabelArg('rack='), { name: 'rack', value: '' });
  assert.deepEqual(parseLabelArg('kind=icmp'), { name: 'kind', value: 'icmp' });
  assert.match(parseLabelArg('rack') as string, /must be written key=value/);
  assert.match(parseLabelArg('=r1') as string, /must be written key=value/);
  assert.match(parseLabelArg('1rack=x') as string, /not a valid Prometheus label name/);
  assert.match(parseLabelArg('__x=y') as string, /reserves/);
  assert.match(parseLabelArg('target=a') as string, /cannot be matched \(use target= for names/);
  assert.match(parseLabelArg('kind=') as string, /needs a value/);
});

test('labelMatcherProblem accepts user label names and kind/address', () => {
  assert.equal(labelMatcherProblem({ name: 'rack', value: 'r1' }), null);
  assert.equal(labelMatcherProblem({ name: 'address', value: '127.0.0.1' }), null);
  assert.notEqual(labelMatcherProblem({ name: 'le', value: '1' }), null);
});

test('describeSelection names targets and labels', () => {
  assert.equal(describeSelection(sel()), 'all targets');
  assert.equal(describeSelection(sel(['a', 'b'], [['rack', 'r1']])), 'targets a, b; labels rack=r1');
});

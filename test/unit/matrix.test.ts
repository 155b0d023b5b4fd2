/** The matrix's pure parts: grouping, a node's row, merging rows by a row label, and checking rows from peers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkNodeRow, groupBy, mergeRows, NO_GROUP, rowCells, rowKey, type NodeRow } from '../../src/aggregate/matrix.js';
import { addMixture, mixtureQuantile, newAccumulator } from '../../src/aggregate/history.js';
import { decodeRtt, encodeRtt } from '../../src/aggregate/rtt-code.js';

test('groupBy puts every position in the group of its label; no label is its own group', () => {
  const labels = ['a', 'b', undefined, 'a', 'c', undefined];
  const g = groupBy(labels.length, (i) => labels[i]);
  assert.deepEqual(
    [...g.entries()],
    [
      ['a', [0, 3]],
      ['b', [1]],
      [NO_GROUP, [2, 5]],
      ['c', [4]],
    ],
  );
});

test('rowCells sums each group through the accumulate callback and keeps the RTT mixture sparse', () => {
  const groups = new Map([
    ['a', [0, 1]],
    ['b', [2]],
  ]);
  const per = [
    { answered: 10, lost: 0, rtt: 0.001 },
    { answered: 5, lost: 5, rtt: 0.002 },
    { answered: 0, lost: 4, rtt: NaN },
  ];
  const cells = rowCells(groups, (i, acc) => {
    acc.answered += per[i].answered;
    acc.lost += per[i].lost;
    if (per[i].answered > 0) addMixture(acc, per[i].answered, per[i].rtt, per[i].rtt, per[i].rtt);
  });
  assert.deepEqual(Object.keys(cells), ['a', 'b']);
  assert.equal(cells.a.targets, 2);
  assert.equal(cells.a.answered, 15);
  assert.equal(cells.a.lost, 5);
  assert.deepEqual(cells.a.rtt, [encodeRtt(0.001), 10, encodeRtt(0.002), 5]);
  assert.deepEqual(cells.b, { targets: 1, answered: 0, lost: 4, rtt: [] });
});

function row(node: string, labels: Record<string, string>, cells: NodeRow['cells']): NodeRow {
  return { node, labels, cells };
}
const cell = (answered: number, lost: number, rtt: number, targets = 1) => ({ targets, answered, lost, rtt: answered > 0 ? [encodeRtt(rtt), answered] : [] });

test('mergeRows: one row per node for "prober"; nodes sharing a row label are summed; columns are the union, sorted naturally', () => {
  const rows = [
    row('n1', { rack: 'r1' }, { g10: cell(90, 10, 0.001), g2: cell(100, 0, 0.002) }),
    row('n2', { rack: 'r1' }, { g2: cell(50, 50, 0.004) }),
    row('n3', { rack: 'r2' }, { g2: cell(10, 0, 0.001), [NO_GROUP]: cell(5, 0, 0.001) }),
  ];
  const byNode = mergeRows(rows, 'prober', 'group');
  assert.deepEqual(
    byNode.rows.map((r) => r.key),
    ['n1', 'n2', 'n3'],
  );
  assert.deepEqual(byNode.cols, ['g2', 'g10', NO_GROUP], 'natural order, the no-label group last');
  assert.equal(byNode.cells[0][1]!.loss, 0.1);
  assert.equal(byNode.cells[1][1], null, 'n2 probes nothing in g10');
  assert.equal(byNode.cells[1][0]!.loss, 0.5);

  const byRack = mergeRows(rows, 'rack', 'group');
  assert.deepEqual(
    byRack.rows.map((r) => [r.key, r.nodes]),
    [
      ['r1', ['n1', 'n2']],
      ['r2', ['n3']],
    ],
  );
  const r1g2 = byRack.cells[0][0]!;
  assert.deepEqual([r1g2.targets, r1g2.answered, r1g2.lost], [2, 150, 50]);
  assert.equal(r1g2.loss, 0.25);
  // p99 of the merged mixture: 50 of 150 answers at 4 ms, so both p50 (by weight) and p99 reflect them.
  assert.equal(r1g2.p99, decodeRtt(encodeRtt(0.004)));
  assert.equal(r1g2.p50, decodeRtt(encodeRtt(0.002)));
});

test('mergeRows: a cell with no completed probe has null loss and RTT; a node without the row label is in the no-label row', () => {
  const m = mergeRows([row('n1', {}, { a: cell(0, 0, NaN) })], 'rack', 'group');
  assert.deepEqual(
    m.rows.map((r) => r.key),
    [NO_GROUP],
  );
  assert.deepEqual(m.cells[0][0], { targets: 1, answered: 0, lost: 0, loss: null, p50: null, p99: null });
  assert.equal(rowKey({ node: 'n1', labels: { rack: 'r9' } }, 'prober'), 'n1');
  assert.equal(rowKey({ node: 'n1', labels: { rack: 'r9' } }, 'rack'), 'r9');
});

test('mergeRows: a node that did not answer keeps its row key and is listed as missing', () => {
  const m = mergeRows(
    [
      row('n1', { rack: 'r1' }, { a: cell(10, 0, 0.001) }),
      { node: 'n2', labels: { rack: 'r1' }, error: 'ECONNREFUSED' },
      { node: 'n3', labels: { rack: 'r2' }, error: 'timeout' },
    ],
    'rack',
    'group',
  );
  assert.deepEqual(m.rows, [
    { key: 'r1', nodes: ['n1'], missing: [{ node: 'n2', error: 'ECONNREFUSED' }] },
    { key: 'r2', nodes: [], missing: [{ node: 'n3', error: 'timeout' }] },
  ]);
  assert.deepEqual(m.cells[1], [null]);
});

test('checkNodeRow accepts what rowCells makes and refuses malformed rows from a peer', () => {
  const good = row('n1', { rack: 'r1' }, { a: cell(10, 1, 0.001) });
  assert.equal(checkNodeRow(JSON.parse(JSON.stringify(good))), null);
  const bad: [unknown, RegExp][] = [
    [null, /not an object/],
    [{ ...good, node: 5 }, /node/],
    [{ ...good, labels: { rack: 1 } }, /labels/],
    [{ ...good, cells: 'x' }, /cells/],
    [{ ...good, cells: { a: { ...good.cells.a, lost: -1 } } }, /lost is not a count/],
    [{ ...good, cells: { a: { ...good.cells.a, rtt: [1] } } }, /pairs/],
    [{ ...good, cells: { a: { ...good.cells.a, rtt: [0, 5] } } }, /bad rtt pair/],
    [{ ...good, cells: { a: { ...good.cells.a, rtt: [256, 5] } } }, /bad rtt pair/],
    [{ ...good, cells: { a: { ...good.cells.a, rtt: [3, -1] } } }, /bad rtt pair/],
  ];
  for (const [v, re] of bad) assert.match(String(checkNodeRow(v)), re, JSON.stringify(v));
});

test('the mixture of several rows keeps the p99 of a small slow share', () => {
  const acc = newAccumulator();
  addMixture(acc, 990, 0.001, 0.001, 0.001);
  addMixture(acc, 10, 0.1, 0.1, 0.1);
  // 1% of answers at 100 ms: p99 lands on them only when the slow share passes 1%.
  assert.equal(mixtureQuantile(acc, 0.99), decodeRtt(encodeRtt(0.001)));
  addMixture(acc, 5, 0.1, 0.1, 0.1);
  assert.equal(mixtureQuantile(acc, 0.99), decodeRtt(encodeRtt(0.1)));
});

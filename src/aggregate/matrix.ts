/**
 * The loss/latency matrix (Pingmesh's picture): rows are groups of probers (mesh
 * nodes, or a label of theirs such as `rack`), columns are groups of targets (a label
 * of theirs), and each cell sums every probe from that row's nodes to that column's
 * targets over a window. Pure.
 *
 * Each node computes its own row (rowCells(): its targets grouped by the column label,
 * summed over the window) and ships it as a NodeRow; rows are mergeable, so a node
 * that fetched its peers' rows adds up the rows of nodes sharing a row label
 * (mergeRows()). A cell carries counts and the RTT mixture of history.ts (sparse: only
 * the codes used), never per-target data, so a matrix of a 100k-target fleet is a few
 * kilobytes.
 */
import { mixtureQuantile, newAccumulator, type Accumulator } from './history.js';
import { RTT_CODE_COUNT } from './rtt-code.js';

/** Column (or row) key of targets (nodes) that do not have the label. */
export const NO_GROUP = '';

/** One node's sums for one group of its targets. */
export interface CellSums {
  /** Targets in the group. */
  targets: number;
  answered: number;
  lost: number;
  /** The RTT mixture, sparse: [code, weight, code, weight, ...]. */
  rtt: number[];
}

/** One node's row, as served at /api/v1/console/matrix/local and merged by mergeRows(). */
export interface NodeRow {
  /** The node (its prober name). */
  node: string;
  /** The node's labels (a mesh node: its peer entry's labels). */
  labels: Record<string, string>;
  /** Column group → sums; groups of its targets only. */
  cells: Record<string, CellSums>;
}

/** A node whose row could not be had (unreachable peer): it still gets its row key, without cells. */
export interface MissingRow {
  node: string;
  labels: Record<string, string>;
  error: string;
}

export interface MatrixCell {
  targets: number;
  answered: number;
  lost: number;
  /** lost / (answered + lost); null when no probe completed. */
  loss: number | null;
  p50: number | null;
  p99: number | null;
}

export interface MatrixRow {
  key: string;
  /** Nodes whose probes this row sums (and those that did not answer). */
  nodes: string[];
  missing: { node: string; error: string }[];
}

export interface Matrix {
  rowLabel: string;
  colLabel: string;
  rows: MatrixRow[];
  cols: string[];
  /** cells[row][col]; null when no node of the row probes a target of the column. */
  cells: (MatrixCell | null)[][];
}

/** Group positions 0..n-1 by a label value (undefined → NO_GROUP). */
export function groupBy(n: number, labelOf: (i: number) => string | undefined): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const g = labelOf(i) ?? NO_GROUP;
    let list = groups.get(g);
    if (list === undefined) groups.set(g, (list = []));
    list.push(i);
  }
  return groups;
}

/** A node's cells: for each group, `accumulate` adds every member to the group's sums. */
export function rowCells(groups: ReadonlyMap<string, readonly number[]>, accumulate: (member: number, acc: Accumulator) => void): Record<string, CellSums> {
  const cells: Record<string, CellSums> = {};
  for (const [g, members] of groups) {
    const acc = newAccumulator();
    for (const m of members) accumulate(m, acc);
    cells[g] = { targets: members.length, answered: acc.answered, lost: acc.lost, rtt: sparse(acc.weights) };
  }
  return cells;
}

function sparse(w: Float64Array): number[] {
  const out: number[] = [];
  for (let c = 1; c < w.length; c++) if (w[c] > 0) out.push(c, w[c]);
  return out;
}

/** Why a NodeRow received from a peer is malformed, or null (it crossed the network: trust nothing). */
export function checkNodeRow(v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return 'not an object';
  const r = v as Record<string, unknown>;
  if (typeof r.node !== 'string') return 'node is not a string';
  if (typeof r.labels !== 'object' || r.labels === null || Object.values(r.labels).some((x) => typeof x !== 'string')) return 'labels is not a string map';
  if (typeof r.cells !== 'object' || r.cells === null) return 'cells is not an object';
  for (const [g, c] of Object.entries(r.cells as Record<string, unknown>)) {
    const cell = c as Record<string, unknown>;
    if (typeof cell !== 'object' || cell === null) return `cell ${g} is not an object`;
    for (const k of ['targets', 'answered', 'lost']) if (typeof cell[k] !== 'number' || !(cell[k] >= 0)) return `cell ${g}: ${k} is not a count`;
    const rtt = cell.rtt;
    if (!Array.isArray(rtt) || rtt.length % 2 !== 0) return `cell ${g}: rtt is not a list of pairs`;
    for (let i = 0; i < rtt.length; i += 2) {
      const code: unknown = rtt[i];
      const w: unknown = rtt[i + 1];
      if (typeof code !== 'number' || !Number.isInteger(code) || code < 1 || code >= RTT_CODE_COUNT || typeof w !== 'number' || !(w >= 0))
        return `cell ${g}: bad rtt pair`;
    }
  }
  return null;
}

/**
 * The row key of a node for `rowLabel`: the node name for "prober" and for "peer" (a
 * node is the peer of that name to the others, so rows by peer line up with columns by
 * peer), else that label of the node. The group rollups name their source side with it.
 */
export function rowKey(node: { node: string; labels: Record<string, string> }, rowLabel: string): string {
  return rowLabel === 'prober' || rowLabel === 'peer' ? node.node : (node.labels[rowLabel] ?? NO_GROUP);
}

/** Merge node rows (and nodes that did not answer) into the matrix for `rowLabel` × the rows' column groups. */
export function mergeRows(nodes: readonly (NodeRow | MissingRow)[], rowLabel: string, colLabel: string): Matrix {
  const rowAcc = new Map<string, { row: MatrixRow; cells: Map<string, Accumulator & { targets: number }> }>();
  const colSet = new Set<string>();
  for (const n of nodes) {
    const key = rowKey(n, rowLabel);
    let r = rowAcc.get(key);
    if (r === undefined) rowAcc.set(key, (r = { row: { key, nodes: [], missing: [] }, cells: new Map() }));
    if ('error' in n) {
      r.row.missing.push({ node: n.node, error: n.error });
      continue;
    }
    r.row.nodes.push(n.node);
    for (const [g, c] of Object.entries(n.cells)) {
      colSet.add(g);
      let acc = r.cells.get(g);
      if (acc === undefined) r.cells.set(g, (acc = { ...newAccumulator(), targets: 0 }));
      acc.targets += c.targets;
      acc.answered += c.answered;
      acc.lost += c.lost;
      for (let i = 0; i < c.rtt.length; i += 2) acc.weights[c.rtt[i]] += c.rtt[i + 1];
    }
  }
  const order = (a: string, b: string): number => (a === NO_GROUP ? 1 : b === NO_GROUP ? -1 : a.localeCompare(b, 'en', { numeric: true }));
  const cols = [...colSet].sort(order);
  const keys = [...rowAcc.keys()].sort(order);
  const rows = keys.map((k) => rowAcc.get(k)!.row);
  const cells = keys.map((k) => {
    const r = rowAcc.get(k)!;
    return cols.map((c): MatrixCell | null => {
      const acc = r.cells.get(c);
      if (acc === undefined) return null;
      const done = acc.answered + acc.lost;
      const p50 = mixtureQuantile(acc, 0.5);
      const p99 = mixtureQuantile(acc, 0.99);
      return {
        targets: acc.targets,
        answered: acc.answered,
        lost: acc.lost,
        loss: done > 0 ? acc.lost / done : null,
        p50: Number.isNaN(p50) ? null : p50,
        p99: Number.isNaN(p99) ? null : p99,
      };
    });
  });
  return { rowLabel, colLabel, rows, cols, cells };
}

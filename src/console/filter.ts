/**
 * The targets table's search and sort, on the columnar list (no object per row).
 *
 * A query is words separated by spaces; a row matches when every word does:
 *   label=value   the target's label equals value (also kind=, state=, target=, address=)
 *   anything else the name or the address contains it (case-insensitive)
 */
import type { LiveColumns, TargetsList } from './types';

export type SortKey = 'name' | 'kind' | 'address' | 'labels' | 'state' | 'loss' | 'last' | 'p99';

type Pred = (i: number) => boolean;

function wordPredicate(list: TargetsList, word: string): Pred {
  const eq = word.indexOf('=');
  if (eq > 0) {
    const key = word.slice(0, eq);
    const value = word.slice(eq + 1);
    if (key === 'kind') {
      const code = list.kinds.indexOf(value);
      return (i) => list.kind[i] === code;
    }
    if (key === 'state') {
      const code = list.states.indexOf(value);
      return (i) => list.state[i] === code;
    }
    if (key === 'target' || key === 'name') return (i) => list.names[i] === value;
    if (key === 'address') return (i) => list.addresses[i] === value;
    const col = list.labels[key];
    if (col === undefined) return () => false;
    const code = col.values.indexOf(value);
    if (code < 0) return () => false;
    const index = col.index;
    return (i) => index[i] === code;
  }
  const w = word.toLowerCase();
  const names = list.namesLower ?? list.names;
  const addrs = list.addressesLower ?? list.addresses;
  return (i) => names[i].includes(w) || addrs[i].includes(w);
}

/** The rows of `order` that match `query`, in that order. */
export function filterRows(list: TargetsList, order: Uint32Array, query: string): Uint32Array {
  const words = query
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  if (words.length === 0) return order;
  const preds = words.map((w) => wordPredicate(list, w));
  const out = new Uint32Array(order.length);
  let n = 0;
  outer: for (let k = 0; k < order.length; k++) {
    const i = order[k];
    for (const p of preds) if (!p(i)) continue outer;
    out[n++] = i;
  }
  return out.subarray(0, n);
}

/** "rack=r1 zone=z2" for a row. */
export function labelText(list: TargetsList, i: number): string {
  let s = '';
  for (const k of list.labelKeys) {
    const c = list.labels[k].index[i];
    if (c >= 0) s += `${s ? ' ' : ''}${k}=${list.labels[k].values[c]}`;
  }
  return s;
}

/** Row order for a sort key (descending when `desc`); numbers with no data last. */
export function sortRows(list: TargetsList, live: LiveColumns | undefined, key: SortKey, desc: boolean): Uint32Array {
  const n = list.count;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const dir = desc ? -1 : 1;
  const byString = (col: string[]) => (a: number, b: number) => (col[a] < col[b] ? -dir : col[a] > col[b] ? dir : a - b);
  let cmp: (a: number, b: number) => number;
  switch (key) {
    case 'name':
      cmp = byString(list.names);
      break;
    case 'address':
      cmp = byString(list.addresses);
      break;
    case 'kind':
      cmp = byString(list.kind.map((c) => list.kinds[c]));
      break;
    case 'state':
      cmp = byString(list.state.map((c) => list.states[c]));
      break;
    case 'labels': {
      const texts = Array.from({ length: n }, (_, i) => labelText(list, i));
      cmp = byString(texts);
      break;
    }
    default: {
      const col = live && live.count === n ? live[key] : undefined;
      if (col === undefined) return order;
      cmp = (a, b) => {
        const x = col[a];
        const y = col[b];
        const xn = Number.isNaN(x);
        const yn = Number.isNaN(y);
        if (xn || yn) return xn === yn ? a - b : xn ? 1 : -1;
        return x < y ? -dir : x > y ? dir : a - b;
      };
    }
  }
  return order.sort(cmp);
}

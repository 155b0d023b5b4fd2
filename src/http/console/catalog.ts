/**
 * The web console's list of targets: every target with its slot in the store and the
 * fields that change only when the target set does (name, kind, address, labels,
 * state). Built once per change of the target set (a generation) and shared by every
 * view; the fast-changing numbers are read from the store per request (see live.ts).
 *
 * The browser gets it as columnar JSON (toJson()): one array per field, labels
 * dictionary-encoded per label name, so 100,000 targets are a few megabytes that
 * parse fast and filter without building an object per row.
 */
import { gzipSync } from 'node:zlib';
import { groupBy } from '../../aggregate/matrix.js';

export const CONSOLE_STATES = ['ok', 'unresolved', 'rejected', 'pending'] as const;
export type ConsoleState = (typeof CONSOLE_STATES)[number];

/** Label names every target has without being given them. */
export const BUILTIN_LABELS = ['target', 'kind', 'address'] as const;

export interface ConsoleEntry {
  /** Store slot; -1 for a target rejected before it got one (it has no counters). */
  slot: number;
  name: string;
  kind: string;
  address: string;
  labels: Readonly<Record<string, string>>;
  state: ConsoleState;
  error?: string;
  worker?: number;
  ip?: string;
  source?: string;
}

export class TargetCatalog {
  readonly slots: Int32Array;
  private readonly byName = new Map<string, number>();
  private json: string | null = null;
  private gzipped: Buffer | null = null;
  private readonly groupCache = new Map<string, Map<string, number[]>>();
  readonly labelKeys: string[];
  /** 1 for targets in state ok (probed), per row. */
  readonly probing: Uint8Array;
  /** Targets by state and by kind (fixed for a generation). */
  readonly byState: Record<string, number>;
  readonly byKind: Record<string, number>;

  constructor(
    readonly generation: number,
    readonly entries: readonly ConsoleEntry[],
  ) {
    this.slots = Int32Array.from(entries, (e) => e.slot);
    this.probing = Uint8Array.from(entries, (e) => (e.state === 'ok' ? 1 : 0));
    this.byState = Object.fromEntries(CONSOLE_STATES.map((st) => [st, 0]));
    this.byKind = {};
    const keys = new Set<string>();
    entries.forEach((e, i) => {
      if (!this.byName.has(e.name)) this.byName.set(e.name, i);
      for (const k in e.labels) keys.add(k);
      this.byState[e.state]++;
      this.byKind[e.kind] = (this.byKind[e.kind] ?? 0) + 1;
    });
    this.labelKeys = [...keys].sort();
  }

  get size(): number {
    return this.entries.length;
  }

  /** Row of a target by name (first one for names shared by rejected entries), or undefined. */
  indexOf(name: string): number | undefined {
    return this.byName.get(name);
  }

  /** The value of `label` for row i: the built-ins target, kind and address, else the target's own label. */
  labelOf(i: number, label: string): string | undefined {
    const e = this.entries[i];
    if (label === 'target') return e.name;
    if (label === 'kind') return e.kind;
    if (label === 'address') return e.address;
    return e.labels[label];
  }

  /** Rows with a slot (probed or waiting), grouped by a label; cached per label for this generation. */
  groups(label: string): Map<string, number[]> {
    let g = this.groupCache.get(label);
    if (g === undefined) {
      const all = groupBy(this.entries.length, (i) => (this.entries[i].slot >= 0 ? this.labelOf(i, label) : undefined));
      // Rejected entries without a slot have nothing to count: drop them from every group.
      g = new Map();
      for (const [k, rows] of all) {
        const kept = rows.filter((i) => this.entries[i].slot >= 0);
        if (kept.length > 0) g.set(k, kept);
      }
      this.groupCache.set(label, g);
    }
    return g;
  }

  /** toJson() gzipped, once per generation (100k targets: 3 MB of JSON, a few hundred KB sent). */
  toGzip(): Buffer {
    this.gzipped ??= gzipSync(this.toJson(), { level: 6 });
    return this.gzipped;
  }

  /**
   * The columnar JSON the Targets view loads:
   * {generation, count, names, addresses, kinds (dictionary), kind (codes),
   *  states (dictionary), state (codes), labelKeys, labels: {key: {values, index}}
   *  (index[i] = position in values, -1 without the label), errors: {row: message}}.
   */
  toJson(): string {
    if (this.json !== null) return this.json;
    const kinds: string[] = [];
    const kindCode = new Map<string, number>();
    const kind = new Array<number>(this.size);
    const state = new Array<number>(this.size);
    const names = new Array<string>(this.size);
    const addresses = new Array<string>(this.size);
    const errors: Record<number, string> = {};
    const labels: Record<string, { values: string[]; index: number[] }> = {};
    const valueCode: Record<string, Map<string, number>> = {};
    for (const k of this.labelKeys) {
      labels[k] = { values: [], index: new Array<number>(this.size).fill(-1) };
      valueCode[k] = new Map();
    }
    this.entries.forEach((e, i) => {
      names[i] = e.name;
      addresses[i] = e.address;
      let kc = kindCode.get(e.kind);
      if (kc === undefined) {
        kc = kinds.length;
        kinds.push(e.kind);
        kindCode.set(e.kind, kc);
      }
      kind[i] = kc;
      state[i] = CONSOLE_STATES.indexOf(e.state);
      if (e.error) errors[i] = e.error;
      for (const k in e.labels) {
        const v = e.labels[k];
        let c = valueCode[k].get(v);
        if (c === undefined) {
          c = labels[k].values.length;
          labels[k].values.push(v);
          valueCode[k].set(v, c);
        }
        labels[k].index[i] = c;
      }
    });
    this.json = JSON.stringify({
      generation: this.generation,
      count: this.size,
      names,
      addresses,
      kinds,
      kind,
      states: CONSOLE_STATES,
      state,
      labelKeys: this.labelKeys,
      labels,
      errors,
    });
    return this.json;
  }
}

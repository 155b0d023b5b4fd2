/**
 * Group rollups (`metrics.group_by: [label, …]`): the per-target counters and RTT
 * histogram added up per group of targets (the values of the group_by labels) and
 * probe kind, so a 100k-target fleet can alert and draw its heatmaps from a few hundred
 * series (Pingmesh and NetNORAD roll up by rack, pod and cluster the same way). Pure:
 * no I/O, no timers.
 *
 * What is summed is declared by the group catalog (metrics/group-catalog.ts) in terms of
 * the per-target families, and read from the store's own columns: nothing is counted
 * twice. The work is split so that a scrape stays one pass:
 *
 *  - when a slot is defined (SlotObserver.slotDefined), its group key is built from its
 *    labels and its (group, kind) cell is looked up or created: per target definition,
 *    never per scrape;
 *  - at scrape or export time, collect() makes one pass over the slots of a snapshot,
 *    adding each slot's columns into its cell's accumulator.
 *
 * Counters of a group stay monotonic while targets come, go and change labels (a sum
 * that dropped when a target left would read as a counter reset, and rate() would show
 * a burst of the group's whole history). Each cell keeps a `carry`: when a slot leaves
 * the cell (released, relabelled, or its counters zeroed for a new target) its counters
 * are added to the carry; when a slot joins with counters it already has (relabelled),
 * they are subtracted. A cell's value is carry + the sum of its members, which only
 * grows. A cell whose last target leaves disappears with its carry, as per-target
 * series disappear with their target.
 *
 * Source and destination (mesh mode): every target of a node is probed by that node,
 * so the source side of a cell is the node itself, the same for every cell. Its values
 * of the group_by labels are the matrix's row keys (matrix.ts rowKey: `prober` and
 * `peer` name the node, any other label is the node's own label from the peer list),
 * labelled `src_<label>`; the destination side is the target's label, `dst_<label>`.
 * Outside mesh mode there is no source label: the source is the scraped instance.
 *
 * Cardinality: at most `limit` groups get series of their own; targets of further
 * groups are folded into one more group whose destination labels read `__other__`,
 * and the folded groups are counted (stats()). A group folded stays folded while it
 * has folded targets, so its numbers never split across two series.
 */
import { PROBE_KINDS } from '../kinds/index.js';
import { DESTINATION_LABEL_PREFIX, GROUP_FAMILIES, SOURCE_LABEL_PREFIX, groupCellLayout, type GroupCellLayout } from '../metrics/group-catalog.js';
import { NO_GROUP, rowKey } from './matrix.js';
import type { SlotDefinition, SlotObserver } from './store.js';

/** The destination label value of the group that holds the targets of groups beyond the limit. */
export const OTHER_GROUP = '__other__';
export const DEFAULT_GROUP_LIMIT = 10_000;

/**
 * What collect() reads: a StoreSnapshot, or the store's LiveColumns; the columns are
 * looked up by the names the metric catalog gives them (sent, errors, rttBuckets, …).
 */
export interface RollupColumns {
  readonly highWater: number;
  readonly defined: Uint8Array;
}

/** This node as a prober (mesh mode), the same shape as the matrix's NodeRow identity. */
export interface ProberIdentity {
  node: string;
  labels: Record<string, string>;
}

/** A target's values of the group_by labels (NO_GROUP, '', for a label it does not have). */
export function groupValues(labels: Readonly<Record<string, string>> | undefined, groupBy: readonly string[]): string[] {
  return groupBy.map((l) => labels?.[l] ?? NO_GROUP);
}

/** The map key of a group (unambiguous whatever the values contain). */
export function groupKey(values: readonly string[]): string {
  return JSON.stringify(values);
}

/** The source side's values in mesh mode: the node's row keys of the matrix, one per group_by label. */
export function sourceValues(node: ProberIdentity, groupBy: readonly string[]): string[] {
  return groupBy.map((l) => rowKey(node, l));
}

/** Label pairs of a cell's series: src_* (when there is a source), dst_*, kind; empty values are left out (Prometheus: absent). */
export function cellLabels(groupBy: readonly string[], source: readonly string[] | null, destination: readonly string[], kind: string): [string, string][] {
  const out: [string, string][] = [];
  if (source !== null) groupBy.forEach((l, i) => source[i] !== NO_GROUP && out.push([SOURCE_LABEL_PREFIX + l, source[i]]));
  groupBy.forEach((l, i) => destination[i] !== NO_GROUP && out.push([DESTINATION_LABEL_PREFIX + l, destination[i]]));
  out.push(['kind', kind]);
  return out;
}

export interface GroupRollupOptions {
  groupBy: readonly string[];
  /** Most groups with series of their own (default DEFAULT_GROUP_LIMIT); more are folded into `__other__`. */
  limit?: number;
  /** Histogram row width of the store: its RTT bounds + 1. */
  stride: number;
  /** The store's live columns, read when a slot's counters leave or join a cell. */
  liveColumns: () => RollupColumns;
  /** Wall clock in epoch ms (cell start times); default Date.now. */
  now?: () => number;
}

/** One (group, kind) cell in a snapshot. */
export interface GroupCell {
  /** Label pairs of its series (cellLabels()); the same array until the labels change. */
  readonly labels: readonly (readonly [string, string])[];
  readonly targets: number;
  /** Epoch ms since which its counters count (the OTLP start time). */
  readonly startMs: number;
}

export interface GroupRollupSnapshot {
  readonly layout: GroupCellLayout;
  readonly cells: readonly GroupCell[];
  /** cells[i]'s numbers at i * layout.width (groupCellLayout: counters, then each histogram's row and sum). */
  readonly values: Float64Array;
}

export interface GroupRollupStats {
  /** Groups with series of their own (`__other__` not counted). */
  groups: number;
  /** Distinct groups whose targets are folded into `__other__`. */
  folded: number;
  /** Targets in `__other__`. */
  foldedTargets: number;
}

interface Group {
  readonly key: string;
  /** Destination values (all OTHER_GROUP for the overflow group). */
  readonly values: readonly string[];
  /** Cell id per kind code, -1 without one. */
  readonly cells: Int32Array;
  members: number;
}

interface Cell {
  readonly group: Group;
  readonly kind: number;
  members: number;
  startMs: number;
  /** Built on demand for the current source; null after the source changed. */
  labels: [string, string][] | null;
}

/** Where to add from, for one column layout (a snapshot's or the live store's). */
interface Plan {
  /** Scalar columns and the cell offset each adds to (a labelled family: one entry per value column). */
  readonly arrays: Float64Array[];
  readonly offsets: number[];
  readonly hists: { rows: Float64Array; sums: Float64Array; offset: number }[];
}

type Columns = Readonly<Record<string, Float64Array | readonly (Float64Array | undefined)[] | undefined>>;

function column<T>(cols: RollupColumns, name: string): T {
  const c = (cols as unknown as Columns)[name];
  if (c === undefined) throw new Error(`group rollups: the store has no column ${name}`);
  return c as T;
}

/** The columns the group catalog sums, in a column set; derived from the catalog, never named here. */
function planFor(cols: RollupColumns, layout: GroupCellLayout): Plan {
  const plan: Plan = { arrays: [], offsets: [], hists: [] };
  for (const f of GROUP_FAMILIES) {
    const offset = layout.offset[f.id];
    for (const src of f.sources) {
      if (f.type === 'histogram') {
        plan.hists.push({ rows: column(cols, `${src.column}Buckets`), sums: column(cols, `${src.column}Sum`), offset });
      } else if (src.label === undefined) {
        plan.arrays.push(column(cols, src.column));
        plan.offsets.push(offset);
      } else {
        for (const c of column<readonly (Float64Array | undefined)[]>(cols, src.column)) {
          if (c === undefined) continue;
          plan.arrays.push(c);
          plan.offsets.push(offset);
        }
      }
    }
  }
  return plan;
}

/** out[base + …] += sign × the slot's numbers. */
function addSlot(plan: Plan, stride: number, slot: number, out: Float64Array, base: number, sign: number): void {
  const { arrays, offsets } = plan;
  for (let i = 0; i < arrays.length; i++) out[base + offsets[i]] += sign * arrays[i][slot];
  for (const h of plan.hists) {
    const o = base + h.offset;
    const r = slot * stride;
    for (let b = 0; b < stride; b++) out[o + b] += sign * h.rows[r + b];
    out[o + stride] += sign * h.sums[slot];
  }
}

export class GroupRollups implements SlotObserver {
  readonly groupBy: readonly string[];
  readonly limit: number;
  readonly layout: GroupCellLayout;
  private readonly liveColumns: () => RollupColumns;
  private readonly now: () => number;
  private readonly kindCode: ReadonlyMap<string, number> = new Map(PROBE_KINDS.map((k, i) => [k, i]));

  /** Cell id of each slot, -1 for none. */
  private slotCell = new Int32Array(0).fill(-1);
  /** 1 while a slot's counters are known to be zero (reset, not yet redefined): nothing to read. */
  private slotFresh = new Uint8Array(0);
  /** The own group key of each slot folded into `__other__`. */
  private readonly foldedSlotKey = new Map<number, string>();

  private readonly groups = new Map<string, Group>();
  private other: Group | null = null;
  /** Group key → its targets in `__other__`. */
  private readonly folded = new Map<string, number>();

  private cells: (Cell | undefined)[] = [];
  private readonly freeCells: number[] = [];
  /** `layout.width` numbers per cell id. */
  private carry = new Float64Array(0);

  /** The source values last exported (mesh mode), as a key; undefined before the first collect. */
  private sourceKey: string | undefined;
  private source: readonly string[] | null = null;

  constructor(opts: GroupRollupOptions) {
    if (opts.groupBy.length === 0) throw new RangeError('group rollups need at least one group_by label');
    this.groupBy = [...opts.groupBy];
    this.limit = opts.limit ?? DEFAULT_GROUP_LIMIT;
    if (!(Number.isInteger(this.limit) && this.limit >= 1)) throw new RangeError(`group limit must be a positive integer, got ${opts.limit}`);
    this.layout = groupCellLayout(opts.stride);
    this.liveColumns = opts.liveColumns;
    this.now = opts.now ?? Date.now;
  }

  // ------------------------------------------------------------ slot changes (SlotObserver)

  slotResetting(slot: number): void {
    this.ensureSlots(slot + 1);
    // The slot's counters are about to go to zero: its cell keeps what they counted.
    if (this.slotCell[slot] >= 0 && this.slotFresh[slot] === 0) this.addLive(slot, this.slotCell[slot], 1);
    this.slotFresh[slot] = 1;
  }

  slotReleasing(slot: number): void {
    this.ensureSlots(slot + 1);
    this.leave(slot);
  }

  slotDefined(slot: number, def: SlotDefinition): void {
    this.ensureSlots(slot + 1);
    const kind = this.kindCode.get(def.kind);
    if (kind === undefined) throw new RangeError(`unknown probe kind ${JSON.stringify(def.kind)}`);
    const values = groupValues(def.labels, this.groupBy);
    const key = groupKey(values);
    const id = this.slotCell[slot];
    if (id >= 0) {
      const cell = this.cells[id]!;
      const current = cell.group === this.other ? this.foldedSlotKey.get(slot) : cell.group.key;
      if (current === key && cell.kind === kind) {
        this.slotFresh[slot] = 0;
        return;
      }
      this.leave(slot);
    }
    this.join(slot, key, values, kind);
    this.slotFresh[slot] = 0;
  }

  private join(slot: number, key: string, values: readonly string[], kind: number): void {
    let g = this.groups.get(key);
    if (g === undefined) {
      const foldedTargets = this.folded.get(key);
      if (foldedTargets === undefined && this.groups.size < this.limit) {
        g = { key, values: [...values], cells: new Int32Array(PROBE_KINDS.length).fill(-1), members: 0 };
        this.groups.set(key, g);
      } else {
        this.folded.set(key, (foldedTargets ?? 0) + 1);
        this.foldedSlotKey.set(slot, key);
        g = this.other ??= { key: '', values: this.groupBy.map(() => OTHER_GROUP), cells: new Int32Array(PROBE_KINDS.length).fill(-1), members: 0 };
      }
    }
    let id = g.cells[kind];
    if (id < 0) id = g.cells[kind] = this.newCell(g, kind);
    const cell = this.cells[id]!;
    cell.members++;
    g.members++;
    this.slotCell[slot] = id;
    // Counters the slot brings along (same target, new labels) are not the cell's: start from them.
    if (this.slotFresh[slot] === 0) this.addLive(slot, id, -1);
  }

  private leave(slot: number): void {
    const id = this.slotCell[slot];
    if (id < 0) return;
    const cell = this.cells[id]!;
    const g = cell.group;
    // What the slot counted while in the cell stays in it.
    if (this.slotFresh[slot] === 0) this.addLive(slot, id, 1);
    this.slotCell[slot] = -1;
    cell.members--;
    g.members--;
    if (g === this.other) {
      const key = this.foldedSlotKey.get(slot)!;
      this.foldedSlotKey.delete(slot);
      const left = this.folded.get(key)! - 1;
      if (left === 0) this.folded.delete(key);
      else this.folded.set(key, left);
    }
    if (cell.members === 0) {
      g.cells[cell.kind] = -1;
      this.cells[id] = undefined;
      this.freeCells.push(id);
    }
    if (g.members === 0) {
      if (g === this.other) this.other = null;
      else this.groups.delete(g.key);
    }
  }

  private newCell(group: Group, kind: number): number {
    const w = this.layout.width;
    let id = this.freeCells.pop();
    if (id === undefined) {
      id = this.cells.length;
      this.cells.push(undefined);
      if (this.carry.length < this.cells.length * w) {
        const grown = new Float64Array(Math.max(16, this.cells.length * 2) * w);
        grown.set(this.carry);
        this.carry = grown;
      }
    }
    this.carry.fill(0, id * w, (id + 1) * w);
    this.cells[id] = { group, kind, members: 0, startMs: this.now(), labels: null };
    return id;
  }

  /** carry[cell] += sign × the slot's live counters. */
  private addLive(slot: number, id: number, sign: number): void {
    const cols = this.liveColumns();
    addSlot(planFor(cols, this.layout), this.layout.stride, slot, this.carry, id * this.layout.width, sign);
  }

  private ensureSlots(n: number): void {
    if (n <= this.slotCell.length) return;
    let c = Math.max(1024, this.slotCell.length);
    while (c < n) c *= 2;
    const cells = new Int32Array(c).fill(-1);
    cells.set(this.slotCell);
    this.slotCell = cells;
    const fresh = new Uint8Array(c);
    fresh.set(this.slotFresh);
    this.slotFresh = fresh;
  }

  // ------------------------------------------------------------ reading

  /**
   * The rollups at the instant of `cols`: one pass over its slots, each added into its
   * cell. Call it in the same tick as the snapshot was taken (the cells are those of the
   * live store). `source`: this node's values of the group_by labels in mesh mode
   * (sourceValues()), null outside it. When they differ from the last ones exported,
   * every cell starts over from zero under its new labels (they are new series).
   */
  collect(cols: RollupColumns, source: readonly string[] | null = null): GroupRollupSnapshot {
    const { width: w, stride } = this.layout;
    const sourceKey = source === null ? 'null' : groupKey(source);
    const restart = this.sourceKey !== undefined && sourceKey !== this.sourceKey;
    if (sourceKey !== this.sourceKey) {
      this.sourceKey = sourceKey;
      this.source = source === null ? null : [...source];
      for (const c of this.cells) if (c !== undefined) c.labels = null;
    }
    const acc = this.carry.slice(0, this.cells.length * w);
    const plan = planFor(cols, this.layout);
    const { arrays, offsets, hists } = plan;
    const nArrays = arrays.length;
    const n = Math.min(cols.highWater, this.slotCell.length);
    const slotCell = this.slotCell;
    const defined = cols.defined;
    for (let s = 0; s < n; s++) {
      const id = slotCell[s];
      if (id < 0 || defined[s] !== 1) continue;
      const base = id * w;
      for (let i = 0; i < nArrays; i++) acc[base + offsets[i]] += arrays[i][s];
      for (let h = 0; h < hists.length; h++) {
        const { rows, sums, offset } = hists[h];
        const o = base + offset;
        const r = s * stride;
        for (let b = 0; b < stride; b++) acc[o + b] += rows[r + b];
        acc[o + stride] += sums[s];
      }
    }
    const now = restart ? this.now() : 0;
    const cells: GroupCell[] = [];
    const live: number[] = [];
    for (let id = 0; id < this.cells.length; id++) {
      const c = this.cells[id];
      if (c === undefined) continue;
      if (restart) {
        for (let i = id * w; i < (id + 1) * w; i++) {
          this.carry[i] -= acc[i];
          acc[i] = 0;
        }
        c.startMs = now;
      }
      c.labels ??= cellLabels(this.groupBy, this.source, c.group.values, PROBE_KINDS[c.kind]);
      cells.push({ labels: c.labels, targets: c.members, startMs: c.startMs });
      live.push(id);
    }
    const values = new Float64Array(live.length * w);
    for (let i = 0; i < live.length; i++) values.set(acc.subarray(live[i] * w, (live[i] + 1) * w), i * w);
    return { layout: this.layout, cells, values };
  }

  stats(): GroupRollupStats {
    return { groups: this.groups.size, folded: this.folded.size, foldedTargets: this.other?.members ?? 0 };
  }
}

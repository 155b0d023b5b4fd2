/**
 * The group rollups (aggregate/groups.ts) in the Prometheus text format 0.0.4, one
 * writer per type of the group catalog (group-catalog.ts), through the same ChunkWriter
 * as the per-target families. A few hundred to a few tens of thousands of series: the
 * cost is in collecting the sums (one pass over the slots), not here.
 *
 * Histograms are the classic `le` buckets of the store's RTT bounds, cumulated here from
 * the non-cumulative rows the rollups keep (the same layout as the store's), so a
 * native-histogram form can be written from the same rows once the store has one.
 */
import type { GroupRollupSnapshot } from '../aggregate/groups.js';
import { escapeLabelValue } from '../aggregate/labels.js';
import { ChunkWriter } from './chunk-writer.js';
import { formatNumber } from './format.js';
import { GROUP_FAMILIES, type GroupFamily } from './group-catalog.js';

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');
const NL = 0x0a;
const CLOSE = utf8('} ');

interface Pieces {
  fam: GroupFamily;
  header: Uint8Array;
  open: Uint8Array;
  bucketOpen: Uint8Array;
  sumOpen: Uint8Array;
  countOpen: Uint8Array;
}
const PIECES: readonly Pieces[] = GROUP_FAMILIES.map((fam) => ({
  fam,
  header: utf8(`# HELP ${fam.prometheus} ${fam.help}\n# TYPE ${fam.prometheus} ${fam.type}\n`),
  open: utf8(fam.prometheus + '{'),
  bucketOpen: utf8(fam.prometheus + '_bucket{'),
  sumOpen: utf8(fam.prometheus + '_sum{'),
  countOpen: utf8(fam.prometheus + '_count{'),
}));

/** Escaped `a="x",b="y",kind="icmp"` per label array: built once per cell (a cell keeps its array until its labels change). */
const fragments = new WeakMap<readonly (readonly [string, string])[], Uint8Array>();
function fragment(labels: readonly (readonly [string, string])[]): Uint8Array {
  let f = fragments.get(labels);
  if (f === undefined) fragments.set(labels, (f = utf8(labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(','))));
  return f;
}

let leCache: { buckets: Float64Array; les: Uint8Array[] } | undefined;
/** `,le="<bound>"} ` per bound, then `,le="+Inf"} `. */
function lesFor(buckets: Float64Array): Uint8Array[] {
  if (leCache?.buckets !== buckets) leCache = { buckets, les: [...Array.from(buckets, (b) => utf8(`,le="${formatNumber(b)}"} `)), utf8(',le="+Inf"} ')] };
  return leCache.les;
}

/**
 * The group families of one rollup snapshot as Buffers of `chunkBytes` (the last
 * shorter), lazily. `buckets`: the store's RTT bounds. No cell: no family at all.
 */
export function* groupExpositionChunks(r: GroupRollupSnapshot, buckets: Float64Array, chunkBytes: number): Generator<Buffer, void, undefined> {
  if (r.cells.length === 0) return;
  if (buckets.length + 1 !== r.layout.stride) throw new Error(`group rollups: ${r.layout.stride - 1} histogram bounds, the store has ${buckets.length}`);
  const w = new ChunkWriter(chunkBytes);
  const width = r.layout.width;
  const stride = r.layout.stride;
  const les = lesFor(buckets);
  for (const p of PIECES) {
    w.bytes(p.header);
    const off = r.layout.offset[p.fam.id];
    for (let i = 0; i < r.cells.length; i++) {
      const cell = r.cells[i];
      const labels = fragment(cell.labels);
      if (p.fam.type !== 'histogram') {
        sample(w, p.open, labels, undefined, p.fam.countsTargets ? cell.targets : r.values[i * width + off]);
      } else {
        const base = i * width + off;
        let cum = 0;
        for (let b = 0; b < stride; b++) {
          cum += r.values[base + b];
          sample(w, p.bucketOpen, labels, les[b], cum);
        }
        sample(w, p.sumOpen, labels, undefined, r.values[base + stride]);
        sample(w, p.countOpen, labels, undefined, cum);
      }
      if (w.hasFullChunk) yield* w.take();
    }
  }
  yield* w.take(true);
}

/** `<open><labels><le or "} "><value>\n`. */
function sample(w: ChunkWriter, open: Uint8Array, labels: Uint8Array, le: Uint8Array | undefined, value: number): void {
  w.bytes(open);
  w.bytes(labels);
  w.bytes(le ?? CLOSE);
  w.number(value);
  w.byte(NL);
}

/** The whole rollup text (tests). */
export function renderGroupExpositionText(r: GroupRollupSnapshot, buckets: Float64Array): string {
  return Buffer.concat(Array.from(groupExpositionChunks(r, buckets, 64 * 1024))).toString('utf8');
}

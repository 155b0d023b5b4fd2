/**
 * Every slot's label bytes in one append-only byte arena: per slot, the escaped text
 * fragment (what the text exposition writes between the braces of each series)
 * followed by the same labels as protobuf LabelPair fields (what the protobuf
 * exposition writes into each Metric). Both are built once per target definition,
 * never per scrape.
 *
 * What a series carries depends on metrics.series_labels (SeriesLabels):
 *  - `full`: `target="…",address="…",kind="…",<user labels>` on every series;
 *  - `compact`: `target="…",<user labels>` on every series, and the rest
 *    (`,address="…",kind="…"` and its LabelPairs) stored right after the series labels,
 *    for the one fleetprobe_target_info series per target (metrics/catalog.ts
 *    TARGET_INFO). Why the split is truthful: a target's name is unique in the store
 *    (targets/sources.ts dedupeTargets; a target renamed to another kind or address is
 *    released before the new one is defined), so `target` alone identifies the series,
 *    and address and kind are attributes, read by a join on `target`.
 * A slot's bytes are [series text][series pairs][info text][info pairs].
 *
 * Why an arena: a Buffer per slot (what this replaced) is a JS object of ~100 bytes
 * plus its bytes, 100,000 of them live for the life of the process; here a slot costs
 * 12 bytes of index besides its label bytes, and the garbage collector sees 4 objects.
 *
 * Snapshots share the bytes: the arena is never written below its end, and growing or
 * compacting allocates a new one, so a snapshot that holds the old bytes and copies of
 * the index stays valid however the slots change after it.
 */
import { escapeLabelValue, validateUserLabelName } from './labels.js';
import { varintSize } from '../values/varint.js';

/** metrics.series_labels: which labels every per-target series carries (see above). */
export const SERIES_LABELS = ['full', 'compact'] as const;
export type SeriesLabels = (typeof SERIES_LABELS)[number];

/**
 * Per slot, the length of its info labels (compact mode), which follow its series
 * labels: text `,address="…",kind="…"` at start + textLen + pbLen, then their LabelPairs.
 */
export interface InfoIndex {
  readonly textLen: Uint32Array;
  readonly pbLen: Uint32Array;
}

/** What a snapshot holds: shared bytes, copied index. */
export interface LabelArenaView {
  readonly bytes: Uint8Array;
  /** Per slot: offset of its text fragment; its protobuf LabelPairs follow at start + textLen. */
  readonly start: Uint32Array;
  readonly textLen: Uint32Array;
  readonly pbLen: Uint32Array;
  /** Compact mode: every slot's info labels (fleetprobe_target_info); undefined in full mode. */
  readonly info: InfoIndex | undefined;
}

/** A slot's text fragment in a view, as a string (tests, debugging). */
export function labelText(v: LabelArenaView, slot: number): string {
  return Buffer.from(v.bytes.buffer, v.bytes.byteOffset + v.start[slot], v.textLen[slot]).toString('utf8');
}

/** A slot's protobuf LabelPair fields in a view. */
export function labelPairs(v: LabelArenaView, slot: number): Uint8Array {
  const a = v.start[slot] + v.textLen[slot];
  return v.bytes.subarray(a, a + v.pbLen[slot]);
}

/** Offset of a slot's info text (compact mode); its info LabelPairs follow at + info.textLen. */
export function infoStart(v: LabelArenaView, slot: number): number {
  return v.start[slot] + v.textLen[slot] + v.pbLen[slot];
}

/** A slot's info LabelPairs (`address`, `kind`) in a compact-mode view. */
export function infoPairs(v: LabelArenaView, info: InfoIndex, slot: number): Uint8Array {
  const a = infoStart(v, slot) + info.textLen[slot];
  return v.bytes.subarray(a, a + info.pbLen[slot]);
}

/** A slot's info text fragment as a string (tests, debugging). */
export function infoText(v: LabelArenaView, slot: number): string {
  if (v.info === undefined) return '';
  return Buffer.from(v.bytes.buffer, v.bytes.byteOffset + infoStart(v, slot), v.info.textLen[slot]).toString('utf8');
}

function growU32(a: Uint32Array, n: number): Uint32Array {
  const b = new Uint32Array(n);
  b.set(a);
  return b;
}

function writeVarint(buf: Uint8Array, p: number, v: number): number {
  while (v >= 0x80) {
    buf[p++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[p++] = v;
  return p;
}

/** A target's labels checked and measured, ready for LabelArena.set. */
export interface EncodedLabels {
  /** Every series' labels. */
  readonly text: string;
  readonly textSize: number;
  readonly pairs: readonly (readonly [string, string])[];
  readonly pbSize: number;
  /** Compact mode: what only fleetprobe_target_info adds (`,address="…",kind="…"`); empty in full mode. */
  readonly infoText: string;
  readonly infoTextSize: number;
  readonly infoPairs: readonly (readonly [string, string])[];
  readonly infoPbSize: number;
}

/**
 * A target's labels: target, address, kind (full mode; compact: only target, the other
 * two go to the info labels), then the user labels sorted by name (code-unit order,
 * stable whatever order the config listed them in). Throws on an invalid or reserved
 * user label name, or a value that is not a string.
 */
export function encodeLabels(
  name: string,
  address: string,
  kind: string,
  labels: Readonly<Record<string, string>> | undefined,
  mode: SeriesLabels = 'full',
): EncodedLabels {
  const attributes: [string, string][] = [
    ['address', address],
    ['kind', kind],
  ];
  const pairs: [string, string][] = mode === 'full' ? [['target', name], ...attributes] : [['target', name]];
  const infoPairs: [string, string][] = mode === 'full' ? [] : attributes;
  if (labels !== undefined) {
    for (const k of Object.keys(labels).sort()) {
      validateUserLabelName(k);
      const v = labels[k];
      if (typeof v !== 'string') throw new TypeError(`label ${k} must be a string, got ${typeof v}`);
      pairs.push([k, v]);
    }
  }
  let text = '';
  let pbSize = 0;
  for (const [k, v] of pairs) {
    text += `${text === '' ? '' : ','}${k}="${escapeLabelValue(v)}"`;
    pbSize += pairSize(k, v);
  }
  // Written after the series labels on the info line, so each starts with a comma.
  let infoText = '';
  let infoPbSize = 0;
  for (const [k, v] of infoPairs) {
    infoText += `,${k}="${escapeLabelValue(v)}"`;
    infoPbSize += pairSize(k, v);
  }
  return {
    text,
    textSize: Buffer.byteLength(text, 'utf8'),
    pairs,
    pbSize,
    infoText,
    infoTextSize: Buffer.byteLength(infoText, 'utf8'),
    infoPairs,
    infoPbSize,
  };
}

export class LabelArena implements LabelArenaView {
  bytes: Uint8Array;
  start: Uint32Array;
  textLen: Uint32Array;
  pbLen: Uint32Array;
  /** Allocated when a slot first gets info labels (compact mode), dropped by dropInfo(). */
  info: { textLen: Uint32Array; pbLen: Uint32Array } | undefined;
  private end = 0;
  /** Bytes no slot points at any more (redefined or released slots). */
  private garbage = 0;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(Math.max(4096, capacity * 64));
    this.start = new Uint32Array(capacity);
    this.textLen = new Uint32Array(capacity);
    this.pbLen = new Uint32Array(capacity);
  }

  /** Bytes of its typed arrays (the bytes and the index). */
  get byteLength(): number {
    return this.bytes.byteLength + this.start.byteLength + this.textLen.byteLength + this.pbLen.byteLength;
  }

  grow(capacity: number): void {
    this.start = growU32(this.start, capacity);
    this.textLen = growU32(this.textLen, capacity);
    this.pbLen = growU32(this.pbLen, capacity);
    if (this.info !== undefined) this.info = { textLen: growU32(this.info.textLen, capacity), pbLen: growU32(this.info.pbLen, capacity) };
  }

  /** Set a slot's labels (from encodeLabels, which validates them). */
  set(slot: number, e: EncodedLabels): void {
    this.clear(slot);
    this.reserve(e.textSize + e.pbSize + e.infoTextSize + e.infoPbSize);
    const p0 = this.end;
    const b = Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length);
    let p = p0 + b.write(e.text, p0, 'utf8');
    for (const [k, v] of e.pairs) p = writePair(this.bytes, p, k, v);
    if (e.infoTextSize > 0) {
      this.info ??= { textLen: new Uint32Array(this.start.length), pbLen: new Uint32Array(this.start.length) };
      p += b.write(e.infoText, p, 'utf8');
      for (const [k, v] of e.infoPairs) p = writePair(this.bytes, p, k, v);
      this.info.textLen[slot] = e.infoTextSize;
      this.info.pbLen[slot] = e.infoPbSize;
    }
    this.start[slot] = p0;
    this.textLen[slot] = e.textSize;
    this.pbLen[slot] = e.pbSize;
    this.end = p;
  }

  clear(slot: number): void {
    this.garbage += this.slotBytes(slot);
    this.start[slot] = 0;
    this.textLen[slot] = 0;
    this.pbLen[slot] = 0;
    if (this.info !== undefined) {
      this.info.textLen[slot] = 0;
      this.info.pbLen[slot] = 0;
    }
  }

  /**
   * Forget the info index once no slot has info labels (every slot set again in full
   * mode): full-mode snapshots then copy nothing for it. Throws if a slot still has some.
   */
  dropInfo(): void {
    if (this.info === undefined) return;
    for (let s = 0; s < this.start.length; s++) if (this.info.textLen[s] !== 0) throw new Error(`slot ${s} still has info labels`);
    this.info = undefined;
  }

  /**
   * A view for a snapshot of slots [0, n): the bytes are shared, the index copied.
   * `info`: whether the snapshot writes fleetprobe_target_info (compact mode).
   */
  view(n: number, info = false): LabelArenaView {
    const i = info && this.info !== undefined ? { textLen: this.info.textLen.slice(0, n), pbLen: this.info.pbLen.slice(0, n) } : undefined;
    return { bytes: this.bytes, start: this.start.slice(0, n), textLen: this.textLen.slice(0, n), pbLen: this.pbLen.slice(0, n), info: i };
  }

  private slotBytes(s: number): number {
    return this.textLen[s] + this.pbLen[s] + (this.info === undefined ? 0 : this.info.textLen[s] + this.info.pbLen[s]);
  }

  /** Room for `n` more bytes: compact when most of the arena is garbage, else grow (both copy into a new array). */
  private reserve(n: number): void {
    if (this.end + n <= this.bytes.length) return;
    const live = this.end - this.garbage;
    // Half again what is live: labels come a target at a time, and the arena is a few
    // hundred bytes per target (doubling left up to half of 17 MB unused at 100k targets).
    const size = Math.max(4096, Math.ceil(1.5 * (live + n)));
    const next = new Uint8Array(size);
    let p = 0;
    for (let s = 0; s < this.start.length; s++) {
      const len = this.slotBytes(s);
      if (len === 0) continue;
      next.set(this.bytes.subarray(this.start[s], this.start[s] + len), p);
      this.start[s] = p;
      p += len;
    }
    this.bytes = next;
    this.end = p;
    this.garbage = 0;
  }
}

/** Size of one Metric.label field: tag, length, then LabelPair{name = 1, value = 2}. */
function pairSize(name: string, value: string): number {
  const inner = pairInnerSize(name, value);
  return 1 + varintSize(inner) + inner;
}
function pairInnerSize(name: string, value: string): number {
  const nb = Buffer.byteLength(name, 'utf8');
  const vb = Buffer.byteLength(value, 'utf8');
  return 1 + varintSize(nb) + nb + 1 + varintSize(vb) + vb;
}

/** Metric.label (field 1, length-delimited) holding LabelPair{name (1), value (2)}. */
export function writePair(buf: Uint8Array, p: number, name: string, value: string): number {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  buf[p++] = 0x0a;
  p = writeVarint(buf, p, pairInnerSize(name, value));
  buf[p++] = 0x0a;
  p = writeVarint(buf, p, Buffer.byteLength(name, 'utf8'));
  p += b.write(name, p, 'utf8');
  buf[p++] = 0x12;
  p = writeVarint(buf, p, Buffer.byteLength(value, 'utf8'));
  p += b.write(value, p, 'utf8');
  return p;
}

/** The protobuf LabelPair bytes of one extra label (reason="…", le is not one: it is a Bucket field). */
export function pairBytes(name: string, value: string): Uint8Array {
  const out = new Uint8Array(pairSize(name, value));
  writePair(out, 0, name, value);
  return out;
}

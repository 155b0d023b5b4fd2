/**
 * Every slot's label bytes in one append-only byte arena: per slot, the escaped text
 * fragment (`target="…",address="…",kind="…",<user labels>`, what the text exposition
 * writes between the braces) followed by the same labels as protobuf LabelPair fields
 * (what the protobuf exposition writes into each Metric). Both are built once per
 * target definition, never per scrape.
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

/** What a snapshot holds: shared bytes, copied index. */
export interface LabelArenaView {
  readonly bytes: Uint8Array;
  /** Per slot: offset of its text fragment; its protobuf LabelPairs follow at start + textLen. */
  readonly start: Uint32Array;
  readonly textLen: Uint32Array;
  readonly pbLen: Uint32Array;
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
  readonly text: string;
  readonly textSize: number;
  readonly pairs: readonly (readonly [string, string])[];
  readonly pbSize: number;
}

/**
 * A target's labels: target, address, kind, then the user labels sorted by name
 * (code-unit order, stable whatever order the config listed them in). Throws on an
 * invalid or reserved user label name, or a value that is not a string.
 */
export function encodeLabels(name: string, address: string, kind: string, labels: Readonly<Record<string, string>> | undefined): EncodedLabels {
  const pairs: [string, string][] = [
    ['target', name],
    ['address', address],
    ['kind', kind],
  ];
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
  return { text, textSize: Buffer.byteLength(text, 'utf8'), pairs, pbSize };
}

export class LabelArena implements LabelArenaView {
  bytes: Uint8Array;
  start: Uint32Array;
  textLen: Uint32Array;
  pbLen: Uint32Array;
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
  }

  /** Set a slot's labels (from encodeLabels, which validates them). */
  set(slot: number, e: EncodedLabels): void {
    this.clear(slot);
    this.reserve(e.textSize + e.pbSize);
    const p0 = this.end;
    let p = p0 + Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length).write(e.text, p0, 'utf8');
    for (const [k, v] of e.pairs) p = writePair(this.bytes, p, k, v);
    this.start[slot] = p0;
    this.textLen[slot] = e.textSize;
    this.pbLen[slot] = e.pbSize;
    this.end = p;
  }

  clear(slot: number): void {
    this.garbage += this.textLen[slot] + this.pbLen[slot];
    this.start[slot] = 0;
    this.textLen[slot] = 0;
    this.pbLen[slot] = 0;
  }

  /** A view for a snapshot of slots [0, n): the bytes are shared, the index copied. */
  view(n: number): LabelArenaView {
    return { bytes: this.bytes, start: this.start.slice(0, n), textLen: this.textLen.slice(0, n), pbLen: this.pbLen.slice(0, n) };
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
      const len = this.textLen[s] + this.pbLen[s];
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

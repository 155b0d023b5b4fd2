/**
 * One exponential histogram per slot (the Prometheus native histogram's bucket
 * schema, which is also OpenTelemetry's exponential histogram), kept in typed arrays.
 * Pure: no I/O, no timers.
 *
 * Buckets. With schema s (−4..8), bucket index i covers (2^((i−1)·2^−s), 2^(i·2^−s)]:
 * each power of two is split into 2^s buckets, and 1 is always a boundary. Values at
 * or below the zero threshold (2^−128, Prometheus' default) go to the zero bucket
 * (an RTT of 0 only comes from an invalid value observed as 0).
 *
 * Storage. A histogram is cumulative for the life of its slot, so its buckets must
 * cover every value ever observed; a dense array for every schema-3 bucket an RTT
 * can take (5 µs to 10 s: 170 buckets) would cost 1.3 KB per target, 130 MB at
 * 100,000 targets. Instead each slot has a WINDOW of `window` consecutive buckets
 * (index of its first cell in `first`): one target's RTTs cluster (loopback 5–80 µs,
 * a WAN path 20–200 ms), and the window follows them:
 *  - a value left or right of the window moves the window when the populated buckets
 *    and the new one fit in it (counts are moved, nothing is lost);
 *  - when they do not fit, the slot's schema goes down by one, merging every pair of
 *    buckets (i → ceil(i/2)), until they fit: what the Go client and the OTel SDK do
 *    when a histogram reaches its bucket limit. The resolution of that target drops
 *    for the rest of its life (a counter reset would lose observations between two
 *    scrapes; Prometheus merges histograms of different schemas anyway).
 * With the default window of 40 cells, schema 3 holds any spread up to 2^5 = 32× (10 µs
 * to 320 µs, or 20 ms to 640 ms); a wider spread halves the resolution per doubling
 * of the spread.
 *
 * Counts are Uint32 (160 bytes per slot, 16 MB at 100,000 targets, instead of 320 as
 * Float64) until a cell would pass 2^32 − 1 (4.3 billion observations in one bucket:
 * 136 years at one probe a second): then every slot's cells become Float64 for good, in
 * one copy. Snapshots are Float64 either way, so readers see the same numbers.
 *
 * Index exactness. The index comes from the binary exponent and mantissa of the
 * value (frexp), then the mantissa's place among the 2^s boundaries of one power of
 * two (a table lookup and one comparison), so a value exactly on a boundary lands in the bucket it bounds
 * (upper bounds are inclusive), as in the Go client; Math.log2 would misplace some.
 */

/** Highest and lowest standard schema of Prometheus native histograms. */
export const MAX_SCHEMA = 8;
export const MIN_SCHEMA = -4;
/** Default schema: 8 buckets per power of two, each ≤ 9.05% wider than the one below (see README). */
export const DEFAULT_NATIVE_SCHEMA = 3;
/** Default window: buckets kept per slot (see the file header). */
export const DEFAULT_NATIVE_WINDOW = 40;
/** Observations at or below this go to the zero bucket (2^−128, the Go client's default). */
export const ZERO_THRESHOLD = 2 ** -128;
/** Largest value observe() takes (2^32 s, 136 years: no RTT); the store counts larger ones as invalid. */
export const MAX_VALUE = 2 ** 32;
/** Smallest window: at schema −4 every value in (ZERO_THRESHOLD, MAX_VALUE] fits in 11 buckets. */
export const MIN_WINDOW = 16;
/** `first` of a slot that has no bucket populated (nothing above the zero threshold yet). */
export const EMPTY = -0x80000000;

// frexp through the IEEE 754 bits: v = frac · 2^exp with frac in [0.5, 1).
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0; // little-endian: high word is [1]

/** Bucket boundaries of one power of two, as frexp fractions: BOUNDS[s][j] = 2^(j/2^s − 1), j < 2^s. */
const BOUNDS: Float64Array[] = [];
for (let s = 1; s <= MAX_SCHEMA; s++) {
  const n = 1 << s;
  const b = new Float64Array(n);
  for (let j = 0; j < n; j++) b[j] = 2 ** (j / n - 1);
  BOUNDS[s] = b;
}

/**
 * Where the search starts, per schema: the frexp fraction's top CELL_BITS mantissa bits
 * name a cell of [0.5, 1), and START[s][cell] is the first j with BOUNDS[s][j] >= the
 * cell's low end. Boundaries are further apart than a cell is wide (at schema 8, 0.00135
 * against 0.5 / 4096), so at most one lies inside a cell and the bucket is START or the
 * one after: one comparison instead of a binary search of s steps (the main thread
 * observes every reply).
 */
const CELL_BITS = 12;
const START: Uint16Array[] = [];
for (let s = 1; s <= MAX_SCHEMA; s++) {
  const b = BOUNDS[s];
  const t = new Uint16Array(1 << CELL_BITS);
  let j = 0;
  for (let cell = 0; cell < t.length; cell++) {
    const low = 0.5 + cell / (2 << CELL_BITS); // exact: a dyadic fraction
    while (j < b.length && b[j] < low) j++;
    t[cell] = j;
  }
  START[s] = t;
}

/**
 * Index of the bucket holding `v` at `schema` (v a finite number above the zero
 * threshold, so a normal double).
 */
export function bucketIndexFor(v: number, schema: number): number {
  f64[0] = v;
  const hi = u32[HI];
  const exp = ((hi >>> 20) & 0x7ff) - 1022;
  if (schema > 0) {
    u32[HI] = (hi & 0x800fffff) | (1022 << 20);
    const frac = f64[0];
    const b = BOUNDS[schema];
    // First j with b[j] >= frac (b.length when frac is above every boundary): START, or the next.
    let j = START[schema][(hi >>> (20 - CELL_BITS)) & ((1 << CELL_BITS) - 1)];
    if (j < b.length && b[j] < frac) j++;
    return j + (exp - 1) * b.length;
  }
  // frac == 0.5 exactly (all mantissa bits 0): v is a power of two, the upper bound of the bucket below.
  const key = (hi & 0xfffff) === 0 && u32[1 - HI] === 0 ? exp - 1 : exp;
  const shift = -schema;
  return (key + (1 << shift) - 1) >> shift; // ceil(key / 2^shift)
}

/**
 * Upper bound (inclusive) of bucket `index` at `schema`: 2^(index · 2^−schema), from
 * the same boundary table as bucketIndexFor (times a power of two, exact), so that
 * bucketIndexFor(bucketUpperBound(i, s), s) === i for every i.
 */
export function bucketUpperBound(index: number, schema: number): number {
  if (schema <= 0) return 2 ** (index * 2 ** -schema);
  const n = 1 << schema;
  const j = ((index % n) + n) % n;
  return BOUNDS[schema][j] * 2 ** ((index - j) / n + 1);
}

/** Lower bound (exclusive) of bucket `index` at `schema`. */
export function bucketLowerBound(index: number, schema: number): number {
  return bucketUpperBound(index - 1, schema);
}

/**
 * A snapshot's exponential histograms, for readers (the protobuf exposition, the OTLP
 * producer). Per slot: its schema, the index of its first cell, `window` NON-cumulative
 * bucket counts and its zero-bucket count; `first[s] === EMPTY` when no bucket is
 * populated. A slot's observation count is zero + Σ cells (the RTT histogram's count:
 * its `_count`); its sum is the classic histogram's sum column.
 *
 * Prometheus native histogram: schema = schema, bucket i ↔ cell i − first.
 * OpenTelemetry exponential histogram: scale = schema, and bucket index i here is
 * OTel's index i − 1 (OTel buckets are (base^k, base^(k+1)]): offset = first + lo − 1.
 */
export interface ExpHistogramColumnsView {
  readonly window: number;
  readonly zeroThreshold: number;
  readonly schema: Int8Array;
  readonly first: Int32Array;
  /** `window` cells per slot. */
  readonly counts: Float64Array;
  readonly zero: Float64Array;
}

/** Largest count a Uint32 cell holds. */
const U32_MAX = 0xffffffff;

/** Populated cell range [lo, hi] of a slot (cell offsets within its window), or null when empty. */
export function populatedCells(
  h: { readonly window: number; readonly first: Int32Array; readonly counts: ArrayLike<number> },
  slot: number,
): { lo: number; hi: number } | null {
  if (h.first[slot] === EMPTY) return null;
  const base = slot * h.window;
  let lo = 0;
  while (lo < h.window && h.counts[base + lo] === 0) lo++;
  if (lo === h.window) return null;
  let hi = h.window - 1;
  while (h.counts[base + hi] === 0) hi--;
  return { lo, hi };
}

function grown<T extends Float64Array | Uint32Array | Int32Array | Int8Array>(a: T, n: number, fill?: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  if (fill !== undefined) b.fill(fill, a.length);
  return b;
}

/** The store's exponential histograms of one family: one window per slot (snapshot() gives the view readers use). */
export class ExpHistogramColumns {
  readonly zeroThreshold = ZERO_THRESHOLD;
  schema: Int8Array;
  first: Int32Array;
  /** `window` cells per slot: Uint32 until a cell would pass 2^32 − 1 (widenCounts()). */
  counts: Uint32Array | Float64Array;
  zero: Float64Array;
  /** Schema decreases so far (a self metric: how often a window had to coarsen). */
  downscales = 0;

  constructor(
    capacity: number,
    /** Schema every slot starts at. */
    readonly initialSchema = DEFAULT_NATIVE_SCHEMA,
    readonly window = DEFAULT_NATIVE_WINDOW,
  ) {
    if (!Number.isInteger(initialSchema) || initialSchema < MIN_SCHEMA || initialSchema > MAX_SCHEMA) {
      throw new RangeError(`native histogram schema must be an integer from ${MIN_SCHEMA} to ${MAX_SCHEMA}, got ${initialSchema}`);
    }
    if (!Number.isInteger(window) || window < MIN_WINDOW || window > 4096)
      throw new RangeError(`native histogram window must be ${MIN_WINDOW}..4096 buckets, got ${window}`);
    this.schema = new Int8Array(capacity).fill(initialSchema);
    this.first = new Int32Array(capacity).fill(EMPTY);
    this.counts = new Uint32Array(capacity * window);
    this.zero = new Float64Array(capacity);
  }

  /** Bytes of its typed arrays. */
  get bytes(): number {
    return this.schema.byteLength + this.first.byteLength + this.counts.byteLength + this.zero.byteLength;
  }

  grow(capacity: number): void {
    this.schema = grown(this.schema, capacity, this.initialSchema);
    this.first = grown(this.first, capacity, EMPTY);
    this.counts = grown(this.counts, capacity * this.window);
    this.zero = grown(this.zero, capacity);
  }

  reset(slot: number): void {
    this.schema[slot] = this.initialSchema;
    this.first[slot] = EMPTY;
    this.counts.fill(0, slot * this.window, (slot + 1) * this.window);
    this.zero[slot] = 0;
  }

  /** Count one observation: 0 ≤ v ≤ MAX_VALUE (the store checks; NaN would go to the zero bucket). */
  observe(slot: number, v: number): void {
    if (!(v > ZERO_THRESHOLD)) {
      this.zero[slot]++;
      return;
    }
    const w = this.window;
    const i = bucketIndexFor(v, this.schema[slot]);
    const first = this.first[slot];
    const cell = i - first;
    if (first !== EMPTY && cell >= 0 && cell < w) {
      const k = slot * w + cell;
      this.setCount(k, this.counts[k] + 1);
      return;
    }
    this.place(slot, v);
  }

  /** `v` is outside the window (or the window is empty): move the window, coarsening as needed, then count it. */
  private place(slot: number, v: number): void {
    const w = this.window;
    const base = slot * w;
    for (;;) {
      const s = this.schema[slot];
      const i = bucketIndexFor(v, s);
      const first = this.first[slot];
      const range = first === EMPTY ? null : populatedCells(this, slot);
      const lo = range === null ? i : Math.min(i, first + range.lo);
      const hi = range === null ? i : Math.max(i, first + range.hi);
      if (hi - lo < w) {
        // Room left over goes mostly above: RTT distributions have their tail on the high side.
        const next = lo - ((w - 1 - (hi - lo)) >> 2);
        if (range !== null && next !== first) this.shift(base, first, next, range.lo, range.hi);
        this.first[slot] = next;
        const k = base + (i - next);
        this.setCount(k, this.counts[k] + 1);
        return;
      }
      if (s <= MIN_SCHEMA) {
        // Unreachable for values up to MAX_VALUE: at schema −4, (2^−128, 2^32] is 11 buckets, and a window has ≥ 16.
        throw new RangeError(`exponential histogram of slot ${slot} cannot hold ${v}`);
      }
      this.downscale(slot, range!);
    }
  }

  /** Move populated cells [lo, hi] (offsets from `from`) so the window starts at index `to`. */
  private shift(base: number, from: number, to: number, lo: number, hi: number): void {
    const counts = this.counts;
    const w = this.window;
    const tmp = counts.slice(base + lo, base + hi + 1);
    counts.fill(0, base, base + w);
    counts.set(tmp, base + (from + lo - to));
  }

  /** One schema down: bucket i → ceil(i/2), counts of merged pairs added. */
  private downscale(slot: number, range: { lo: number; hi: number }): void {
    const w = this.window;
    const base = slot * w;
    const first = this.first[slot];
    // Merged pairs are added as numbers (no wrap), and checked before they are stored.
    const tmp = Float64Array.from(this.counts.subarray(base + range.lo, base + range.hi + 1));
    this.counts.fill(0, base, base + w);
    const newLo = (first + range.lo + 1) >> 1;
    for (let k = 0; k < tmp.length; k++) {
      const c = tmp[k];
      if (c === 0) continue;
      const cell = base + ((first + range.lo + k + 1) >> 1) - newLo;
      this.setCount(cell, this.counts[cell] + c);
    }
    this.first[slot] = newLo;
    this.schema[slot]--;
    this.downscales++;
  }

  /** Store a cell's new count, widening every cell first when it does not fit a Uint32. */
  private setCount(k: number, c: number): void {
    if (c > U32_MAX && this.counts.BYTES_PER_ELEMENT === 4) this.widenCounts();
    this.counts[k] = c;
  }

  /** Every slot's cells from Uint32 to Float64, values kept: once, the first time a cell would pass 2^32 − 1. */
  private widenCounts(): void {
    this.counts = Float64Array.from(this.counts);
  }

  /** Copies of slots [0, n) for a snapshot (counts as Float64 whatever the live cells are). */
  snapshot(n: number): ExpHistogramColumnsView {
    const cells = this.counts.subarray(0, n * this.window);
    return {
      window: this.window,
      zeroThreshold: this.zeroThreshold,
      schema: this.schema.slice(0, n),
      first: this.first.slice(0, n),
      counts: cells instanceof Float64Array ? cells.slice() : Float64Array.from(cells),
      zero: this.zero.slice(0, n),
    };
  }
}

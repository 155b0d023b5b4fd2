/**
 * The dense slot index of a scheduler or a prober: store slot → local index, and the
 * columns that hold per-target (and per-probe) state by local index.
 *
 * Slots are the main thread's store indexes: global, so one worker sees a sparse subset
 * of them. Local indexes are dense (0..n-1, a removed target's index is reused first,
 * through a free list), so per-target state lives in typed arrays without holes and a
 * deadline heap or an in-flight ring can be keyed by them.
 *
 * Columns are registered on the index and grow with it, all at once, by doubling; a
 * column of width w holds w elements per local index (an in-flight ring, a v6 address).
 * Hold the Column, not its `data`: `data` is replaced when the index grows, so read
 * `col.data` after any add().
 *
 * slot → local is a typed array indexed by slot (grown by doubling to the highest slot
 * added), not a Map: a lookup is one bounds check and one load, and the slot read from a
 * reply on the wire (attacker-controlled) is checked, never used to grow anything.
 * Slots from DENSE_SLOTS up (the on-demand tests' slots start at 0xf0000000,
 * src/protocol/messages.ts ONDEMAND_SLOT_BASE) live in a Map instead: a typed array up
 * to them would be 16 GB (found by test/integration/ondemand-tests: the worker died).
 */

/** Slots below this are looked up in a typed array (16 MB at the most); the rest in a Map. */
export const DENSE_SLOTS = 1 << 22;

type NumberArray = Uint8Array | Uint16Array | Uint32Array | Int32Array | Float64Array;

export interface Column {
  /** Make room for `capacity` local indexes. */
  grow(capacity: number): void;
}

/** A typed-array column: `width` numbers per local index, new elements set to `fill`. */
export class TypedColumn<T extends NumberArray> implements Column {
  data: T;
  private w: number;

  constructor(
    private readonly make: new (length: number) => T,
    width: number,
    capacity: number,
    private readonly fill: number,
  ) {
    this.w = width;
    this.data = new make(capacity * width);
    if (fill !== 0) this.data.fill(fill);
  }

  get width(): number {
    return this.w;
  }

  grow(capacity: number): void {
    const next = new this.make(capacity * this.w);
    next.set(this.data);
    if (this.fill !== 0) next.fill(this.fill, this.data.length);
    this.data = next;
  }

  /**
   * Change the width: `data` becomes a new array of the same capacity, every element
   * `fill`; the old array is returned for the caller to move what it keeps (where an
   * element goes depends on what it holds, e.g. a sequence's new ring position).
   */
  rewidth(width: number): T {
    const old = this.data;
    const capacity = old.length / this.w;
    this.data = new this.make(capacity * width);
    if (this.fill !== 0) this.data.fill(this.fill);
    this.w = width;
    return old;
  }
}

/** A column of JS values (per-target objects, strings), new elements set to `fill`. */
export class ValueColumn<T> implements Column {
  readonly data: T[] = [];

  constructor(
    private readonly fill: T,
    capacity: number,
  ) {
    this.grow(capacity);
  }

  grow(capacity: number): void {
    while (this.data.length < capacity) this.data.push(this.fill);
  }
}

export class SlotIndex {
  /** localBySlot[slot] = local index, or -1. */
  private localBySlot: Int32Array;
  /** Slots >= DENSE_SLOTS → local index. */
  private readonly sparse = new Map<number, number>();
  private slotOfLocal: Uint32Array;
  private freeList: Int32Array;
  private freeCount = 0;
  /** Local indexes handed out so far (in use or free); the next new one. */
  private highWater = 0;
  private count = 0;
  private cap: number;
  private readonly columns: Column[] = [];

  constructor(initialCapacity = 64) {
    this.cap = Math.max(4, initialCapacity | 0);
    this.localBySlot = new Int32Array(this.cap).fill(-1);
    this.slotOfLocal = new Uint32Array(this.cap);
    this.freeList = new Int32Array(this.cap);
  }

  /** Targets in the index. */
  get size(): number {
    return this.count;
  }

  /** Local indexes every column has room for. */
  get capacity(): number {
    return this.cap;
  }

  /** Local index of a slot, or -1 (also for anything that is not a valid slot number). */
  localOf(slot: number): number {
    if (slot >>> 0 !== slot) return -1;
    if (slot < DENSE_SLOTS) return slot < this.localBySlot.length ? this.localBySlot[slot] : -1;
    return this.sparse.size === 0 ? -1 : (this.sparse.get(slot) ?? -1);
  }

  has(slot: number): boolean {
    return this.localOf(slot) >= 0;
  }

  /** Slot of a local index (meaningful while it is in use). */
  slotOf(local: number): number {
    return this.slotOfLocal[local];
  }

  /** Whether a local index currently belongs to a target. */
  inUse(local: number): boolean {
    return local >= 0 && local < this.highWater && this.localOf(this.slotOfLocal[local]) === local;
  }

  /** Add a slot that is not in the index; returns its local index (a freed one first). */
  add(slot: number): number {
    if (slot >>> 0 !== slot) throw new RangeError(`bad slot ${slot}`);
    if (this.localOf(slot) >= 0) throw new Error(`slot ${slot} is already in the index`);
    if (slot >= this.localBySlot.length && slot < DENSE_SLOTS) this.growSlots(slot + 1);
    let local: number;
    if (this.freeCount > 0) {
      local = this.freeList[--this.freeCount];
    } else {
      if (this.highWater === this.cap) this.growLocals(this.cap * 2);
      local = this.highWater++;
    }
    if (slot < DENSE_SLOTS) this.localBySlot[slot] = local;
    else this.sparse.set(slot, local);
    this.slotOfLocal[local] = slot;
    this.count++;
    return local;
  }

  /** Remove a slot; returns the local index it had (now free), or -1 if it was not in the index. */
  remove(slot: number): number {
    const local = this.localOf(slot);
    if (local < 0) return -1;
    if (slot < DENSE_SLOTS) this.localBySlot[slot] = -1;
    else this.sparse.delete(slot);
    this.freeList[this.freeCount++] = local;
    this.count--;
    return local;
  }

  /** Forget every slot (columns keep their contents and capacity). */
  clear(): void {
    for (let i = 0; i < this.highWater; i++) {
      const slot = this.slotOfLocal[i];
      if (slot < DENSE_SLOTS && this.localBySlot[slot] === i) this.localBySlot[slot] = -1;
    }
    this.sparse.clear();
    this.highWater = this.freeCount = this.count = 0;
  }

  /** Local indexes in use (a snapshot: safe to remove while iterating it). */
  locals(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.highWater; i++) if (this.inUse(i)) out.push(i);
    return out;
  }

  /**
   * Room for `n` local indexes now, exactly (a shard about to add its whole target set:
   * 50,000 targets cost 50,000 entries of every column, not the next power of two, 65,536).
   */
  reserve(n: number): void {
    if (n > this.cap) this.growLocals(n);
  }

  /** Grow `c` with the index from now on (something sized by the index that is not one of its columns: a heap keyed by ring entry). */
  track(c: Column): void {
    this.columns.push(c);
  }

  /** A typed-array column of `width` numbers per local index, growing with the index. */
  column<T extends NumberArray>(make: new (length: number) => T, width = 1, fill = 0): TypedColumn<T> {
    if (!(width >= 1) || width !== (width | 0)) throw new RangeError(`bad column width ${width}`);
    const c = new TypedColumn(make, width, this.cap, fill);
    this.columns.push(c);
    return c;
  }

  /** A column of JS values (objects, strings), growing with the index. */
  values<T>(fill: T): ValueColumn<T> {
    const c = new ValueColumn(fill, this.cap);
    this.columns.push(c);
    return c;
  }

  private growSlots(minLength: number): void {
    let len = this.localBySlot.length;
    while (len < minLength) len *= 2;
    const next = new Int32Array(len).fill(-1);
    next.set(this.localBySlot);
    this.localBySlot = next;
  }

  private growLocals(capacity: number): void {
    const slots = new Uint32Array(capacity);
    slots.set(this.slotOfLocal);
    this.slotOfLocal = slots;
    const free = new Int32Array(capacity);
    free.set(this.freeList);
    this.freeList = free;
    for (const c of this.columns) c.grow(capacity);
    this.cap = capacity;
  }
}

/**
 * A SlotIndex with one JS value per target: the per-target objects of a prober whose
 * state is an object (a connection, its options), looked up by slot like a Map, stored
 * by dense local index like every other column. `index` is there for further columns
 * (an InflightWindow) keyed by the same local indexes.
 */
export class SlotTable<T> {
  readonly index: SlotIndex;
  private readonly column: ValueColumn<T | undefined>;

  constructor(initialCapacity = 64) {
    this.index = new SlotIndex(initialCapacity);
    this.column = this.index.values<T | undefined>(undefined);
  }

  get size(): number {
    return this.index.size;
  }

  get(slot: number): T | undefined {
    const i = this.index.localOf(slot);
    return i < 0 ? undefined : this.column.data[i];
  }

  /** Add a slot that is not in the table, with the value `make` builds for its local index. */
  add(slot: number, make: (local: number) => T): T {
    const local = this.index.add(slot);
    const value = make(local);
    this.column.data[local] = value;
    return value;
  }

  /** Remove a slot; returns its value, or undefined if it was not in the table. */
  remove(slot: number): T | undefined {
    const local = this.index.remove(slot);
    if (local < 0) return undefined;
    const value = this.column.data[local];
    this.column.data[local] = undefined;
    return value;
  }

  /** The values in the table (a snapshot: safe to remove while iterating it). */
  values(): T[] {
    return this.index.locals().map((i) => this.column.data[i]!);
  }
}

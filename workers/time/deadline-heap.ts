/**
 * An indexed binary min-heap of deadlines, keyed by small dense integers (a target's
 * local index, or an in-flight probe's ring entry).
 *
 * Why indexed rather than lazy deletion: the key → heap position map lets us move or
 * remove an entry in O(log n) without leaving stale entries behind, so the heap never
 * grows beyond the number of live keys and needs no compaction. Everything lives in
 * typed arrays: inserting, moving and popping allocate nothing (except when the key
 * space grows, by doubling).
 */
export class DeadlineHeap {
  /** heap[i] = key at heap position i; as long as the most keys present at once (not the key space). */
  private heap: Int32Array;
  /** pos[key] = heap position of key, or -1 when absent. */
  private pos: Int32Array;
  /** due[key] = deadline of key (meaningful only while present). */
  private due: Float64Array;
  private n = 0;

  constructor(initialKeys = 64) {
    const cap = Math.max(4, initialKeys | 0);
    this.heap = new Int32Array(Math.min(cap, 1024));
    this.pos = new Int32Array(cap).fill(-1);
    this.due = new Float64Array(cap);
  }

  get size(): number {
    return this.n;
  }

  /** Keys it has room for (one past the largest key it can hold without growing). */
  get keyCapacity(): number {
    return this.pos.length;
  }

  /** Keys it can hold at once without growing its heap array. */
  get heapCapacity(): number {
    return this.heap.length;
  }

  has(key: number): boolean {
    return key < this.pos.length && this.pos[key] >= 0;
  }

  /** Deadline of a present key (NaN when absent). */
  dueOf(key: number): number {
    return this.has(key) ? this.due[key] : NaN;
  }

  /** Key with the earliest deadline, or -1 when empty. */
  peekKey(): number {
    return this.n > 0 ? this.heap[0] : -1;
  }

  /** Earliest deadline, or +Infinity when empty. */
  peekDue(): number {
    return this.n > 0 ? this.due[this.heap[0]] : Infinity;
  }

  /** Insert key with deadline, or move it if present. O(log n). */
  set(key: number, dueAt: number): void {
    if (key < 0 || !Number.isInteger(key)) throw new RangeError(`bad heap key ${key}`);
    if (key >= this.pos.length) this.growKeys(key + 1);
    const p = this.pos[key];
    if (p < 0) {
      if (this.n === this.heap.length) this.growHeap();
      const i = this.n++;
      this.heap[i] = key;
      this.pos[key] = i;
      this.due[key] = dueAt;
      this.up(i);
      return;
    }
    const old = this.due[key];
    this.due[key] = dueAt;
    if (dueAt < old) this.up(p);
    else if (dueAt > old) this.down(p);
  }

  /** Remove key if present. O(log n). Returns whether it was present. */
  delete(key: number): boolean {
    if (!this.has(key)) return false;
    const p = this.pos[key];
    const lastIdx = --this.n;
    this.pos[key] = -1;
    if (p !== lastIdx) {
      const moved = this.heap[lastIdx];
      this.heap[p] = moved;
      this.pos[moved] = p;
      // The moved key may belong above or below its new position.
      this.up(p);
      this.down(this.pos[moved]);
    }
    return true;
  }

  /** Remove and return the earliest key, or -1 when empty. */
  pop(): number {
    if (this.n === 0) return -1;
    const key = this.heap[0];
    this.delete(key);
    return key;
  }

  clear(): void {
    for (let i = 0; i < this.n; i++) this.pos[this.heap[i]] = -1;
    this.n = 0;
  }

  /**
   * Room for keys [0, n) now, exactly (the in-flight window keeps its key space at its
   * index's capacity × ring entries: doubling it on its own would round 800,000 up to
   * 1,048,576).
   */
  reserveKeys(n: number): void {
    if (n > this.pos.length) this.resizeKeys(n);
  }

  private growKeys(minKeys: number): void {
    let cap = this.pos.length;
    while (cap < minKeys) cap *= 2;
    this.resizeKeys(cap);
  }

  /** The heap array holds the keys present, which for an in-flight window are a small part of its key space. */
  private growHeap(): void {
    const heap = new Int32Array(Math.min(this.pos.length, this.heap.length * 2));
    heap.set(this.heap.subarray(0, this.n));
    this.heap = heap;
  }

  private resizeKeys(cap: number): void {
    const pos = new Int32Array(cap).fill(-1);
    pos.set(this.pos);
    const due = new Float64Array(cap);
    due.set(this.due);
    this.pos = pos;
    this.due = due;
  }

  private up(i: number): void {
    const heap = this.heap;
    const due = this.due;
    const key = heap[i];
    const d = due[key];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pk = heap[parent];
      if (due[pk] <= d) break;
      heap[i] = pk;
      this.pos[pk] = i;
      i = parent;
    }
    heap[i] = key;
    this.pos[key] = i;
  }

  private down(i: number): void {
    const heap = this.heap;
    const due = this.due;
    const n = this.n;
    const key = heap[i];
    const d = due[key];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && due[heap[r]] < due[heap[l]]) c = r;
      const ck = heap[c];
      if (due[ck] >= d) break;
      heap[i] = ck;
      this.pos[ck] = i;
      i = c;
    }
    heap[i] = key;
    this.pos[key] = i;
  }
}

/**
 * The batch codec: the one binary layout in which a worker reports probe outcomes
 * to the main thread. Both sides import this module, so the layout is defined once.
 *
 * A batch is one ArrayBuffer, transferred (not copied) through a MessagePort:
 *
 *   [ header: HEADER_FIELDS x float64 ][ record 0 ][ record 1 ] ...
 *
 * Each record is RECORD_BYTES (16) bytes, host byte order (both ends are the
 * same process):
 *
 *   bytes 0..3   uint32  slot    global target slot (index into the main store)
 *   byte  4      uint8   event   ProbeEvent
 *   byte  5      uint8   reason  ErrorReason code (Error / TargetInvalid events)
 *   bytes 6..7   uint16  aux     event-specific (HTTP phase, status code, up/down)
 *   bytes 8..15  float64 value   seconds (RTT or phase duration), else 0
 *
 * No per-probe objects cross the thread boundary: a worker appends records to a
 * preallocated buffer and ships it every flush interval.
 */
import { DROP_REASON_NAMES } from './events.js';

/** 2: the header carries the applied generation and the ICMP RTT clock and socket fields. */
export const BATCH_VERSION = 2;

/** Header fields (float64 indices). Counters are deltas since the worker's previous batch. */
export const enum Header {
  Version = 0,
  WorkerIndex = 1,
  RecordCount = 2,
  /** Monotonic per worker thread; restarts at 1 when a worker is replaced. */
  BatchSeq = 3,
  /** Number of targets the shard currently owns. */
  Targets = 4,
  /** Probes started since the previous batch. */
  ProbesStarted = 5,
  /** How late probes went out relative to their deadline: max, sum (seconds) and count. */
  SchedLagMax = 6,
  SchedLagSum = 7,
  SchedLagCount = 8,
  /** Event-loop delay of the worker thread over the interval (seconds). */
  LoopLagMax = 9,
  LoopLagMean = 10,
  /**
   * The target update (generation) the worker had applied when it wrote every record
   * of this batch: it ships its records before applying an update. See generations.ts.
   */
  Generation = 11,
  /** First of DROP_REASON_NAMES.length drop counters (see DropReason). */
  DropsStart = 12,
  /** ICMP replies (in time or late) whose RTT the kernel's receive timestamp timed. */
  IcmpRttKernel = 20,
  /** ICMP replies timed by the monotonic clock instead (no kernel stamps, or stamps rejected). */
  IcmpRttMonotonic = 21,
  /** Of those, replies whose kernel stamps were present but inconsistent (the wall clock stepped). */
  IcmpStampsRejected = 22,
  /** State of the raw ICMP socket of each family (a gauge, not a delta): IcmpSocketBits. */
  IcmpSocket4 = 23,
  IcmpSocket6 = 24,
}
export const HEADER_FIELDS = 32;

/** Bits of Header.IcmpSocket4/6. 0 = no socket of that family. */
export const enum IcmpSocketBits {
  Open = 1,
  BpfFilter = 2,
  TypeFilter = 4,
  KernelTimestamps = 8,
  /** A ping socket (SOCK_DGRAM; icmp.socket dgram, or auto without CAP_NET_RAW), not a raw one. */
  PingSocket = 16,
}
export const HEADER_BYTES = HEADER_FIELDS * 8;
export const RECORD_BYTES = 16;

if (Header.DropsStart + DROP_REASON_NAMES.length > Number(Header.IcmpRttKernel) || Number(Header.IcmpSocket6) >= HEADER_FIELDS) {
  throw new Error('batch header fields overlap or do not fit');
}

/**
 * Appends records into a growable buffer. `take()` hands the filled buffer over
 * (for transfer) and starts a fresh one, so the writer never touches a buffer
 * that has been transferred (a detached buffer would throw).
 */
export class BatchWriter {
  private buf!: ArrayBuffer;
  private u32!: Uint32Array;
  private u8!: Uint8Array;
  private u16!: Uint16Array;
  private f64!: Float64Array;
  private count = 0;
  private capacity: number;
  /** Header of the batch being filled; callers add to its counters directly. */
  header!: Float64Array;

  constructor(initialRecords = 1024) {
    this.capacity = Math.max(16, initialRecords | 0);
    this.alloc(this.capacity);
  }

  get length(): number {
    return this.count;
  }

  private alloc(records: number): void {
    const old = this.buf && this.count > 0 ? new Uint8Array(this.buf, 0, HEADER_BYTES + this.count * RECORD_BYTES) : null;
    const oldHeader = this.header ? Float64Array.from(this.header) : null;
    this.capacity = records;
    this.buf = new ArrayBuffer(HEADER_BYTES + records * RECORD_BYTES);
    this.u32 = new Uint32Array(this.buf);
    this.u8 = new Uint8Array(this.buf);
    this.u16 = new Uint16Array(this.buf);
    this.f64 = new Float64Array(this.buf);
    this.header = new Float64Array(this.buf, 0, HEADER_FIELDS);
    if (old) this.u8.set(old);
    else if (oldHeader) this.header.set(oldHeader);
  }

  push(slot: number, event: number, reason = 0, aux = 0, value = 0): void {
    if (this.count === this.capacity) this.alloc(this.capacity * 2);
    const i = this.count++;
    const byteOff = HEADER_BYTES + i * RECORD_BYTES;
    this.u32[byteOff >> 2] = slot >>> 0;
    this.u8[byteOff + 4] = event;
    this.u8[byteOff + 5] = reason;
    this.u16[(byteOff + 6) >> 1] = aux;
    this.f64[(byteOff + 8) >> 3] = value;
  }

  /**
   * Finish the current batch and return it; the writer starts a new, empty one
   * of the same capacity with a zeroed header. `generation`: the target update the
   * writer had applied while every record in it was written (0: before any, which
   * counts on slots defined at generation 0 only — tests and tools that use no
   * generations at all).
   */
  take(workerIndex: number, batchSeq: number, generation = 0): ArrayBuffer {
    const h = this.header;
    h[Header.Version] = BATCH_VERSION;
    h[Header.WorkerIndex] = workerIndex;
    h[Header.RecordCount] = this.count;
    h[Header.BatchSeq] = batchSeq;
    h[Header.Generation] = generation;
    const used = HEADER_BYTES + this.count * RECORD_BYTES;
    // Transfer an exactly-sized buffer so the main thread does not hold on to slack.
    const out = used === this.buf.byteLength ? this.buf : this.buf.slice(0, used);
    this.count = 0;
    if (out === this.buf) {
      this.buf = undefined as unknown as ArrayBuffer;
      this.header = undefined as unknown as Float64Array;
      this.alloc(this.capacity);
    } else {
      this.header.fill(0);
    }
    return out;
  }
}

/** A decoded view over one received batch; allocation-free iteration by index. */
export class BatchReader {
  readonly header: Float64Array;
  readonly count: number;
  private readonly u32: Uint32Array;
  private readonly u8: Uint8Array;
  private readonly u16: Uint16Array;
  private readonly f64: Float64Array;

  constructor(buf: ArrayBuffer) {
    if (buf.byteLength < HEADER_BYTES || (buf.byteLength - HEADER_BYTES) % RECORD_BYTES !== 0) {
      throw new RangeError(`malformed batch: ${buf.byteLength} bytes`);
    }
    this.header = new Float64Array(buf, 0, HEADER_FIELDS);
    if (this.header[Header.Version] !== BATCH_VERSION) {
      throw new RangeError(`batch version ${this.header[Header.Version]} != ${BATCH_VERSION}`);
    }
    this.count = (buf.byteLength - HEADER_BYTES) / RECORD_BYTES;
    if (this.header[Header.RecordCount] !== this.count) {
      throw new RangeError(`batch says ${this.header[Header.RecordCount]} records, holds ${this.count}`);
    }
    this.u32 = new Uint32Array(buf);
    this.u8 = new Uint8Array(buf);
    this.u16 = new Uint16Array(buf);
    this.f64 = new Float64Array(buf);
  }

  slot(i: number): number {
    return this.u32[(HEADER_BYTES + i * RECORD_BYTES) >> 2];
  }
  event(i: number): number {
    return this.u8[HEADER_BYTES + i * RECORD_BYTES + 4];
  }
  reason(i: number): number {
    return this.u8[HEADER_BYTES + i * RECORD_BYTES + 5];
  }
  aux(i: number): number {
    return this.u16[(HEADER_BYTES + i * RECORD_BYTES + 6) >> 1];
  }
  value(i: number): number {
    return this.f64[(HEADER_BYTES + i * RECORD_BYTES + 8) >> 3];
  }
}

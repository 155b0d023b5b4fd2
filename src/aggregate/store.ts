/**
 * TargetStore: the main thread's per-target counters, merged from worker batches
 * and read at scrape/export time. One column (typed array) per quantity, indexed
 * by the target's global slot, so merging a batch touches no objects and a
 * scrape reads memory sequentially.
 *
 * Life of a slot:
 *  - defineSlot() makes its series exist at zero, at a generation (the target update
 *    that put the target there). Redefining the same target (targets/key.ts: same
 *    name, kind and address) only updates labels and window size: counters are monotonic
 *    for the life of the process, including across worker restarts.
 *  - A different target in the same slot starts from zero (resetSlot), since its
 *    series are new series, and takes the new generation.
 *  - releaseSlot() removes it from the exposition; records still in flight for it
 *    are dropped and counted (unknownSlotRecords).
 *  - A record counts on a slot only if its batch's generation is at least the slot's
 *    (src/protocol/generations.ts, rule 1): a batch written before the target was put
 *    in the slot holds records of an older holder of the slot, which are dropped and
 *    counted (staleRecords).
 *
 * What counts where (one probe ends in exactly one of reply / timeout / error):
 *  - Reply: received, RTT histogram + sum, last RTT, loss window (not lost).
 *  - Timeout: timeouts, loss window (lost).
 *  - Error: errors[reason], loss window (lost). Its RTT, if any, is not observed:
 *    the RTT histogram describes answered probes only, so its _count == received.
 *  - Late: late (the probe already counted as a timeout; its RTT is not observed).
 *  - Duplicate: duplicates.
 *  - TargetInvalid: errors[reason] only (not a probe, so not in the loss window).
 */
import { BatchReader, Header } from '../protocol/batch.js';
import { ERROR_REASON_NAMES, HTTP_PHASE_NAMES, ProbeEvent } from '../protocol/events.js';
import { recordCounts } from '../protocol/generations.js';
import { identityAddress, sameTarget } from '../targets/key.js';
import { PROBE_KINDS, type ProbeKind } from '../kinds/index.js';
import { DEFAULT_RTT_BUCKETS, bucketIndex, validateBuckets } from './buckets.js';
import type { ScalarColumn } from '../metrics/catalog.js';
import { CatalogColumns, type SnapshotColumns, type SnapshotParts } from './columns.js';
import { MAX_VALUE as MAX_OBSERVABLE } from './exp-histogram.js';
import { LabelArena, encodeLabels, type LabelArenaView, type SeriesLabels } from './label-arena.js';
import { DEFAULT_LOSS_WINDOW, LossWindows } from './loss-window.js';

export type { SnapshotParts } from './columns.js';

/** What the store needs to know about a target; a TargetSpec fits. */
export interface SlotDefinition {
  name: string;
  kind: ProbeKind;
  /** Configured address; for http targets (no address) the url is used as the address label. */
  address?: string;
  url?: string;
  labels?: Readonly<Record<string, string>>;
  /** Probes in the sliding loss window (default 100). */
  lossWindow?: number;
}

export interface TargetStoreOptions {
  /** Histogram upper bounds (seconds) for RTT and HTTP phases; default DEFAULT_RTT_BUCKETS. */
  buckets?: ArrayLike<number>;
  /** Initial slot capacity (grows by half when a slot past it is defined; see reserve()). */
  initialSlots?: number;
  /** Schema the RTT's exponential histograms start at (default: the catalog's, 3). */
  nativeSchema?: number;
  /** Buckets kept per slot in an exponential histogram (default 40; see exp-histogram.ts). */
  nativeWindow?: number;
  /** Which labels every per-target series carries (metrics.series_labels; default full). */
  seriesLabels?: SeriesLabels;
}

/**
 * A consistent copy of the store taken at one instant (scrape start), so a
 * streaming serializer can yield to the event loop between chunks while batches
 * keep merging into the live store. Arrays cover slots [0, highWater).
 *
 * Besides the slot metadata below, it has one field per store column of the metric
 * catalog (SnapshotColumns, typed from metrics/catalog.ts): sent, received, timeouts,
 * duplicates, late, errors (per ErrorReason code; undefined when no slot ever had that
 * reason), rttBuckets, rttSum, lastRtt, lossRatio, connects, connected, phaseBuckets,
 * phaseSum (per HttpPhase code; undefined when never recorded), httpStatus, and
 * rttNative: the RTT's exponential histograms (ExpHistogramColumnsView of
 * aggregate/exp-histogram.ts; undefined when taken with `{ native: false }`).
 * Histogram bucket arrays are NON-cumulative, stride buckets.length + 1 (the last
 * column of each slot counts values above the last bound).
 */
export type StoreSnapshot = SnapshotMeta & SnapshotColumns;

export interface SnapshotMeta {
  readonly highWater: number;
  readonly buckets: Float64Array;
  /** 1 = slot holds a target. */
  readonly defined: Uint8Array;
  /** Index into PROBE_KINDS. */
  readonly kind: Uint8Array;
  /** Number of defined slots per kind (index into PROBE_KINDS). */
  readonly kindCounts: Uint32Array;
  /**
   * Per slot, its labels as the serializers copy them: the escaped text fragment (no
   * braces) and the protobuf LabelPairs (label-arena.ts); zero-length when undefined.
   * `labels.info` is set in compact mode (metrics.series_labels): the
   * fleetprobe_target_info series are written then.
   */
  readonly labels: LabelArenaView;
  /** Store version at the snapshot (see TargetStore.version). */
  readonly version: number;
  /** performance.now() when it was taken. */
  readonly takenAt: number;
}

/** One target's counters at one instant: what the live streams' state events carry. */
export interface SlotState {
  sent: number;
  received: number;
  timeouts: number;
  late: number;
  duplicates: number;
  /** Errors by reason name; only reasons this target has seen (count > 0). */
  errors: Record<string, number>;
  /** Loss ratio of the sliding window (0 when nothing completed). */
  lossRatio: number;
  /** Seconds; NaN before the first reply. */
  lastRtt: number;
  /** Sum of answered RTTs, seconds (mean = rttSum / received). */
  rttSum: number;
}

/** The store's own arrays (not copies), see TargetStore.liveColumns(). */
export interface LiveColumns {
  readonly highWater: number;
  /** Histogram row width (bounds + overflow column). */
  readonly stride: number;
  readonly buckets: Float64Array;
  readonly defined: Uint8Array;
  readonly sent: Float64Array;
  readonly received: Float64Array;
  readonly timeouts: Float64Array;
  readonly late: Float64Array;
  readonly duplicates: Float64Array;
  /** Per ErrorReason code; undefined when no slot ever had that reason. */
  readonly errors: readonly (Float64Array | undefined)[];
  /** The error columns that exist (for sums over every reason without skipping holes per slot). */
  readonly errorColumns: readonly Float64Array[];
  /** NON-cumulative counts, `stride` per slot. */
  readonly rttBuckets: Float64Array;
  readonly rttSum: Float64Array;
  readonly lastRtt: Float64Array;
}

/**
 * Told, synchronously, when a slot's counters are about to leave it and when a slot got
 * its target, so a reader that adds slots up into groups (aggregate/groups.ts) keeps
 * its sums monotonic while targets come, go and change labels. Must not change the store.
 */
export interface SlotObserver {
  /** The slot's counters are about to be zeroed (a new target takes the slot): read them now. */
  slotResetting(slot: number): void;
  /** The slot is about to be released (its counters are still readable). */
  slotReleasing(slot: number): void;
  /** defineSlot() finished: a new target, or the same one with new labels. */
  slotDefined(slot: number, def: SlotDefinition): void;
}

const KIND_CODE: ReadonlyMap<string, number> = new Map(PROBE_KINDS.map((k, i) => [k, i]));

export class TargetStore {
  readonly buckets: Float64Array;
  /** Histogram row width: one column per bound plus the overflow (+Inf-only) column. */
  private readonly stride: number;
  private capacity: number;
  private high = 0;
  private definedCount = 0;

  private defined: Uint8Array;
  private kind: Uint8Array;
  private names: string[] = [];
  private addresses: string[] = [];
  /** Generation at which each slot's target was put there (generations.ts, rule 1). */
  private generations: Float64Array;
  /** Every slot's label bytes (text fragment and protobuf LabelPairs) in one arena. */
  private readonly labelArena: LabelArena;
  private labelMode: SeriesLabels;
  /** Raw user labels per slot (the OTel exporter needs values, not escaped fragments). */
  private userLabels: (Readonly<Record<string, string>> | undefined)[] = [];
  /** Built on first slotAttributes() call, dropped when the slot is (re)defined or released. */
  private attributeCache: (Readonly<Record<string, string>> | undefined)[] = [];
  /** Epoch ms at which each slot's counters last started from zero (OTel start time). */
  private startTimes: Float64Array;
  /** Bumped each time a slot's counters start from zero, so readers that keep their own per-slot state (the history rings) see a reset. */
  private epochs: Uint32Array;
  /** Bumped by every change a snapshot could see (a batch merged, a slot defined, reset or released). */
  private changes = 0;

  /** One column per metric family of the catalog (errors and phases allocated on first use). */
  private readonly columns: CatalogColumns;
  private readonly loss: LossWindows;
  private readonly observers: SlotObserver[] = [];

  /** Records dropped because their slot is not (or no longer) defined. */
  unknownSlotRecords = 0;
  /** Records dropped because their batch was written before the slot's target was put there. */
  staleRecords = 0;
  /** Records dropped because their event code or HTTP phase is unknown. */
  malformedRecords = 0;
  /** Reply/Late/Phase values that were negative, not finite or above 2^32 s (observed as 0). */
  invalidValues = 0;
  /** Batches merged. */
  batchesApplied = 0;

  constructor(opts: TargetStoreOptions = {}) {
    this.buckets = opts.buckets === undefined ? DEFAULT_RTT_BUCKETS : validateBuckets(opts.buckets);
    this.stride = this.buckets.length + 1;
    this.capacity = Math.max(16, (opts.initialSlots ?? 1024) | 0);
    const c = this.capacity;
    this.defined = new Uint8Array(c);
    this.kind = new Uint8Array(c);
    this.startTimes = new Float64Array(c);
    this.epochs = new Uint32Array(c);
    this.generations = new Float64Array(c);
    this.columns = new CatalogColumns(c, this.stride, { schema: opts.nativeSchema, window: opts.nativeWindow });
    this.labelArena = new LabelArena(c);
    this.labelMode = opts.seriesLabels ?? 'full';
    this.loss = new LossWindows(c);
  }

  /** Tell `o` about every later slot change (see SlotObserver); attach before defining slots. */
  observeSlots(o: SlotObserver): void {
    this.observers.push(o);
  }

  /**
   * Changes so far: equal versions mean equal contents, so a reader may reuse a
   * snapshot taken at the same version (concurrent scrapes share one).
   */
  get version(): number {
    return this.changes;
  }

  /** One past the highest slot ever defined. */
  get highWater(): number {
    return this.high;
  }

  /** Number of slots currently holding a target. */
  get size(): number {
    return this.definedCount;
  }

  /** Current slot capacity of the typed arrays (for tests and self metrics). */
  get slotCapacity(): number {
    return this.capacity;
  }

  /** Whether a counter or gauge column has storage: a family of some kinds only has none until a slot of one of them is defined. */
  columnAllocated(column: ScalarColumn): boolean {
    return this.columns.allocated(column);
  }

  /**
   * Bytes held by the store's typed arrays, by part (the memory breakdown at scale:
   * README "Memory"): the metric columns (classic and exponential histograms
   * included), the label arena, the loss windows, and the per-slot metadata.
   */
  memoryBytes(): { columns: number; labels: number; lossWindows: number; slots: number } {
    return {
      columns: this.columns.bytes,
      labels: this.labelArena.byteLength,
      lossWindows: this.loss.byteLength,
      slots: this.defined.byteLength + this.kind.byteLength + this.startTimes.byteLength + this.epochs.byteLength + this.generations.byteLength,
    };
  }

  isDefined(slot: number): boolean {
    return slot < this.high && this.defined[slot] === 1;
  }

  /**
   * Put a target in a slot at `generation` (the target update that put it there; 0
   * when generations are not used). A new target (slot empty, or held by a target with
   * another targetKey) starts from zero and takes the generation; the same target
   * only gets its labels and loss window size updated, its counters and generation
   * carry on. Throws (and leaves the slot untouched) on invalid labels or window size.
   */
  defineSlot(slot: number, def: SlotDefinition, generation = 0): void {
    if (!Number.isInteger(slot) || slot < 0 || slot > 0xfffffffe) throw new RangeError(`bad slot ${slot}`);
    const kindCode = KIND_CODE.get(def.kind);
    if (kindCode === undefined) throw new RangeError(`unknown probe kind ${JSON.stringify(def.kind)}`);
    const address = identityAddress(def);
    const window = def.lossWindow ?? DEFAULT_LOSS_WINDOW;
    const labels = encodeLabels(def.name, address, def.kind, def.labels, this.labelMode); // validates them
    this.ensureCapacity(slot + 1);
    this.columns.allocateKind(kindCode);
    const held = this.defined[slot] === 1 ? { name: this.names[slot], kind: PROBE_KINDS[this.kind[slot]], address: this.addresses[slot] } : null;
    if (held !== null && sameTarget(held, def)) {
      if (this.loss.windowSize(slot) !== window) this.loss.configure(slot, window);
    } else {
      this.loss.configure(slot, window); // validates before anything else changes
      if (this.defined[slot] !== 1) this.definedCount++;
      this.defined[slot] = 1;
      this.kind[slot] = kindCode;
      this.names[slot] = def.name;
      this.addresses[slot] = address;
      this.generations[slot] = generation;
      this.resetSlot(slot);
    }
    this.labelArena.set(slot, labels);
    this.userLabels[slot] = def.labels;
    this.attributeCache[slot] = undefined;
    if (slot >= this.high) this.high = slot + 1;
    for (const o of this.observers) o.slotDefined(slot, def);
    this.changes++;
  }

  /** metrics.series_labels in effect. */
  get seriesLabels(): SeriesLabels {
    return this.labelMode;
  }

  /**
   * Change which labels every per-target series carries (a reload of
   * metrics.series_labels): every slot's labels are encoded again, once, here; the
   * next snapshot has them. Snapshots taken before keep theirs. Counters carry on.
   */
  setSeriesLabels(mode: SeriesLabels): void {
    if (mode === this.labelMode) return;
    this.labelMode = mode;
    for (let s = 0; s < this.high; s++) {
      if (this.defined[s] !== 1) continue;
      // Validated when the slot was defined: cannot throw here.
      this.labelArena.set(s, encodeLabels(this.names[s], this.addresses[s], PROBE_KINDS[this.kind[s]], this.userLabels[s], mode));
    }
    if (mode === 'full') this.labelArena.dropInfo();
    this.changes++;
  }

  /** Every column of a slot back to its initial value (0; NaN for last RTT) and its loss window emptied. */
  resetSlot(slot: number): void {
    if (slot >= this.capacity) return;
    for (const o of this.observers) o.slotResetting(slot);
    this.startTimes[slot] = Date.now();
    this.epochs[slot]++;
    this.columns.reset(slot);
    this.loss.reset(slot);
    this.changes++;
  }

  /** Remove a target: its series disappear and later records for it are dropped. */
  releaseSlot(slot: number): void {
    if (!this.isDefined(slot)) return;
    for (const o of this.observers) o.slotReleasing(slot);
    this.defined[slot] = 0;
    this.definedCount--;
    this.names[slot] = '';
    this.addresses[slot] = '';
    this.labelArena.clear(slot);
    this.userLabels[slot] = undefined;
    this.attributeCache[slot] = undefined;
    this.loss.release(slot);
    this.changes++;
  }

  /** Target name held by a slot, or undefined. */
  nameOf(slot: number): string | undefined {
    return this.isDefined(slot) ? this.names[slot] : undefined;
  }

  /** Generation at which a slot's target was put there; NaN for an empty slot. */
  slotGeneration(slot: number): number {
    return this.isDefined(slot) ? this.generations[slot] : NaN;
  }

  /**
   * Raw attributes of a slot's series: target, address, kind, then the user
   * labels (unescaped values), or undefined for an empty slot. Built once per
   * definition and cached, so an exporter reading every slot per export
   * allocates nothing here; the object is frozen and shared, do not mutate.
   */
  slotAttributes(slot: number): Readonly<Record<string, string>> | undefined {
    if (!this.isDefined(slot)) return undefined;
    let a = this.attributeCache[slot];
    if (a === undefined) {
      const built: Record<string, string> = { target: this.names[slot], address: this.addresses[slot], kind: PROBE_KINDS[this.kind[slot]] };
      const labels = this.userLabels[slot];
      if (labels !== undefined) for (const k of Object.keys(labels).sort()) built[k] = labels[k];
      this.attributeCache[slot] = a = Object.freeze(built);
    }
    return a;
  }

  /** Epoch ms at which a slot's counters last started from zero (definition or reset); NaN for an empty slot. */
  slotStartTimeMs(slot: number): number {
    return this.isDefined(slot) ? this.startTimes[slot] : NaN;
  }

  /** How many times a slot's counters have started from zero (1 after its first definition); 0 for a slot never defined. */
  slotEpoch(slot: number): number {
    return slot < this.capacity ? this.epochs[slot] : 0;
  }

  /**
   * The live columns, for readers on the main thread that run between batches and
   * must not copy the store (the history rings close a period over every slot). The
   * arrays are replaced when the store grows: take them again after any defineSlot.
   * Read only.
   */
  liveColumns(): LiveColumns {
    const c = this.columns.scalar;
    const errors = this.columns.labelled.errors;
    return {
      highWater: this.high,
      stride: this.stride,
      buckets: this.buckets,
      defined: this.defined,
      sent: c.sent,
      received: c.received,
      timeouts: c.timeouts,
      late: c.late,
      duplicates: c.duplicates,
      errors,
      errorColumns: errors.filter((e): e is Float64Array => e !== undefined),
      rttBuckets: this.columns.histogram.rtt.buckets,
      rttSum: this.columns.histogram.rtt.sum,
      lastRtt: c.lastRtt,
    };
  }

  /**
   * Merge one worker batch. Throws RangeError for a malformed buffer (nothing is
   * merged then). Returns the batch header (worker index, generation, per-worker
   * counters) for the supervisor's worker record; it is a view on `buf`.
   */
  applyBatch(buf: ArrayBuffer): Float64Array {
    const r = new BatchReader(buf);
    const n = r.count;
    const high = this.high;
    const defined = this.defined;
    const stride = this.stride;
    const buckets = this.buckets;
    // Column handles of the catalog's families (metrics/catalog.ts), read once per batch
    // (nothing grows while a batch merges). Which event fills which column is here.
    const { sent, received, timeouts, duplicates, late, lastRtt, connects, connected, httpStatus } = this.columns.scalar;
    const rtt = this.columns.histogram.rtt;
    const rttNative = this.columns.native.rtt;
    const generations = this.generations;
    const batchGeneration = r.header[Header.Generation];
    for (let i = 0; i < n; i++) {
      const slot = r.slot(i);
      if (slot >= high || defined[slot] !== 1) {
        this.unknownSlotRecords++;
        continue;
      }
      if (!recordCounts(batchGeneration, generations[slot])) {
        this.staleRecords++;
        continue;
      }
      // The event byte is any number off the wire: an unknown one falls to default (malformed).
      switch (r.event(i) as ProbeEvent) {
        case ProbeEvent.Sent:
          sent[slot]++;
          break;
        case ProbeEvent.Reply: {
          const v = this.checkValue(r.value(i));
          received[slot]++;
          rtt.buckets[slot * stride + bucketIndex(buckets, v)]++;
          rtt.sum[slot] += v;
          rttNative.observe(slot, v);
          lastRtt[slot] = v;
          this.loss.record(slot, false);
          break;
        }
        case ProbeEvent.Timeout:
          timeouts[slot]++;
          this.loss.record(slot, true);
          break;
        case ProbeEvent.Error:
          this.errorColumn(r.reason(i))[slot]++;
          this.loss.record(slot, true);
          break;
        case ProbeEvent.Duplicate:
          duplicates[slot]++;
          break;
        case ProbeEvent.Late:
          this.checkValue(r.value(i));
          late[slot]++;
          break;
        case ProbeEvent.Connect:
          connects[slot]++;
          break;
        case ProbeEvent.Connected:
          connected[slot] = r.aux(i) !== 0 ? 1 : 0;
          break;
        case ProbeEvent.Phase: {
          const phase = r.aux(i);
          if (phase >= HTTP_PHASE_NAMES.length) {
            this.malformedRecords++;
            break;
          }
          const v = this.checkValue(r.value(i));
          const h = this.columns.labelledHistogramCells('phase', phase);
          h.buckets[slot * stride + bucketIndex(buckets, v)]++;
          h.sum[slot] += v;
          break;
        }
        case ProbeEvent.Status:
          httpStatus[slot] = r.aux(i);
          break;
        case ProbeEvent.TargetInvalid:
          this.errorColumn(r.reason(i))[slot]++;
          break;
        default:
          this.malformedRecords++;
      }
    }
    this.batchesApplied++;
    this.changes++;
    return r.header;
  }

  /** Loss ratio of a slot's window right now (0 when nothing completed). */
  lossRatio(slot: number): number {
    return this.isDefined(slot) ? this.loss.ratio(slot) : 0;
  }

  /** A slot's counters right now, or undefined for an empty slot (reads a few columns; no snapshot). */
  slotState(slot: number): SlotState | undefined {
    if (!this.isDefined(slot)) return undefined;
    const errors: Record<string, number> = {};
    const errorColumns = this.columns.labelled.errors;
    for (let r = 0; r < errorColumns.length; r++) {
      const col = errorColumns[r];
      if (col !== undefined && col[slot] > 0) errors[ERROR_REASON_NAMES[r]] = col[slot];
    }
    const c = this.columns.scalar;
    return {
      sent: c.sent[slot],
      received: c.received[slot],
      timeouts: c.timeouts[slot],
      late: c.late[slot],
      duplicates: c.duplicates[slot],
      errors,
      lossRatio: this.loss.ratio(slot),
      lastRtt: c.lastRtt[slot],
      rttSum: this.columns.histogram.rtt.sum[slot],
    };
  }

  /**
   * Copy the store's current state for a scrape or an export. Costs one memcpy
   * per column (≈ 40 × 8 bytes per slot, plus 40 × 8 for the exponential histograms
   * when asked for), far less than serializing; label bytes are shared, not copied.
   * `parts.native: false` leaves the exponential histograms out (the text exposition
   * has no use for them).
   */
  snapshot(parts: SnapshotParts = {}): StoreSnapshot {
    const n = this.high;
    const kind = this.kind.slice(0, n);
    const defined = this.defined.slice(0, n);
    const kindCounts = new Uint32Array(PROBE_KINDS.length);
    for (let s = 0; s < n; s++) if (defined[s] === 1) kindCounts[kind[s]]++;
    const lossRatio = new Float64Array(n);
    this.loss.ratiosInto(lossRatio, n);
    return {
      highWater: n,
      buckets: this.buckets,
      defined,
      kind,
      kindCounts,
      labels: this.labelArena.view(n, this.labelMode === 'compact'),
      version: this.changes,
      takenAt: performance.now(),
      ...this.columns.snapshot(n, parts),
      lossRatio,
    };
  }

  /** Exponential histogram bucket-window changes to a coarser schema so far (all slots). */
  get nativeDownscales(): number {
    return this.columns.native.rtt.downscales;
  }

  private checkValue(v: number): number {
    if (v >= 0 && v <= MAX_OBSERVABLE) return v;
    this.invalidValues++;
    return 0;
  }

  private errorColumn(reason: number): Float64Array {
    // Codes outside the known set become 'unknown' (0): label values stay bounded.
    return this.columns.labelledCell('errors', reason < ERROR_REASON_NAMES.length ? reason : 0);
  }

  /**
   * Room for slots [0, n) now, exactly: the target sync calls it with the registry's
   * high-water mark before it defines a whole target set, so 100,000 targets cost
   * 100,000 slots of every column rather than the next power of two (131,072: +31%).
   * Never shrinks.
   */
  reserve(n: number): void {
    if (n > this.capacity) this.resize(n);
  }

  private ensureCapacity(n: number): void {
    // One slot at a time (API additions): half again, so a long run of additions copies
    // each column O(1) times per slot while leaving at most a third of it unused.
    if (n > this.capacity) this.resize(Math.max(n, Math.ceil(this.capacity * 1.5)));
  }

  private resize(c: number): void {
    this.defined = grow(this.defined, c);
    this.kind = grow(this.kind, c);
    this.startTimes = grow(this.startTimes, c);
    this.epochs = grow(this.epochs, c);
    this.generations = grow(this.generations, c);
    this.columns.grow(c);
    this.labelArena.grow(c);
    this.loss.reserveSlots(c);
    this.capacity = c;
  }
}

function grow<T extends Uint8Array | Uint32Array | Float64Array>(a: T, n: number): T {
  const b = new (a.constructor as { new (n: number): T })(n);
  b.set(a);
  return b;
}

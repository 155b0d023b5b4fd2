/**
 * Short history in memory: per target a ring of recent periods (default one hour in
 * 30 s periods), so the web console draws graphs without Prometheus. Pure (no I/O,
 * no timers): the exporter calls observe(now) after each batch it merged.
 *
 * Nothing is aggregated twice. A period is closed from the store's own cumulative
 * counters: at the first batch after a period boundary, each target's answered and
 * lost probes and its RTT histogram are read, the difference from the previous close
 * is the period, and the percentiles come from that histogram difference (as
 * histogram_quantile() would compute them). Periods are aligned to the wall clock
 * (multiples of the resolution since the epoch), so the rings of several mesh nodes
 * line up.
 *
 * What one target costs (P = retention / resolution points; 120 by default):
 *   answered, lost   Uint8 × P each      counts of the period, while every count so
 *                    (Uint16 × P)        far fits a byte (a target probed every second
 *                                         completes 30 probes in a 30 s period); both
 *                                         rings become Uint16 for good, every target's
 *                                         at once, the first time a count does not fit
 *                                         (then scaled together to fit 65535 when a
 *                                         target completes more probes than that in
 *                                         one period)
 *   p50, p90, p99    Uint8 × P each      RTT codes (rtt-code.ts: log scale, ±3.7%)
 *   baselines        Uint32 × (2 + histogram row), Uint32 epoch, Float64 first period
 * = 5 × P + 4 × (buckets + 4) + 8 bytes: 700 bytes with the defaults (120 points, 19
 * RTT buckets), 7 × P + … = 940 once the counts are Uint16. Counters are kept modulo
 * 2^32 in the baselines: a difference stays exact as long as one period holds fewer
 * than 2^32 events.
 *
 * Gaps: a period in which no batch arrived at all (the workers stalled) is marked
 * missing for every target; what was probed meanwhile is in the period closed by the
 * next batch, which is the newest period before that batch. A target defined in the middle of the ring starts its series at the
 * period in which it was first seen; a slot reused by another target (the store bumps
 * its epoch) starts over.
 */
import type { LiveColumns, TargetStore } from './store.js';
import { histogramQuantile, histogramQuantiles } from './histogram-quantile.js';
import { decodeRtt, encodeRtt, RTT_CODE_COUNT } from './rtt-code.js';

/** What the history reads from the store. */
export type HistoryStore = Pick<TargetStore, 'liveColumns' | 'slotEpoch'>;

export interface HistoryOptions {
  /** How far back the rings reach (ms); must be a whole number of resolutions, at least one. */
  retentionMs: number;
  /** Length of one period (ms). */
  resolutionMs: number;
  /** Wall clock (ms) at which the first period opens (default Date.now()). */
  startMs?: number;
}

/** The percentiles each period keeps. */
export const HISTORY_QUANTILES = [0.5, 0.9, 0.99] as const;

/** Weight of each stored percentile in a mixture (see accumulate()): the share of probes it stands for (they sum to 1). */
const MIXTURE_WEIGHTS = [0.5, 0.4, 0.1] as const;

const U8_MAX = 0xff;
const U16_MAX = 0xffff;
const TWO32 = 4294967296;

/** A counter modulo 2^32 (what the baselines keep); a branch, not a float modulo, in the common case. */
function mod32(x: number): number {
  return x < TWO32 ? x : x % TWO32;
}

/** a − b modulo 2^32, for a and b in [0, 2^32). */
function diff32(a: number, b: number): number {
  const d = a - b;
  return d < 0 ? d + TWO32 : d;
}

/** Periods of one target (or of the fleet), oldest first. RTTs in seconds (NaN: no answered probe). */
export interface PeriodSeries {
  resolutionMs: number;
  /** Wall-clock ms at which each period was closed (the first batch after its boundary). */
  end: number[];
  answered: number[];
  lost: number[];
  p50: number[];
  p90: number[];
  p99: number[];
}

/** The current, still open period of one target (since the last close). */
export interface OpenPeriod {
  startMs: number;
  answered: number;
  lost: number;
  p50: number;
  p90: number;
  p99: number;
}

/**
 * Sums over several targets and periods that can be merged (added) across targets,
 * periods and mesh nodes: counts, and a mixture of the RTT percentiles weighted by
 * answered probes over the 256 RTT codes (see mixtureQuantile()).
 */
export interface Accumulator {
  answered: number;
  lost: number;
  weights: Float64Array;
}

/** Reusable scratch of History.windowQuantile(). */
export interface QuantileScratch {
  weights: Float64Array;
  touched: Uint8Array;
}

export function newAccumulator(): Accumulator {
  return { answered: 0, lost: 0, weights: new Float64Array(RTT_CODE_COUNT) };
}

/**
 * The q-quantile of an accumulated mixture. Each (target, period) adds its answered
 * probes split over its own p50, p90 and p99 (50%, 40%, 10%), so for one target and
 * one period the 0.5, 0.9 and 0.99 quantiles give back exactly what was stored; for
 * many it approximates the quantile of all their probes together (a target with
 * more answers weighs more). NaN when nothing was answered.
 */
export function mixtureQuantile(acc: Accumulator, q: number): number {
  let total = 0;
  const w = acc.weights;
  for (let c = 1; c < RTT_CODE_COUNT; c++) total += w[c];
  if (!(total > 0)) return NaN;
  // A small tolerance: the weights are sums of fractions of counts.
  const rank = q * total * (1 - 1e-12);
  let run = 0;
  for (let c = 1; c < RTT_CODE_COUNT; c++) {
    run += w[c];
    if (run >= rank && w[c] > 0) return decodeRtt(c);
  }
  return decodeRtt(RTT_CODE_COUNT - 1);
}

export class History {
  readonly points: number;
  readonly resolutionMs: number;
  private readonly store: HistoryStore;
  private readonly stride: number;
  private readonly buckets: Float64Array;
  private capacity = 0;

  // Per point × target (position-major: position * capacity + slot), so closing a
  // period writes each array in one sequential run, and a pass over every target in
  // slot order reads each period sequentially.
  /** Uint8 until a count does not fit a byte (widenCounts()), then Uint16. */
  private answered: Uint8Array | Uint16Array = new Uint8Array(0);
  private lost: Uint8Array | Uint16Array = new Uint8Array(0);
  private p50 = new Uint8Array(0);
  private p90 = new Uint8Array(0);
  private p99 = new Uint8Array(0);
  // Per target.
  private baseAnswered = new Uint32Array(0);
  private baseLost = new Uint32Array(0);
  /** Histogram row at the last close, modulo 2^32, `stride` per slot. */
  private baseHist = new Uint32Array(0);
  /** The store epoch the baselines belong to; 0: slot never seen. */
  private epoch = new Uint32Array(0);
  /** First period (sequence number) of the slot's current target. */
  private firstSeq = new Float64Array(0);

  // Per point, shared by every target.
  /** Sequence number held at each position; -1: empty or a gap. */
  private readonly periodSeq: Float64Array;
  private readonly periodEnd: Float64Array;
  // The fleet (every target summed), per point; RTTs exact from the summed histogram.
  private readonly fleetAnswered: Float64Array;
  private readonly fleetLost: Float64Array;
  private readonly fleetTargets: Uint32Array;
  private readonly fleetP: Float32Array[];

  /** The period now accumulating (floor(time / resolution)). */
  private openSeq: number;
  private lastCloseMs: number;
  private readonly delta: Float64Array;
  private readonly fleetHist: Float64Array;
  private readonly q3 = new Float64Array(HISTORY_QUANTILES.length);
  private readonly counts = { answered: 0, lost: 0 };
  /** Periods closed so far, and how long the newest close took (ms), for the console's status. */
  closes = 0;
  lastCloseDurationMs = 0;

  constructor(store: HistoryStore, opts: HistoryOptions) {
    const { retentionMs, resolutionMs } = opts;
    if (!(resolutionMs >= 1) || !Number.isFinite(resolutionMs)) throw new RangeError(`history resolution must be at least 1 ms, got ${resolutionMs}`);
    const points = retentionMs / resolutionMs;
    if (!Number.isInteger(points) || points < 1)
      throw new RangeError(`history retention (${retentionMs} ms) must be a whole number (≥ 1) of resolutions (${resolutionMs} ms)`);
    this.points = points;
    this.resolutionMs = resolutionMs;
    this.store = store;
    const cols = store.liveColumns();
    this.stride = cols.stride;
    this.buckets = cols.buckets;
    this.periodSeq = new Float64Array(points).fill(-1);
    this.periodEnd = new Float64Array(points);
    this.fleetAnswered = new Float64Array(points);
    this.fleetLost = new Float64Array(points);
    this.fleetTargets = new Uint32Array(points);
    this.fleetP = HISTORY_QUANTILES.map(() => new Float32Array(points));
    this.delta = new Float64Array(this.stride);
    this.fleetHist = new Float64Array(this.stride);
    const start = opts.startMs ?? Date.now();
    this.openSeq = Math.floor(start / resolutionMs);
    this.lastCloseMs = start;
  }

  /** Entries per slot of the store's RTT histogram (bounds + overflow). */
  get histogramStride(): number {
    return this.stride;
  }

  /** Retention in ms. */
  get retentionMs(): number {
    return this.points * this.resolutionMs;
  }

  /**
   * Called after each merged batch (and cheap when nothing is due: one division).
   * Closes the open period once its boundary has passed. Returns true when it did.
   */
  observe(nowMs: number): boolean {
    const s = Math.floor(nowMs / this.resolutionMs);
    if (!(s > this.openSeq)) return false; // same period, or the clock went back
    this.close(nowMs, s);
    return true;
  }

  private close(nowMs: number, nextSeq: number): void {
    const t0 = performance.now();
    const P = this.points;
    // Normally the open period. After a gap (no batch for whole periods) the data goes
    // to the newest period before now, so it stays visible; the ones between are gaps.
    const q = nextSeq - 1;
    const pos = q % P;
    const cols = this.store.liveColumns();
    const n = cols.highWater;
    this.ensureCapacity(n);
    const cap = this.capacity;
    const errs = cols.errorColumns;
    const stride = this.stride;
    const delta = this.delta;
    const fleetHist = this.fleetHist.fill(0);
    const q3 = this.q3;
    let fleetA = 0;
    let fleetL = 0;
    let targets = 0;
    for (let slot = 0; slot < n; slot++) {
      if (cols.defined[slot] !== 1) continue;
      const ep = this.store.slotEpoch(slot);
      if (this.epoch[slot] !== ep) this.startSlot(slot, ep, q);
      targets++;
      let lostNow = cols.timeouts[slot];
      for (let e = 0; e < errs.length; e++) lostNow += errs[e][slot];
      const a32 = mod32(cols.received[slot]);
      const l32 = mod32(lostNow);
      const da = diff32(a32, this.baseAnswered[slot]);
      const dl = diff32(l32, this.baseLost[slot]);
      this.baseAnswered[slot] = a32;
      this.baseLost[slot] = l32;
      const i = pos * cap + slot;
      let sa = da;
      let sl = dl;
      if (da + dl > U16_MAX) {
        // Keep the loss ratio: scale both counts together.
        sa = Math.round((da * U16_MAX) / (da + dl));
        sl = U16_MAX - sa;
      }
      if ((sa > U8_MAX || sl > U8_MAX) && this.answered.BYTES_PER_ELEMENT === 1) this.widenCounts();
      this.answered[i] = sa;
      this.lost[i] = sl;
      // Every answer lands in exactly one RTT bucket (the store counts both at once),
      // so no answer means an unchanged histogram: skip its row.
      if (da > 0) {
        const row = slot * stride;
        for (let b = 0; b < stride; b++) {
          const c32 = mod32(cols.rttBuckets[row + b]);
          const d = diff32(c32, this.baseHist[row + b]);
          this.baseHist[row + b] = c32;
          delta[b] = d;
          fleetHist[b] += d;
        }
        histogramQuantiles(HISTORY_QUANTILES, this.buckets, delta, 0, da, q3);
        this.p50[i] = encodeRtt(q3[0]);
        this.p90[i] = encodeRtt(q3[1]);
        this.p99[i] = encodeRtt(q3[2]);
      } else {
        this.p50[i] = this.p90[i] = this.p99[i] = 0;
      }
      fleetA += da;
      fleetL += dl;
    }
    this.periodSeq[pos] = q;
    this.periodEnd[pos] = nowMs;
    this.fleetAnswered[pos] = fleetA;
    this.fleetLost[pos] = fleetL;
    this.fleetTargets[pos] = targets;
    for (let k = 0; k < HISTORY_QUANTILES.length; k++) this.fleetP[k][pos] = histogramQuantile(HISTORY_QUANTILES[k], this.buckets, fleetHist);
    // Periods in which no batch arrived at all are gaps (at most one ring's worth).
    for (let g = Math.max(this.openSeq, q - P + 1); g < q; g++) this.periodSeq[g % P] = -1;
    this.openSeq = nextSeq;
    this.lastCloseMs = nowMs;
    this.closes++;
    this.lastCloseDurationMs = performance.now() - t0;
  }

  /** A slot holds a target the rings have not seen (new, or reused after a reset): start its series at period `seq`. */
  private startSlot(slot: number, epoch: number, seq: number): void {
    this.epoch[slot] = epoch;
    this.firstSeq[slot] = seq;
    // The store started this target's counters from zero, so everything it holds belongs to it.
    this.baseAnswered[slot] = 0;
    this.baseLost[slot] = 0;
    this.baseHist.fill(0, slot * this.stride, (slot + 1) * this.stride);
  }

  /** The rings hold the slot's current target (it was defined at a close and not replaced since). */
  private tracks(slot: number, cols: LiveColumns): boolean {
    return slot < this.capacity && this.epoch[slot] !== 0 && this.epoch[slot] === this.store.slotEpoch(slot) && cols.defined[slot] === 1;
  }

  /** Closed periods of a slot's target, oldest first (empty when none closed yet). */
  series(slot: number): PeriodSeries {
    const out: PeriodSeries = { resolutionMs: this.resolutionMs, end: [], answered: [], lost: [], p50: [], p90: [], p99: [] };
    if (!this.tracks(slot, this.store.liveColumns())) return out;
    const P = this.points;
    const cap = this.capacity;
    const first = this.firstSeq[slot];
    for (let seq = Math.max(this.openSeq - P, first); seq < this.openSeq; seq++) {
      const pos = seq % P;
      if (this.periodSeq[pos] !== seq) continue;
      const i = pos * cap + slot;
      out.end.push(this.periodEnd[pos]);
      out.answered.push(this.answered[i]);
      out.lost.push(this.lost[i]);
      out.p50.push(decodeRtt(this.p50[i]));
      out.p90.push(decodeRtt(this.p90[i]));
      out.p99.push(decodeRtt(this.p99[i]));
    }
    return out;
  }

  /** Closed periods of the whole fleet (every target summed; RTT percentiles of all answered probes). */
  fleetSeries(): PeriodSeries & { targets: number[] } {
    const out = {
      resolutionMs: this.resolutionMs,
      end: [] as number[],
      answered: [] as number[],
      lost: [] as number[],
      p50: [] as number[],
      p90: [] as number[],
      p99: [] as number[],
      targets: [] as number[],
    };
    const P = this.points;
    for (let seq = this.openSeq - P; seq < this.openSeq; seq++) {
      const pos = ((seq % P) + P) % P;
      if (this.periodSeq[pos] !== seq) continue;
      out.end.push(this.periodEnd[pos]);
      out.answered.push(this.fleetAnswered[pos]);
      out.lost.push(this.fleetLost[pos]);
      out.targets.push(this.fleetTargets[pos]);
      out.p50.push(this.fleetP[0][pos]);
      out.p90.push(this.fleetP[1][pos]);
      out.p99.push(this.fleetP[2][pos]);
    }
    return out;
  }

  /**
   * The open period of a slot: what its counters gained since the last close (all of
   * them when the rings have not seen this target yet), with its RTT percentiles.
   */
  open(slot: number): OpenPeriod {
    const cols = this.store.liveColumns();
    const out: OpenPeriod = { startMs: this.lastCloseMs, answered: 0, lost: 0, p50: NaN, p90: NaN, p99: NaN };
    if (slot >= cols.highWater || cols.defined[slot] !== 1) return out;
    const tracked = this.tracks(slot, cols);
    this.openCounts(slot, cols, tracked, out);
    if (out.answered > 0) {
      const delta = new Float64Array(this.stride);
      const row = slot * this.stride;
      for (let b = 0; b < this.stride; b++) {
        const cur = cols.rttBuckets[row + b];
        delta[b] = tracked ? diff32(mod32(cur), this.baseHist[row + b]) : cur;
      }
      const q = new Float64Array(HISTORY_QUANTILES.length);
      histogramQuantiles(HISTORY_QUANTILES, this.buckets, delta, 0, out.answered, q);
      [out.p50, out.p90, out.p99] = q;
    }
    return out;
  }

  /** Answered and lost probes of the open period (cheap: no histogram). */
  private openCounts(slot: number, cols: LiveColumns, tracked: boolean, out: { answered: number; lost: number }): void {
    let lostNow = cols.timeouts[slot];
    const errs = cols.errorColumns;
    for (let e = 0; e < errs.length; e++) lostNow += errs[e][slot];
    out.answered = tracked ? diff32(mod32(cols.received[slot]), this.baseAnswered[slot]) : cols.received[slot];
    out.lost = tracked ? diff32(mod32(lostNow), this.baseLost[slot]) : lostNow;
  }

  /**
   * Add a slot's periods that ended after `sinceMs` to `acc` (counts, and their
   * percentiles into the mixture weighted by answered probes), plus the counts of its
   * open period, so loss is live; the open period's RTTs join at its close (a group's
   * p99 stays a pass over stored bytes, cheap for 100k targets). Pass the store's
   * liveColumns() when calling it for many slots.
   */
  accumulate(slot: number, sinceMs: number, acc: Accumulator, cols: LiveColumns = this.store.liveColumns()): void {
    if (slot >= cols.highWater || cols.defined[slot] !== 1) return;
    const tracked = this.tracks(slot, cols);
    if (tracked) {
      const w = acc.weights;
      const P = this.points;
      const cap = this.capacity;
      for (let seq = this.startSeq(slot, sinceMs); seq < this.openSeq; seq++) {
        const pos = seq % P;
        if (this.periodSeq[pos] !== seq || !(this.periodEnd[pos] > sinceMs)) continue;
        const i = pos * cap + slot;
        const a = this.answered[i];
        acc.answered += a;
        acc.lost += this.lost[i];
        if (a > 0) {
          w[this.p50[i]] += a * MIXTURE_WEIGHTS[0];
          w[this.p90[i]] += a * MIXTURE_WEIGHTS[1];
          w[this.p99[i]] += a * MIXTURE_WEIGHTS[2];
        }
      }
    }
    this.openCounts(slot, cols, tracked, this.counts);
    acc.answered += this.counts.answered;
    acc.lost += this.counts.lost;
  }

  /**
   * One target's q-quantile over its periods that ended after `sinceMs`, from the
   * same mixture as accumulate() (NaN when nothing was answered). Cheap enough to run
   * for every target of a large fleet once per close: it touches only the codes the
   * target used. `scratch` comes from newQuantileScratch() and is reused.
   */
  windowQuantile(slot: number, sinceMs: number, q: number, cols: LiveColumns, scratch: QuantileScratch): number {
    if (slot >= cols.highWater || cols.defined[slot] !== 1 || !this.tracks(slot, cols)) return NaN;
    const { weights, touched } = scratch;
    let n = 0;
    let total = 0;
    const P = this.points;
    const cap = this.capacity;
    for (let seq = this.startSeq(slot, sinceMs); seq < this.openSeq; seq++) {
      const pos = seq % P;
      if (this.periodSeq[pos] !== seq || !(this.periodEnd[pos] > sinceMs)) continue;
      const i = pos * cap + slot;
      const a = this.answered[i];
      if (a === 0) continue;
      total += a;
      for (let k = 0; k < 3; k++) {
        const code = k === 0 ? this.p50[i] : k === 1 ? this.p90[i] : this.p99[i];
        if (weights[code] === 0) {
          // Insertion into the sorted list of codes used (a few dozen at most).
          let j = n++;
          while (j > 0 && touched[j - 1] > code) {
            touched[j] = touched[j - 1];
            j--;
          }
          touched[j] = code;
        }
        weights[code] += a * MIXTURE_WEIGHTS[k];
      }
    }
    if (n === 0) return NaN;
    const rank = q * total * (1 - 1e-12);
    let run = 0;
    let result = NaN;
    for (let k = 0; k < n; k++) {
      const code = touched[k];
      run += weights[code];
      if (run >= rank && Number.isNaN(result)) result = decodeRtt(code);
      weights[code] = 0;
    }
    return result;
  }

  /**
   * The first period that can have ended after `sinceMs`: a period closes at the
   * first batch after its end boundary, so never before it (the periodEnd check in
   * the loops decides); the ring and the target's first period bound it too.
   */
  private startSeq(slot: number, sinceMs: number): number {
    return Math.max(this.openSeq - this.points, this.firstSeq[slot], Math.floor(sinceMs / this.resolutionMs) - 1);
  }

  /** Scratch space for windowQuantile(). */
  newQuantileScratch(): QuantileScratch {
    return { weights: new Float64Array(RTT_CODE_COUNT), touched: new Uint8Array(RTT_CODE_COUNT) };
  }

  /** Bytes held by the rings (every typed array; the per-point metadata included). */
  memoryBytes(): number {
    let b = 0;
    for (const a of [this.answered, this.lost, this.p50, this.p90, this.p99, this.baseAnswered, this.baseLost, this.baseHist, this.epoch, this.firstSeq])
      b += a.byteLength;
    for (const a of [this.periodSeq, this.periodEnd, this.fleetAnswered, this.fleetLost, this.fleetTargets, ...this.fleetP, this.delta, this.fleetHist])
      b += a.byteLength;
    return b;
  }

  /** Bytes one target slot costs now (what memoryBytes() grows by per slot of capacity). */
  bytesPerTarget(): number {
    return History.bytesPerTarget(this.points, this.stride - 1, this.answered.BYTES_PER_ELEMENT as 1 | 2);
  }

  /**
   * Bytes per target for `points` periods and `buckets` RTT histogram bounds, with
   * answered/lost counts of `countBytes` (1 until a period's count does not fit a byte).
   */
  static bytesPerTarget(points: number, buckets: number, countBytes: 1 | 2 = 1): number {
    return (2 * countBytes + 3) * points + 4 * (buckets + 1) + 4 + 4 + 4 + 8;
  }

  /**
   * The answered and lost rings from Uint8 to Uint16, every stored count kept: the
   * first period with a count above 255 (a target probed more often than every
   * 120 ms with 30 s periods). Never back: one copy in the life of the process.
   */
  private widenCounts(): void {
    this.answered = Uint16Array.from(this.answered);
    this.lost = Uint16Array.from(this.lost);
  }

  /** Slots the rings have room for (grows with the store's high-water mark, by at least a quarter). */
  get slotCapacity(): number {
    return this.capacity;
  }

  private ensureCapacity(n: number): void {
    if (n <= this.capacity) return;
    // Close to what is used (the rings are most of the memory a target costs): a
    // quarter more than before, in steps of 64 slots. Slots only grow on reloads.
    const c = Math.ceil(Math.max(n, this.capacity * 1.25) / 64) * 64;
    const P = this.points;
    const old = this.capacity;
    this.answered = regrid(this.answered, P, old, c);
    this.lost = regrid(this.lost, P, old, c);
    this.p50 = regrid(this.p50, P, old, c);
    this.p90 = regrid(this.p90, P, old, c);
    this.p99 = regrid(this.p99, P, old, c);
    this.baseAnswered = grow(this.baseAnswered, c);
    this.baseLost = grow(this.baseLost, c);
    this.baseHist = grow(this.baseHist, c * this.stride);
    this.epoch = grow(this.epoch, c);
    this.firstSeq = grow(this.firstSeq, c);
    this.capacity = c;
  }
}

/** Add `answered` probes with these percentiles (seconds) to a mixture. */
export function addMixture(acc: Accumulator, answered: number, p50: number, p90: number, p99: number): void {
  const w = acc.weights;
  w[encodeRtt(p50)] += answered * MIXTURE_WEIGHTS[0];
  w[encodeRtt(p90)] += answered * MIXTURE_WEIGHTS[1];
  w[encodeRtt(p99)] += answered * MIXTURE_WEIGHTS[2];
}

/** A position-major ring array with room for `newCap` slots per position (old slots keep their places). */
function regrid<T extends Uint8Array | Uint16Array>(a: T, points: number, oldCap: number, newCap: number): T {
  const b = new (a.constructor as { new (n: number): T })(points * newCap);
  for (let p = 0; p < points && oldCap > 0; p++) b.set(a.subarray(p * oldCap, (p + 1) * oldCap), p * newCap);
  return b;
}

function grow<T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(a: T, n: number): T {
  const b = new (a.constructor as { new (n: number): T })(n);
  b.set(a);
  return b;
}

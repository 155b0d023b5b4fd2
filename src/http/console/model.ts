/**
 * What the web console's API answers, computed from the one store and its history
 * rings (nothing here aggregates probe results on its own): the overview, the live
 * numbers of every target, one target's detail, and this node's row of the matrix.
 *
 * Answers that cost a pass over every target (live columns, overview, matrix rows)
 * are cached for CACHE_MS, so any number of open consoles cost the exporter one pass
 * per second at most, and a console polling while the exporter is busy never makes
 * it do more work than that.
 */
import type { TargetStore } from '../../aggregate/store.js';
import { History, HISTORY_QUANTILES, newAccumulator, mixtureQuantile, addMixture, type Accumulator, type QuantileScratch } from '../../aggregate/history.js';
import { histogramQuantile } from '../../aggregate/histogram-quantile.js';
import { rowCells, type NodeRow } from '../../aggregate/matrix.js';
import { ERROR_REASON_NAMES } from '../../protocol/events.js';
import { parseDuration, formatDuration } from '../../values/duration.js';
import type { WorkerHealth } from '../../metrics/self.js';
import { BUILTIN_LABELS, TargetCatalog, type ConsoleEntry } from './catalog.js';

/** This node as a prober (a row of the matrix). */
export interface NodeIdentity {
  /** Its mesh name (self), else mesh.name, else the host name. */
  name: string;
  /** Its labels: in a mesh, its own peer entry's labels. */
  labels: Record<string, string>;
  /** Mesh mode: the matrix has a row per peer, fetched from the peers. */
  mesh: boolean;
}

/** Another mesh node whose row the matrix fetches. */
export interface PeerAddress {
  name: string;
  /** IP address or host name, as in the peer list. */
  address: string;
  labels: Record<string, string>;
}

/** What the exporter gives the console (read only). */
export interface ConsoleSource {
  store: TargetStore;
  history: History | null;
  /** Changes whenever the target set or a target's state does. */
  generation(): number;
  entries(): ConsoleEntry[];
  /** The /api/v1/status object. */
  status(): Record<string, unknown>;
  workers(): WorkerHealth[];
  node(): NodeIdentity;
  /** The other mesh nodes (empty outside mesh mode). */
  peers(): PeerAddress[];
}

export const CACHE_MS = 1000;
/** Window of the "now" figures of the overview. */
export const NOW_WINDOW_MS = 60_000;
/** Window of each target's RTT p99 in the targets table. */
export const TABLE_P99_WINDOW_MS = 5 * 60_000;
/** Matrix windows offered (those within the history's retention). */
export const MATRIX_WINDOWS = ['1m', '5m', '15m', '1h', '6h', '24h'] as const;

/** A matrix window: a span of history in ms, or "all" (cumulative counters since each target started). */
export type MatrixWindow = number | 'all';

interface Cached<T> {
  at: number;
  key: string;
  value: T;
}

export class ConsoleModel {
  private catalogCache: TargetCatalog | null = null;
  private liveCache: Cached<LiveColumnsView> | null = null;
  private p99Cache: Cached<Float32Array> | null = null;
  private overviewCache: Cached<Record<string, unknown>> | null = null;
  private readonly rowCache = new Map<string, Cached<NodeRow>>();
  private scratch: QuantileScratch | null = null;

  constructor(
    readonly source: ConsoleSource,
    private readonly now: () => number = Date.now,
  ) {}

  catalog(): TargetCatalog {
    const gen = this.source.generation();
    if (this.catalogCache === null || this.catalogCache.generation !== gen) this.catalogCache = new TargetCatalog(gen, this.source.entries());
    return this.catalogCache;
  }

  private quantileScratch(): QuantileScratch {
    const h = this.source.history;
    if (h === null) return { weights: new Float64Array(0), touched: new Uint8Array(0) };
    this.scratch ??= h.newQuantileScratch();
    return this.scratch;
  }

  /** Matrix windows this node can answer (those within retention, and "all"). */
  windows(): string[] {
    const h = this.source.history;
    if (h === null) return ['all'];
    const spans: string[] = MATRIX_WINDOWS.filter((w) => parseDuration(w) <= h.retentionMs && parseDuration(w) >= h.resolutionMs);
    const whole = formatDuration(h.retentionMs);
    if (!spans.includes(whole)) spans.push(whole);
    return [...spans, 'all'];
  }

  /** How a window is written in answers and peer queries ("5m", "all"). */
  static windowText(w: MatrixWindow): string {
    return w === 'all' ? 'all' : formatDuration(w);
  }

  /** A window from the query: a duration within the history's retention, or "all". Throws Error with the reason. */
  parseWindow(v: string | undefined): MatrixWindow {
    const h = this.source.history;
    if (v === undefined || v === '') return h === null ? 'all' : Math.min(5 * 60_000, h.retentionMs);
    if (v === 'all') return 'all';
    if (h === null) throw new Error('history is off (history.retention: 0s): only window=all is available');
    let ms: number;
    try {
      ms = parseDuration(v);
    } catch (e) {
      throw new Error(`window ${(e as Error).message}`, { cause: e });
    }
    if (ms < h.resolutionMs || ms > h.retentionMs)
      throw new Error(
        `window must be between ${formatDuration(h.resolutionMs)} and ${formatDuration(h.retentionMs)} (history.resolution and history.retention), or all`,
      );
    return ms;
  }

  /** Add one slot's probes over a window to `acc`. */
  private accumulateSlot(slot: number, window: MatrixWindow, now: number, acc: Accumulator, cols: ReturnType<TargetStore['liveColumns']>): void {
    if (slot < 0 || slot >= cols.highWater || cols.defined[slot] !== 1) return;
    const h = this.source.history;
    if (window !== 'all' && h !== null) {
      h.accumulate(slot, now - window, acc, cols);
      return;
    }
    // Since the target started: its cumulative counters and histogram.
    let lost = cols.timeouts[slot];
    for (const e of cols.errorColumns) lost += e[slot];
    const answered = cols.received[slot];
    acc.answered += answered;
    acc.lost += lost;
    if (answered > 0) {
      const b = cols.buckets;
      const off = slot * cols.stride;
      addMixture(
        acc,
        answered,
        histogramQuantile(0.5, b, cols.rttBuckets, off),
        histogramQuantile(0.9, b, cols.rttBuckets, off),
        histogramQuantile(0.99, b, cols.rttBuckets, off),
      );
    }
  }

  /**
   * The numbers of every target of the catalog, in its order (cached CACHE_MS):
   * loss ratio of its loss window and last RTT (read from the store each time), and
   * RTT p99 over the closed periods of the last 5 minutes (computed once per period
   * close); seconds, NaN for no data.
   */
  live(): LiveColumnsView {
    const now = this.now();
    const cat = this.catalog();
    const key = String(cat.generation);
    if (this.liveCache && this.liveCache.key === key && now - this.liveCache.at < CACHE_MS) return this.liveCache.value;
    const n = cat.size;
    const buf = new ArrayBuffer(LIVE_HEADER_BYTES + n * 12);
    const head = new Uint32Array(buf, 0, 2);
    head[0] = cat.generation;
    head[1] = n;
    const loss = new Float32Array(buf, LIVE_HEADER_BYTES, n);
    const last = new Float32Array(buf, LIVE_HEADER_BYTES + n * 4, n);
    const p99 = new Float32Array(buf, LIVE_HEADER_BYTES + n * 8, n);
    const store = this.source.store;
    const cols = store.liveColumns();
    const errs = cols.errorColumns;
    for (let i = 0; i < n; i++) {
      const slot = cat.slots[i];
      if (slot < 0 || slot >= cols.highWater || cols.defined[slot] !== 1) {
        loss[i] = last[i] = NaN;
        continue;
      }
      let completed = cols.received[slot] + cols.timeouts[slot];
      for (const e of errs) completed += e[slot];
      loss[i] = completed > 0 ? store.lossRatio(slot) : NaN;
      last[i] = cols.lastRtt[slot];
    }
    p99.set(this.p99Column(cat, now));
    const value = { generation: cat.generation, count: n, buffer: buf, loss, last, p99 };
    this.liveCache = { at: now, key, value };
    return value;
  }

  /** Each target's RTT p99 over the last 5 minutes, recomputed when a period closes (or the targets change). */
  private p99Column(cat: TargetCatalog, now: number): Float32Array {
    const h = this.source.history;
    const key = `${cat.generation}:${h?.closes ?? now}`;
    if (this.p99Cache?.key === key) return this.p99Cache.value;
    const cols = this.source.store.liveColumns();
    const out = new Float32Array(cat.size);
    const scratch = this.quantileScratch();
    for (let i = 0; i < cat.size; i++) {
      const slot = cat.slots[i];
      if (slot < 0 || slot >= cols.highWater || cols.defined[slot] !== 1) out[i] = NaN;
      else
        out[i] =
          h !== null
            ? h.windowQuantile(slot, now - TABLE_P99_WINDOW_MS, 0.99, cols, scratch)
            : histogramQuantile(0.99, cols.buckets, cols.rttBuckets, slot * cols.stride);
    }
    this.p99Cache = { at: now, key, value: out };
    return out;
  }

  /** The overview (cached CACHE_MS). */
  overview(): Record<string, unknown> {
    const now = this.now();
    if (this.overviewCache && now - this.overviewCache.at < CACHE_MS) return this.overviewCache.value;
    const cat = this.catalog();
    const live = this.live();
    const byHealth = { healthy: 0, lossy: 0, down: 0, no_data: 0 };
    const worst: number[] = [];
    const { loss, p99 } = live;
    const worse = (a: number, b: number): boolean => {
      const la = nanLow(loss[a]);
      const lb = nanLow(loss[b]);
      return la !== lb ? la > lb : nanLow(p99[a]) > nanLow(p99[b]);
    };
    const probing = cat.probing;
    for (let i = 0; i < cat.size; i++) {
      if (probing[i] !== 1) continue;
      const l = loss[i];
      if (l !== l) byHealth.no_data++;
      else if (l === 0) byHealth.healthy++;
      else if (l >= 1) byHealth.down++;
      else byHealth.lossy++;
      if (l !== l && p99[i] !== p99[i]) continue;
      // Top 10 by loss, then p99: insertion into a short sorted list.
      if (worst.length < 10 || worse(i, worst[worst.length - 1])) {
        let k = Math.min(worst.length, 9);
        worst[k] = i;
        while (k > 0 && worse(i, worst[k - 1])) {
          worst[k] = worst[k - 1];
          worst[k - 1] = i;
          k--;
        }
      }
    }
    const h = this.source.history;
    const fleetNow = h === null ? this.fleetSinceStart(cat) : fleetRecent(h, now - NOW_WINDOW_MS);
    const status = this.source.status();
    const value: Record<string, unknown> = {
      node: this.source.node(),
      version: status.version,
      mode: status.mode,
      started: status.started,
      ready: status.ready,
      config: status.config,
      last_reload: status.last_reload,
      target_files: status.target_files,
      targets: { total: cat.size, by_state: cat.byState, by_kind: cat.byKind, by_health: byHealth },
      fleet: {
        now: { window_seconds: h === null ? null : NOW_WINDOW_MS / 1000, ...figures(fleetNow) },
        history: h === null ? null : { ...h.fleetSeries(), resolution_seconds: h.resolutionMs / 1000 },
      },
      worst: worst.map((i) => {
        const e = cat.entries[i];
        return { name: e.name, kind: e.kind, address: e.address, loss: num(live.loss[i]), last_rtt: num(live.last[i]), p99: num(live.p99[i]) };
      }),
      workers: this.source.workers(),
      history: this.historyInfo(),
    };
    this.overviewCache = { at: now, key: '', value };
    return value;
  }

  /** Every target's counters since it started, and the RTT percentiles of their summed histogram (history off). */
  private fleetSinceStart(cat: TargetCatalog): Accumulator {
    const acc = newAccumulator();
    const cols = this.source.store.liveColumns();
    const sum = new Float64Array(cols.stride);
    for (let i = 0; i < cat.size; i++) {
      const slot = cat.slots[i];
      if (slot < 0 || slot >= cols.highWater || cols.defined[slot] !== 1) continue;
      acc.answered += cols.received[slot];
      acc.lost += cols.timeouts[slot];
      for (const e of cols.errorColumns) acc.lost += e[slot];
      for (let b = 0; b < cols.stride; b++) sum[b] += cols.rttBuckets[slot * cols.stride + b];
    }
    const q = HISTORY_QUANTILES.map((x) => histogramQuantile(x, cols.buckets, sum));
    if (acc.answered > 0) addMixture(acc, acc.answered, q[0], q[1], q[2]);
    return acc;
  }

  historyInfo(): Record<string, unknown> | null {
    const h = this.source.history;
    if (h === null) return null;
    return {
      retention_seconds: h.retentionMs / 1000,
      resolution_seconds: h.resolutionMs / 1000,
      points: h.points,
      bytes: h.memoryBytes(),
      bytes_per_target: h.bytesPerTarget(),
      closes: h.closes,
      last_close_ms: h.lastCloseDurationMs,
    };
  }

  /** One target's detail, or null when there is no such target. */
  target(name: string): Record<string, unknown> | null {
    const cat = this.catalog();
    const i = cat.indexOf(name);
    if (i === undefined) return null;
    const e = cat.entries[i];
    const store = this.source.store;
    const cols = store.liveColumns();
    const h = this.source.history;
    const has = e.slot >= 0 && e.slot < cols.highWater && cols.defined[e.slot] === 1;
    const base = {
      name: e.name,
      kind: e.kind,
      address: e.address,
      labels: e.labels,
      state: e.state,
      error: e.error ?? null,
      worker: e.worker ?? null,
      ip: e.ip ?? null,
      source: e.source ?? null,
    };
    if (!has) return { ...base, totals: null, history: null, open: null, now: this.now() };
    const s = e.slot;
    const errors: Record<string, number> = {};
    cols.errors.forEach((col, r) => {
      if (col !== undefined && col[s] > 0) errors[ERROR_REASON_NAMES[r] ?? 'unknown'] = col[s];
    });
    const completed = cols.received[s] + cols.timeouts[s] + Object.values(errors).reduce((a, b) => a + b, 0);
    return {
      ...base,
      totals: { sent: cols.sent[s], received: cols.received[s], timeouts: cols.timeouts[s], late: cols.late[s], duplicates: cols.duplicates[s], errors },
      loss_window_ratio: completed > 0 ? store.lossRatio(s) : null,
      last_rtt: num(cols.lastRtt[s]),
      history: h === null ? null : { ...mapNaN(h.series(s)), resolution_seconds: h.resolutionMs / 1000, retention_seconds: h.retentionMs / 1000 },
      open: h === null ? null : mapNaN(h.open(s)),
      now: this.now(),
    };
  }

  /** This node's row of the matrix for a column label and window (cached CACHE_MS per query). */
  localRow(colLabel: string, window: MatrixWindow): NodeRow {
    const now = this.now();
    const cat = this.catalog();
    const key = `${cat.generation}\u0000${colLabel}\u0000${window}`;
    const hit = this.rowCache.get(key);
    if (hit && now - hit.at < CACHE_MS) return hit.value;
    const cols = this.source.store.liveColumns();
    const node = this.source.node();
    const cells = rowCells(cat.groups(colLabel), (i, acc) => this.accumulateSlot(cat.slots[i], window, now, acc, cols));
    const value: NodeRow = { node: node.name, labels: node.labels, cells };
    // Old generations and expired queries go; a handful of live queries stay.
    for (const [k, v] of this.rowCache) if (now - v.at >= CACHE_MS) this.rowCache.delete(k);
    if (this.rowCache.size < 64) this.rowCache.set(key, { at: now, key, value });
    return value;
  }

  /** Labels the matrix can group targets by (columns) and nodes by (rows). */
  matrixLabels(): { cols: string[]; rows: string[] } {
    const cat = this.catalog();
    const rows = new Set<string>(['prober', ...Object.keys(this.source.node().labels)]);
    for (const p of this.source.peers()) for (const k of Object.keys(p.labels)) rows.add(k);
    return { cols: [...BUILTIN_LABELS, ...cat.labelKeys.filter((k) => !(BUILTIN_LABELS as readonly string[]).includes(k))], rows: [...rows] };
  }
}

export const LIVE_HEADER_BYTES = 8;

/** The live numbers of every target (Float32 columns in catalog order) and the buffer they live in. */
export interface LiveColumnsView {
  generation: number;
  count: number;
  buffer: ArrayBuffer;
  loss: Float32Array;
  last: Float32Array;
  p99: Float32Array;
}

function nanLow(v: number): number {
  return Number.isNaN(v) ? -1 : v;
}

function num(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** JSON has no NaN: arrays and fields of numbers with NaN as null. */
function mapNaN<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o))
    out[k] = Array.isArray(v)
      ? (v as unknown[]).map((x) => (typeof x === 'number' && !Number.isFinite(x) ? null : x))
      : typeof v === 'number' && !Number.isFinite(v)
        ? null
        : v;
  return out as T;
}

/**
 * The fleet over its closed periods that ended after `since` (at least the newest
 * one): counts summed, RTT percentiles mixed from each period's exact fleet
 * percentiles, weighted by its answers.
 */
function fleetRecent(h: History, since: number): Accumulator {
  const f = h.fleetSeries();
  const acc = newAccumulator();
  for (let i = f.end.length - 1; i >= 0; i--) {
    if (f.end[i] <= since && i < f.end.length - 1) break;
    acc.answered += f.answered[i];
    acc.lost += f.lost[i];
    if (f.answered[i] > 0) addMixture(acc, f.answered[i], f.p50[i], f.p90[i], f.p99[i]);
  }
  return acc;
}

/** answered, lost, loss and RTT p50/p99 of an accumulator (nulls for no data). */
export function figures(acc: Accumulator): { answered: number; lost: number; loss: number | null; p50: number | null; p99: number | null } {
  const done = acc.answered + acc.lost;
  return {
    answered: acc.answered,
    lost: acc.lost,
    loss: done > 0 ? acc.lost / done : null,
    p50: num(mixtureQuantile(acc, 0.5)),
    p99: num(mixtureQuantile(acc, 0.99)),
  };
}

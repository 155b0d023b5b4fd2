/**
 * The live-stream subscription hub: one per process, in the main thread, fed once per
 * worker batch after the store has merged it. It fans probe results out to the
 * subscribers that selected their targets, adds each selected target's state once per
 * stream.state_interval, and serves full states for ONCE, POLL and the start of STREAM
 * (a target's results follow its state; a result that comes before its target's
 * state is sent is not sent: the state includes it).
 *
 * Cost rules (the streams must never slow probing, scrapes or each other):
 *  - No subscriber: onBatch returns at its first line.
 *  - Subscribers: one typed-array read per record to learn whether any subscriber
 *    selected its slot (a per-slot index, rebuilt only when subscriptions or targets
 *    change); nothing is allocated for unselected slots.
 *  - An event is encoded once per wire format and the same chunk (string or bytes)
 *    is queued for every subscriber of that format; each subscriber gets one write
 *    per batch.
 *  - A subscriber that owes more than stream.max_buffer_bytes when new events are
 *    ready is dropped (reason buffer_full); one that does not drain for
 *    stream.stall_timeout during a full state is dropped (reason stalled). Nothing
 *    ever waits for a client.
 *  - States are spread over the interval (a cursor walks the slots a little on every
 *    batch), like probes, so 10,000 selected targets never become one burst.
 *
 * Transports (SSE route, gRPC service) parse requests and own connections; encoding
 * is a StreamFormat, the connection a StreamSink (src/stream/types.ts).
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { BatchReader } from '../protocol/batch.js';
import type { SlotState } from '../aggregate/store.js';
import { OUTCOME_OF_EVENT } from './outcome.js';
import { Catalog, resolveSelection, type CatalogEntry, type Selection } from './selection.js';
import {
  DROP_REASONS,
  REJECT_REASONS,
  TRANSPORTS,
  eventTime,
  type DropReason,
  type EventTime,
  type Mode,
  type RejectReason,
  type StreamFormat,
  type StreamSink,
  type Transport,
} from './types.js';

export interface HubLimits {
  maxClients: number;
  maxBufferBytes: number;
  stateIntervalMs: number;
  stallTimeoutMs: number;
}

export interface HubOptions {
  /** The current targets (called only when the target set changed and someone subscribes or listens). */
  catalog: () => Iterable<CatalogEntry>;
  /** A target's counters now (the store's slotState). */
  state: (slot: number) => SlotState | undefined;
  /** Read on every use, so a reload applies them. */
  limits: () => HubLimits;
  /** One encoder per transport in use (a transport without one cannot subscribe). */
  formats: { readonly [T in Transport]?: StreamFormat<unknown> };
  /** Wall clock (event times), ms. */
  wallNow?: () => number;
  /** Monotonic clock (state spreading), ms. */
  monoNow?: () => number;
}

/** Refusal of a subscription; `code` doubles as the rejected_total reason. */
export class StreamError extends Error {
  override name = 'StreamError';
  constructor(
    readonly code: Extract<RejectReason, 'limit' | 'not_found'>,
    message: string,
    /** not_found: the target names that do not exist. */
    readonly unknown: readonly string[] = [],
  ) {
    super(message);
  }
}

export interface SubscribeRequest<C> {
  selection: Selection;
  mode: Mode;
  sink: StreamSink<C>;
}

export class Subscription {
  /** Sorted store slots of the selected targets (re-resolved when targets change). */
  slots: Uint32Array;
  closed = false;
  /** Sending a full state (see syncedBelow for what results it takes meanwhile). */
  syncing = false;
  /** A POLL arrived while a full state was being sent: send another after it. */
  pollAgain = false;
  /** Events of the current batch, written once at its end. */
  pending: unknown[] = [];
  touched = false;
  /**
   * While syncing: states of the slots below this one have been read and sent. A
   * result for such a slot is written at once (after its target's state, so each
   * target's events stay in order); a result for a slot at or above it is left out:
   * the state read later includes it.
   */
  syncedBelow = 0;

  constructor(
    readonly id: number,
    readonly transport: Transport,
    /** Index of the transport in TRANSPORTS: which slot of a per-event encoding cache is its format's. */
    readonly fi: number,
    readonly mode: Mode,
    readonly selection: Selection,
    readonly format: StreamFormat<unknown>,
    readonly sink: StreamSink<unknown>,
    slots: Uint32Array,
  ) {
    this.slots = slots;
  }
}

/** Events per full-state chunk: small enough to yield to the event loop between chunks. */
const STATE_CHUNK = 256;
/** Batch records fanned out between two looks at the clock. */
const SLICE_RECORDS = 256;
/** How long one slice of fan-out may hold the main thread before it yields. */
const SLICE_MS = 2;

/** Counters for the self metrics (read at scrape time). */
export class HubStats {
  readonly events: Record<Transport, number> = { sse: 0, grpc: 0 };
  readonly dropped: Record<Transport, Record<DropReason, number>>;
  readonly rejected: Record<Transport, Record<RejectReason, number>>;

  constructor() {
    const zero = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
    this.dropped = { sse: zero(DROP_REASONS), grpc: zero(DROP_REASONS) };
    this.rejected = { sse: zero(REJECT_REASONS), grpc: zero(REJECT_REASONS) };
  }
}

export class StreamHub {
  readonly stats = new HubStats();
  private readonly subs = new Set<Subscription>();
  private readonly clientsBy: Record<Transport, number> = { sse: 0, grpc: 0 };
  /** Subscriptions in stream mode (the only ones that take per-batch events). */
  private streaming = 0;
  private nextId = 1;

  private catalog: Catalog = new Catalog([]);
  private catalogDirty = true;
  /** Per slot: the streaming subscriptions that selected it. */
  private index: (Subscription[] | undefined)[] = [];
  private indexDirty = true;

  /** State spreading: next slot, fractional slots owed, time of the last step. */
  private stateCursor = 0;
  private stateCredit = 0;
  private lastStateStep = NaN;

  private readonly touched: Subscription[] = [];
  /** Indexed like TRANSPORTS (undefined: transport not in use). */
  private readonly formatList: (StreamFormat<unknown> | undefined)[];
  private readonly wallNow: () => number;
  private readonly monoNow: () => number;
  private closing = false;

  constructor(private readonly opts: HubOptions) {
    this.formatList = TRANSPORTS.map((t) => opts.formats[t]);
    this.wallNow = opts.wallNow ?? Date.now;
    this.monoNow = opts.monoNow ?? (() => performance.now());
  }

  /** Whether subscribe() would accept one more subscriber now. */
  hasRoom(): boolean {
    return !this.closing && this.subs.size < this.opts.limits().maxClients;
  }

  /** Connected subscribers of a transport. */
  clients(transport: Transport): number {
    return this.clientsBy[transport];
  }

  get size(): number {
    return this.subs.size;
  }

  /** The target set changed (reload, DNS): selections are resolved again before the next use. */
  targetsChanged(): void {
    this.catalogDirty = true;
    this.indexDirty = true;
  }

  /** A transport refused a request before it reached subscribe() (bad request, missing token). */
  countRejected(transport: Transport, reason: RejectReason): void {
    this.stats.rejected[transport][reason]++;
  }

  /** Check a selection without subscribing (a transport may want to answer 404 before it commits to a stream). */
  resolve(selection: Selection): Uint32Array {
    this.ensureCatalog();
    const r = resolveSelection(selection, this.catalog, true);
    if (!r.ok) throw new StreamError('not_found', r.message, r.unknown);
    return r.slots;
  }

  /**
   * Register a subscriber and start it: ONCE sends every selected target's state and
   * ends; STREAM sends the states, a sync marker, then results and periodic states;
   * POLL sends states and a sync marker on every poll(). Throws StreamError (counted).
   */
  subscribe<C>(transport: Transport, req: SubscribeRequest<C>): Subscription {
    if (!this.hasRoom()) {
      this.stats.rejected[transport].limit++;
      throw new StreamError(
        'limit',
        this.closing ? 'the server is shutting down' : `too many stream subscribers (stream.max_clients = ${this.opts.limits().maxClients})`,
      );
    }
    let slots: Uint32Array;
    try {
      slots = this.resolve(req.selection);
    } catch (e) {
      this.stats.rejected[transport].not_found++;
      throw e;
    }
    const format = this.opts.formats[transport];
    if (format === undefined) throw new Error(`no stream format for transport ${transport}`);
    const sub = new Subscription(this.nextId++, transport, TRANSPORTS.indexOf(transport), req.mode, req.selection, format, req.sink, slots);
    this.subs.add(sub);
    this.clientsBy[transport]++;
    if (sub.mode === 'stream') {
      if (this.streaming++ === 0) this.lastStateStep = this.monoNow();
      this.indexDirty = true;
    }
    req.sink.onClose(() => this.remove(sub));
    if (sub.mode !== 'poll') void this.sendFullState(sub);
    else this.poll(sub);
    return sub;
  }

  /** A POLL request: the current state of every selected target, then a sync marker. Polls during one coalesce. */
  poll(sub: Subscription): void {
    if (sub.closed) return;
    if (sub.syncing) {
      sub.pollAgain = true;
      return;
    }
    void this.sendFullState(sub);
  }

  /**
   * Merge point: called once per batch, after the store applied it. The fan-out runs
   * in slices of about SLICE_MS with a turn of the event loop between them, so a large
   * batch never holds the main thread (scrapes, the API, other batches) for long; the
   * batch is kept until done, and batches are fanned out in arrival order.
   */
  onBatch(buf: ArrayBuffer): void {
    if (this.streaming === 0) return;
    this.work.push({ reader: new BatchReader(buf), next: 0, time: null });
    if (!this.sliceScheduled) this.runSlice();
  }

  private readonly work: { reader: BatchReader; next: number; time: EventTime | null }[] = [];
  private sliceScheduled = false;
  private readonly continueSlices = (): void => {
    this.sliceScheduled = false;
    this.runSlice();
  };

  private runSlice(): void {
    const deadline = this.monoNow() + SLICE_MS;
    while (this.work.length > 0) {
      if (this.streaming === 0) {
        this.work.length = 0;
        break;
      }
      const w = this.work[0];
      // At least one step per slice, so a slow clock or machine still makes progress.
      const end = Math.min(w.reader.count, w.next + SLICE_RECORDS);
      w.time ??= eventTime(this.wallNow());
      this.fanOut(w.reader, w.next, end, w.time);
      w.next = end;
      if (end === w.reader.count) {
        // One write per subscriber per batch, at its end (not per slice: fewer syscalls).
        this.work.shift();
        this.stepStates();
        this.flushTouched();
      }
      if (this.monoNow() >= deadline) break;
    }
    if (this.work.length > 0) {
      this.sliceScheduled = true;
      setImmediate(this.continueSlices);
    }
  }

  /** Queue results of records [from, to) of a batch for the subscribers that selected them. */
  private fanOut(r: BatchReader, from: number, to: number, time: EventTime): void {
    this.ensureIndex();
    const idx = this.index;
    const n = idx.length;
    const encoded = this.encoded;
    for (let i = from; i < to; i++) {
      const outcome = OUTCOME_OF_EVENT[r.event(i)];
      if (outcome === 0) continue;
      const slot = r.slot(i);
      if (slot >= n) continue;
      const subs = idx[slot];
      if (subs === undefined) continue;
      for (let f = 0; f < encoded.length; f++) encoded[f] = undefined;
      for (let k = 0; k < subs.length; k++) {
        const s = subs[k];
        if (s.syncing && slot >= s.syncedBelow) continue;
        let c = encoded[s.fi];
        if (c === undefined) encoded[s.fi] = c = s.format.result(slot, outcome, r.value(i), r.reason(i), time);
        this.enqueue(s, c);
      }
    }
  }

  /** Per-record cache: one encoded chunk per format. */
  private readonly encoded: unknown[] = new Array(TRANSPORTS.length).fill(undefined);

  /** End every subscription (server shutdown). */
  close(): void {
    this.closing = true;
    for (const s of [...this.subs]) {
      if (s.closed) continue;
      this.remove(s);
      s.sink.shutdown();
    }
  }

  // --- internals -----------------------------------------------------------------

  private ensureCatalog(): void {
    if (!this.catalogDirty) return;
    this.catalogDirty = false;
    this.catalog = new Catalog([...this.opts.catalog()]);
    for (const f of this.formatList) f?.setCatalog(this.catalog);
    for (const s of this.subs) {
      const r = resolveSelection(s.selection, this.catalog, false);
      s.slots = r.ok ? r.slots : new Uint32Array(0);
    }
    this.indexDirty = true;
  }

  private ensureIndex(): void {
    this.ensureCatalog();
    if (!this.indexDirty) return;
    this.indexDirty = false;
    const idx = new Array<Subscription[] | undefined>(this.catalog.highWater);
    for (const s of this.subs) {
      if (s.mode !== 'stream' || s.closed) continue;
      for (const slot of s.slots) (idx[slot] ??= []).push(s);
    }
    this.index = idx;
    if (this.stateCursor >= idx.length) this.stateCursor = 0;
  }

  private enqueue(s: Subscription, chunk: unknown): void {
    s.pending.push(chunk);
    if (!s.touched) {
      s.touched = true;
      this.touched.push(s);
    }
  }

  /** Emit the states owed since the last step: highWater slots per state_interval. */
  private stepStates(): void {
    const idx = this.index;
    const n = idx.length;
    const now = this.monoNow();
    const elapsed = now - this.lastStateStep;
    this.lastStateStep = now;
    if (n === 0 || !(elapsed > 0)) return;
    this.stateCredit += (n * elapsed) / this.opts.limits().stateIntervalMs;
    let k = Math.floor(this.stateCredit);
    if (k <= 0) return;
    if (k >= n) {
      k = n;
      this.stateCredit = 0;
    } else {
      this.stateCredit -= k;
    }
    let time: ReturnType<typeof eventTime> | null = null;
    const formats = this.formatList;
    const encoded: unknown[] = new Array(formats.length);
    let slot = this.stateCursor;
    for (; k > 0; k--) {
      const subs = idx[slot];
      if (subs !== undefined) {
        const st = this.opts.state(slot);
        if (st !== undefined) {
          time ??= eventTime(this.wallNow());
          encoded.fill(undefined);
          for (const s of subs) {
            // A subscriber being synced gets this target's state from the sync itself.
            if (s.syncing) continue;
            let c = encoded[s.fi];
            if (c === undefined) encoded[s.fi] = c = s.format.state(slot, st, time);
            this.enqueue(s, c);
          }
        }
      }
      if (++slot >= n) slot = 0;
    }
    this.stateCursor = slot;
  }

  private flushTouched(): void {
    const max = this.opts.limits().maxBufferBytes;
    for (const s of this.touched) {
      s.touched = false;
      if (s.closed) continue;
      if (s.sink.backlog() >= max) {
        s.pending.length = 0;
        this.drop(s, 'buffer_full');
        continue;
      }
      this.stats.events[s.transport] += s.pending.length;
      s.sink.write(s.pending);
      s.pending.length = 0;
    }
    this.touched.length = 0;
  }

  /**
   * Every selected target's state (read now), in chunks with a turn of the event loop
   * between them, waiting for the client to drain whenever it owes max_buffer_bytes;
   * then the sync marker. ONCE ends after it. The writer keeps the backlog under half
   * of max_buffer_bytes, so a STREAM subscriber that reads has room for the results
   * written meanwhile; one that does not read is dropped like any other.
   */
  private async sendFullState(sub: Subscription): Promise<void> {
    sub.syncing = true;
    sub.pollAgain = false;
    // Nothing is written before the caller of subscribe() has finished its turn
    // (the SSE route answers 429/404 with a normal reply, then commits to the stream).
    await Promise.resolve();
    try {
      for (;;) {
        if (!(await this.writeStates(sub))) return;
        // Polls that came while this state was being sent get one more, not one each.
        if (!sub.pollAgain || sub.closed) break;
        sub.pollAgain = false;
      }
    } finally {
      sub.syncing = false;
    }
    if (sub.closed) return;
    if (sub.mode === 'once') {
      this.remove(sub);
      sub.sink.end();
    }
  }

  /** Returns false when the subscription ended meanwhile. */
  private async writeStates(sub: Subscription): Promise<boolean> {
    const slots = sub.slots;
    const chunk: unknown[] = [];
    sub.syncedBelow = 0;
    for (let i = 0; i < slots.length;) {
      if (sub.closed) return false;
      this.ensureCatalog();
      const time = eventTime(this.wallNow());
      const maxBytes = this.opts.limits().maxBufferBytes / 4;
      let bytes = 0;
      for (const end = Math.min(slots.length, i + STATE_CHUNK); i < end && bytes < maxBytes; i++) {
        const st = this.opts.state(slots[i]);
        if (st !== undefined && this.catalog.bySlot[slots[i]] !== undefined) {
          const c = sub.format.state(slots[i], st, time);
          bytes += sub.format.size(c);
          chunk.push(c);
        }
      }
      // Slots are sorted: every slot below the next one has its state now.
      sub.syncedBelow = i < slots.length ? slots[i] : Infinity;
      this.stats.events[sub.transport] += chunk.length;
      sub.sink.write(chunk);
      chunk.length = 0;
      if (!(await this.settle(sub))) return false;
    }
    if (sub.closed) return false;
    sub.sink.write([sub.format.sync()]);
    return true;
  }

  /** Let the loop turn; if the client owes half its bound, wait for it to drain (bounded by stall_timeout). */
  private async settle(sub: Subscription): Promise<boolean> {
    await yieldToLoop();
    if (sub.closed) return false;
    const limits = this.opts.limits();
    if (sub.sink.backlog() < limits.maxBufferBytes / 2) return true;
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<'stalled'>((resolve) => {
      timer = setTimeout(() => resolve('stalled'), limits.stallTimeoutMs);
      timer.unref();
    });
    // Results keep coming while a STREAM subscriber syncs: wait for room, not for an empty backlog.
    const outcome = await Promise.race([sub.sink.below(limits.maxBufferBytes / 4).then(() => 'drained' as const), stalled]);
    clearTimeout(timer);
    if (sub.closed) return false;
    if (outcome === 'stalled') {
      this.drop(sub, 'stalled');
      return false;
    }
    return true;
  }

  private drop(sub: Subscription, reason: DropReason): void {
    if (sub.closed) return;
    this.stats.dropped[sub.transport][reason]++;
    this.remove(sub);
    sub.sink.drop(reason);
  }

  private remove(sub: Subscription): void {
    if (sub.closed) return;
    sub.closed = true;
    sub.pending.length = 0;
    this.subs.delete(sub);
    this.clientsBy[sub.transport]--;
    if (sub.mode === 'stream') {
      this.streaming--;
      this.indexDirty = true;
    }
  }
}

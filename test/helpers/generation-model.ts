/**
 * A model of the target update protocol for test/unit/generations.test.ts: the
 * acknowledged-generation rules (src/protocol/generations.ts) over EVERY interleaving
 * of a small system: a main thread (slots, quarantine, counting) and two
 * workers (apply updates, write records, ship batches, crash and restart), with FIFO
 * queues between them, as the real ports are. Each record carries the identity of the
 * target it was really written for; the invariant is that a record counted on a slot
 * is always about the target the slot holds at that moment.
 *
 * The model takes its decisions from the same pure functions the store, registry and
 * supervisor use (recordCounts, slotReusable, acknowledgedByAll). Variants of the
 * rules show what each part is for: the old rules ("two updates later", no
 * generations) and every rule left out on its own are found wrong by the same search.
 */
import { acknowledgedByAll, recordCounts, slotReusable } from '../../src/protocol/generations.js';

export interface Rules {
  /** Rule 1: drop records of batches older than the slot's definition. */
  fence: boolean;
  /** When a freed slot may be reused. */
  reuse: 'acknowledged' | 'two_updates_later' | 'at_once';
  /** A worker ships its pending records before it applies an update. */
  flushBeforeApply: boolean;
  /** Operations the main thread may do: in-place redefinition gives a slot a new target without freeing it. */
  redefineInPlace: boolean;
}

export interface Limits {
  workers: number;
  slots: number;
  updates: number;
  records: number;
  crashes: number;
}

type Rec = [slot: number, id: number];
interface Update {
  gen: number;
  upsert: Rec[];
  remove: number[];
}
interface Batch {
  gen: number;
  records: Rec[];
}
interface Worker {
  alive: boolean;
  applied: number;
  shipped: number;
  targets: Rec[];
  pending: Rec[];
  inbox: Update[];
  outbox: Batch[];
}
interface SlotState {
  id: number;
  gen: number;
  worker: number;
}
interface State {
  gen: number;
  updatesLeft: number;
  recordsLeft: number;
  crashesLeft: number;
  nextId: number;
  slots: (SlotState | null)[];
  freed: Array<{ slot: number; at: number }>;
  acks: number[];
  workers: Worker[];
}

export interface Outcome {
  states: number;
  violation: string | null;
  staleDropped: boolean;
  reused: boolean;
}

const recs = (a: Rec[]): Rec[] => a.map((r) => [r[0], r[1]]);

/** A deep copy (by hand: structuredClone made the search five times slower). */
function clone(s: State): State {
  return {
    gen: s.gen,
    updatesLeft: s.updatesLeft,
    recordsLeft: s.recordsLeft,
    crashesLeft: s.crashesLeft,
    nextId: s.nextId,
    slots: s.slots.map((x) => (x === null ? null : { id: x.id, gen: x.gen, worker: x.worker })),
    freed: s.freed.map((f) => ({ slot: f.slot, at: f.at })),
    acks: s.acks.slice(),
    workers: s.workers.map((w) => ({
      alive: w.alive,
      applied: w.applied,
      shipped: w.shipped,
      targets: recs(w.targets),
      pending: recs(w.pending),
      inbox: w.inbox.map((u) => ({ gen: u.gen, upsert: recs(u.upsert), remove: u.remove.slice() })),
      outbox: w.outbox.map((b) => ({ gen: b.gen, records: recs(b.records) })),
    })),
  };
}

/** A compact key of a state, for the set of states already seen. */
function keyOf(s: State): string {
  const r = (a: Rec[]): string => a.map((x) => `${x[0]}.${x[1]}`).join(',');
  let k = `${s.gen}|${s.updatesLeft}${s.recordsLeft}${s.crashesLeft}|${s.nextId}|`;
  for (const x of s.slots) k += x === null ? '_;' : `${x.id}.${x.gen}.${x.worker};`;
  k += '|';
  for (const f of s.freed) k += `${f.slot}.${f.at};`;
  k += `|${s.acks.join(',')}`;
  for (const w of s.workers) {
    k += `|${w.alive ? 1 : 0}.${w.applied}.${w.shipped}[${r(w.targets)}][${r(w.pending)}]`;
    for (const u of w.inbox) k += `u${u.gen}(${r(u.upsert)}/${u.remove.join(',')})`;
    for (const b of w.outbox) k += `b${b.gen}(${r(b.records)})`;
  }
  return k;
}

function initial(l: Limits): State {
  return {
    gen: 0,
    updatesLeft: l.updates,
    recordsLeft: l.records,
    crashesLeft: l.crashes,
    nextId: 1,
    slots: [],
    freed: [],
    acks: new Array<number>(l.workers).fill(0),
    workers: Array.from({ length: l.workers }, () => ({ alive: true, applied: 0, shipped: 0, targets: [], pending: [], inbox: [], outbox: [] })),
  };
}

/** The worker's whole current set, from the main thread's slots (what a restarted worker gets). */
function assignment(s: State, w: number): Rec[] {
  const out: Rec[] = [];
  s.slots.forEach((x, slot) => {
    if (x !== null && x.worker === w) out.push([slot, x.id]);
  });
  return out;
}

/** A slot for a new target under the reuse rule, or -1 when none is free. */
function allocate(s: State, rules: Rules, l: Limits, newGen: number, seen: Seen): number {
  const acked = acknowledgedByAll(
    s.workers.map((w, i) => (w.alive ? s.acks[i] : s.gen)),
    s.gen,
  );
  for (let k = 0; k < s.freed.length; k++) {
    const f = s.freed[k];
    const ok = rules.reuse === 'at_once' || (rules.reuse === 'acknowledged' ? slotReusable(f.at, acked) : newGen - f.at >= 2);
    if (ok) {
      s.freed.splice(k, 1);
      seen.reused = true;
      return f.slot;
    }
  }
  return s.slots.length < l.slots ? s.slots.push(null) - 1 : -1;
}

type Op = { kind: 'add'; worker: number } | { kind: 'remove'; slot: number } | { kind: 'redefine'; slot: number; worker: number };

/** One update of the main thread; null when the op is impossible now. */
function update(s0: State, op: Op, rules: Rules, l: Limits, seen: Seen): State | null {
  const s = clone(s0);
  const gen = s.gen + 1;
  const deltas = s.workers.map(() => ({ upsert: [] as Rec[], remove: [] as number[] }));
  if (op.kind === 'add') {
    const slot = allocate(s, rules, l, gen, seen);
    if (slot < 0) return null;
    const id = s.nextId++;
    s.slots[slot] = { id, gen, worker: op.worker };
    deltas[op.worker].upsert.push([slot, id]);
  } else {
    const cur = s.slots[op.slot];
    if (cur == null) return null;
    deltas[cur.worker].remove.push(op.slot);
    if (op.kind === 'remove') {
      s.slots[op.slot] = null;
      s.freed.push({ slot: op.slot, at: gen });
    } else {
      const id = s.nextId++;
      s.slots[op.slot] = { id, gen, worker: op.worker };
      deltas[op.worker].upsert.push([op.slot, id]);
    }
  }
  s.gen = gen;
  s.updatesLeft--;
  s.workers.forEach((w, i) => {
    if (w.alive) w.inbox.push({ gen, upsert: deltas[i].upsert, remove: deltas[i].remove });
  });
  return s;
}

function ship(w: Worker): void {
  w.outbox.push({ gen: w.applied, records: w.pending });
  w.shipped = w.applied;
  w.pending = [];
}

/** What the search has seen happen (across all states). */
interface Seen {
  violation: string | null;
  staleDropped: boolean;
  reused: boolean;
}

/** Every state reachable in one step; what happened on the way goes into `seen`. */
function successors(s: State, rules: Rules, l: Limits, seen: Seen): State[] {
  const onCount = (what: 'counted' | 'stale' | 'unknown', ok: boolean, detail: string): void => {
    if (what === 'stale') seen.staleDropped = true;
    if (!ok && seen.violation === null) seen.violation = detail;
  };
  const out: State[] = [];
  if (s.updatesLeft > 0) {
    const ops: Op[] = [];
    for (let w = 0; w < l.workers; w++) ops.push({ kind: 'add', worker: w });
    s.slots.forEach((x, slot) => {
      if (x === null) return;
      ops.push({ kind: 'remove', slot });
      if (rules.redefineInPlace) for (let w = 0; w < l.workers; w++) ops.push({ kind: 'redefine', slot, worker: w });
    });
    for (const op of ops) {
      const n = update(s, op, rules, l, seen);
      if (n) out.push(n);
    }
  }
  s.workers.forEach((w0, i) => {
    if (w0.alive && w0.inbox.length > 0) {
      const n = clone(s);
      const w = n.workers[i];
      const u = w.inbox.shift()!;
      if (rules.flushBeforeApply && w.pending.length > 0) ship(w);
      w.targets = w.targets.filter(([slot]) => !u.remove.includes(slot) && !u.upsert.some(([s2]) => s2 === slot));
      w.targets.push(...u.upsert);
      w.targets.sort((a, b) => a[0] - b[0]);
      w.applied = u.gen;
      out.push(n);
    }
    if (w0.alive && s.recordsLeft > 0) {
      for (const t of w0.targets) {
        const n = clone(s);
        n.recordsLeft--;
        n.workers[i].pending.push([t[0], t[1]]);
        out.push(n);
      }
    }
    if (w0.alive && (w0.pending.length > 0 || w0.applied > w0.shipped)) {
      const n = clone(s);
      ship(n.workers[i]);
      out.push(n);
    }
    if (w0.outbox.length > 0) {
      const n = clone(s);
      const b = n.workers[i].outbox.shift()!;
      n.acks[i] = Math.max(n.acks[i], b.gen);
      for (const [slot, id] of b.records) {
        const cur = n.slots[slot];
        if (cur == null) onCount('unknown', true, '');
        else if (rules.fence && !recordCounts(b.gen, cur.gen)) onCount('stale', true, '');
        else
          onCount(
            'counted',
            cur.id === id,
            `record of target ${id} (batch of generation ${b.gen} from worker ${i}) counted on slot ${slot}, which holds target ${cur.id} since generation ${cur.gen}`,
          );
      }
      out.push(n);
    }
    if (w0.alive && s.crashesLeft > 0) {
      // The thread ends: whatever it had not delivered is never read (its port is dropped).
      const n = clone(s);
      n.crashesLeft--;
      n.workers[i] = { alive: false, applied: 0, shipped: 0, targets: [], pending: [], inbox: [], outbox: [] };
      out.push(n);
    }
    if (!w0.alive) {
      // The replacement gets the whole current set at the current generation.
      const n = clone(s);
      n.workers[i] = { alive: true, applied: n.gen, shipped: n.gen, targets: assignment(n, i), pending: [], inbox: [], outbox: [] };
      n.acks[i] = n.gen;
      out.push(n);
    }
  });
  return out;
}

/** Breadth-first search of every reachable state; stops at the first violation. */
export function explore(rules: Rules, l: Limits): Outcome {
  const seen = new Set<string>();
  let frontier = [initial(l)];
  seen.add(keyOf(frontier[0]));
  const outcome: Outcome = { states: 1, violation: null, staleDropped: false, reused: false };
  while (frontier.length > 0 && outcome.violation === null) {
    const next: State[] = [];
    for (const s of frontier) {
      for (const n of successors(s, rules, l, outcome)) {
        const key = keyOf(n);
        if (seen.has(key)) continue;
        seen.add(key);
        next.push(n);
      }
    }
    outcome.states += next.length;
    frontier = next;
  }
  return outcome;
}

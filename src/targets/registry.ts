/**
 * Target name -> store slot, and the ShardTargets the workers get.
 *
 * Slots are small integers indexing the main thread's typed-array store. A slot holds
 * one target (one identity, targets/key.ts) from the update that puts it there to the
 * update that frees it. A name whose identity changes (another kind or address) is a
 * new target: its old slot is freed and it gets another, so the old series end and the
 * new ones start from zero.
 *
 * Every update has a generation (1, 2, ...). A freed slot is quarantined until every
 * worker has acknowledged the generation that freed it (src/protocol/generations.ts,
 * rule 2): the caller passes the generation all workers have acknowledged to update(),
 * however close together updates come.
 *
 * Every configured target has a slot, resolved or not (its "cannot resolve" state is
 * reported against it); only resolved targets become ShardTargets.
 */
import { slotReusable } from '../protocol/generations.js';
import { sameTarget } from './key.js';
import type { ShardTarget, TargetSpec } from './model.js';
import type { Resolution } from './resolve.js';
import { parseHostPort, parseHttpUrl } from './address.js';
import { splayPhase } from './partition.js';

export interface RegistryEntry {
  slot: number;
  spec: TargetSpec;
  resolution: Resolution | undefined;
  /** What the worker probes, or null while the target has no usable address. */
  shard: ShardTarget | null;
}

export interface RegistryDiff {
  /** Update counter, starting at 1. */
  generation: number;
  /** Targets new in this update (new names, and names whose identity changed). */
  added: RegistryEntry[];
  /** Targets gone (names gone, and the old identity of names whose identity changed); their slots are quarantined. */
  removed: Array<{ name: string; slot: number }>;
  /** Targets of the same identity whose spec or resolution changed (shard null: no longer probeable). */
  changed: RegistryEntry[];
  /** Quarantined slots that became free in this update (every worker acknowledged their release). */
  released: number;
}

/** ShardTarget for a spec and its resolution; null when it cannot be probed yet. */
export function toShardTarget(slot: number, spec: TargetSpec, res: Resolution | undefined): ShardTarget | null {
  if (res === undefined || res.status !== 'ok') return null;
  let port = 0;
  let url: string | undefined;
  if (spec.kind === 'http') {
    const u = parseHttpUrl(spec.url);
    if (typeof u === 'string') return null;
    port = u.port;
    url = u.url;
  } else if (spec.kind !== 'icmp') {
    const hp = parseHostPort(spec.address);
    if (typeof hp === 'string') return null;
    port = hp.port;
  }
  const t: ShardTarget = {
    slot,
    name: spec.name,
    kind: spec.kind,
    ip: res.ip,
    family: res.family,
    port,
    intervalMs: spec.intervalMs,
    phaseMs: splayPhase(spec.name, spec.intervalMs),
    timeoutMs: spec.timeoutMs,
    payloadSize: spec.payloadSize,
    options: spec.options,
  };
  if (url !== undefined) t.url = url;
  return t;
}

/** Same keys and values (one level; values are strings, numbers, booleans, or flat objects). */
function sameRecord(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  if (a === b) return true;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    const x = a[k];
    const y = b[k];
    if (x === y) continue;
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false;
    if (!sameRecord(x as Record<string, unknown>, y as Record<string, unknown>)) return false;
  }
  return true;
}

/**
 * Everything of a spec that matters to probing and labelling (not `source`) is equal.
 * Compared field by field rather than through a JSON key per target: a reload of a
 * 500k-target file would otherwise stringify every spec and keep 500k keys around.
 */
export function sameSpec(a: TargetSpec, b: TargetSpec): boolean {
  return (
    a.kind === b.kind &&
    a.address === b.address &&
    a.url === b.url &&
    a.intervalMs === b.intervalMs &&
    a.timeoutMs === b.timeoutMs &&
    a.payloadSize === b.payloadSize &&
    a.lossWindow === b.lossWindow &&
    sameRecord(a.labels, b.labels) &&
    sameRecord(a.options, b.options)
  );
}

function sameShard(a: ShardTarget | null, b: ShardTarget | null): boolean {
  if (a === null || b === null) return a === b;
  return a.ip === b.ip && a.family === b.family && a.port === b.port && a.phaseMs === b.phaseMs;
}

export class TargetRegistry {
  #byName = new Map<string, RegistryEntry>();
  #generation = 0;
  #highWater = 0;
  /** Free slots usable now, kept sorted descending so pop() gives the lowest. */
  #ready: number[] = [];
  /** Slots freed, with the generation that freed them (in generation order). */
  #quarantine: Array<{ slot: number; freedAt: number }> = [];

  /** One more than the highest slot ever handed out: the size the store must have. */
  get highWaterMark(): number {
    return this.#highWater;
  }

  get generation(): number {
    return this.#generation;
  }

  get size(): number {
    return this.#byName.size;
  }

  slotOf(name: string): number | undefined {
    return this.#byName.get(name)?.slot;
  }

  get(name: string): RegistryEntry | undefined {
    return this.#byName.get(name);
  }

  entries(): IterableIterator<RegistryEntry> {
    return this.#byName.values();
  }

  /** ShardTargets of every resolved target. */
  shardTargets(): ShardTarget[] {
    const out: ShardTarget[] = [];
    for (const e of this.#byName.values()) if (e.shard) out.push(e.shard);
    return out;
  }

  /** Slots waiting for every worker to acknowledge their release. */
  get quarantined(): number {
    return this.#quarantine.length;
  }

  /**
   * Replace the target set. `resolve(name)` gives each target's current resolution.
   * Names must be unique (dedupe before). `acknowledged`: the generation every worker
   * has acknowledged (generations.ts, rule 3); slots freed at or before it are free
   * again.
   */
  update(specs: readonly TargetSpec[], resolve: (name: string) => Resolution | undefined, acknowledged: number): RegistryDiff {
    const gen = ++this.#generation;
    const diff: RegistryDiff = { generation: gen, added: [], removed: [], changed: [], released: this.release(acknowledged) };
    const seen = new Set<string>();
    for (const spec of specs) seen.add(spec.name);

    // Free first, so the diff lists removals even when additions follow.
    for (const [name, e] of this.#byName) {
      if (seen.has(name)) continue;
      this.#byName.delete(name);
      this.#quarantine.push({ slot: e.slot, freedAt: gen });
      diff.removed.push({ name, slot: e.slot });
    }

    for (const spec of specs) {
      const res = resolve(spec.name);
      let prev = this.#byName.get(spec.name);
      if (prev !== undefined && !sameTarget(prev.spec, spec)) {
        // Another kind or address under the same name: a new target in a new slot.
        this.#quarantine.push({ slot: prev.slot, freedAt: gen });
        diff.removed.push({ name: spec.name, slot: prev.slot });
        prev = undefined;
      }
      if (prev === undefined) {
        const slot = this.#ready.length > 0 ? (this.#ready.pop() as number) : this.#highWater++;
        const entry: RegistryEntry = { slot, spec, resolution: res, shard: toShardTarget(slot, spec, res) };
        this.#byName.set(spec.name, entry);
        diff.added.push(entry);
        continue;
      }
      const shard = toShardTarget(prev.slot, spec, res);
      const changed = !sameSpec(prev.spec, spec) || !sameShard(prev.shard, shard);
      prev.spec = spec;
      prev.resolution = res;
      prev.shard = shard;
      if (changed) diff.changed.push(prev);
    }
    return diff;
  }

  /** Move quarantined slots every worker has acknowledged to the free list; how many. */
  private release(acknowledged: number): number {
    let n = 0;
    while (n < this.#quarantine.length && slotReusable(this.#quarantine[n].freedAt, acknowledged)) this.#ready.push(this.#quarantine[n++].slot);
    if (n > 0) {
      this.#quarantine.splice(0, n);
      this.#ready.sort((a, b) => b - a);
    }
    return n;
  }
}

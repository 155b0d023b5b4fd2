/**
 * The path of a target update through the control plane, in one place:
 *
 *   target set ─▶ registry.update (slots; generation G; frees quarantined slots every
 *   worker has acknowledged) ─▶ store (release the removed, define the added at G) ─▶
 *   supervisor.update(G, upsert, remove) (each worker gets its delta)
 *
 * The exporter calls apply() for every reload, DNS change and peer change; tests drive
 * the same path. Which generation counts as acknowledged comes from the supervisor
 * (src/protocol/generations.ts); a pool that has not started yet (first start, or a
 * pool restarted by a reload) has no thread older than now, so everything is.
 */
import type { TargetStore } from '../aggregate/store.js';
import { BatchWriter } from '../protocol/batch.js';
import { ErrorReason, ProbeEvent } from '../protocol/events.js';
import type { ShardTarget, TargetSpec } from '../targets/model.js';
import type { RegistryDiff, TargetRegistry } from '../targets/registry.js';
import type { Resolution } from '../targets/resolve.js';
import type { ShardSupervisor } from './supervisor.js';

export class TargetSync {
  private supervisor: ShardSupervisor | null = null;
  private started = false;
  /** While held, a pool is not started (the exporter binds its listeners before any probe). */
  private held = false;

  constructor(
    readonly registry: TargetRegistry,
    readonly store: TargetStore,
  ) {}

  /** Start no pool until release(): targets still get their slots (their series exist), workers wait. */
  hold(): void {
    this.held = true;
  }

  /** Start the attached pool, if not started yet, with every target applied so far. */
  release(): void {
    this.held = false;
    if (this.supervisor === null || this.started) return;
    this.supervisor.start(this.registry.shardTargets(), this.registry.generation);
    this.started = true;
  }

  /** Use this (new, not yet started) pool from now on; the next apply() starts it with the whole set. */
  attach(supervisor: ShardSupervisor): void {
    this.supervisor = supervisor;
    this.started = false;
  }

  /**
   * Make `specs` the target set. Targets that do not resolve keep their slot and get
   * one errors{reason="resolve"} record (through the batch path, so there is one way
   * counters change). Returns the registry's diff, or null without a pool.
   */
  apply(specs: readonly TargetSpec[], resolve: (name: string) => Resolution | undefined): RegistryDiff | null {
    const supervisor = this.supervisor;
    if (supervisor === null) return null;
    const acknowledged = this.started ? supervisor.acknowledgedGeneration() : this.registry.generation;
    const diff = this.registry.update(specs, resolve, acknowledged);
    const g = diff.generation;

    for (const r of diff.removed) this.store.releaseSlot(r.slot);
    // Every slot of this update at once, so the columns are sized to the target set, not to a power of two above it.
    this.store.reserve(this.registry.highWaterMark);
    const unresolved = new BatchWriter(16);
    for (const e of diff.added) this.store.defineSlot(e.slot, e.spec, g);
    for (const e of diff.changed) this.store.defineSlot(e.slot, e.spec, g); // same identity: counters and generation carry on
    for (const e of [...diff.added, ...diff.changed])
      if (e.resolution?.status === 'error') unresolved.push(e.slot, ProbeEvent.TargetInvalid, ErrorReason.resolve);
    if (unresolved.length > 0) this.store.applyBatch(unresolved.take(-1, 0, g));

    if (!this.started) {
      if (!this.held) {
        supervisor.start(this.registry.shardTargets(), g);
        this.started = true;
      }
      return diff;
    }
    const upsert: ShardTarget[] = [];
    const remove: Array<{ slot: number; name: string }> = diff.removed.slice();
    for (const e of diff.added) if (e.shard) upsert.push(e.shard);
    for (const e of diff.changed) {
      if (e.shard) upsert.push(e.shard);
      else remove.push({ slot: e.slot, name: e.spec.name }); // no longer probeable (stopped resolving)
    }
    supervisor.update(g, upsert, remove);
    return diff;
  }
}

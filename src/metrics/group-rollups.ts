/**
 * The group rollups wired to the exporters: one GroupRollups (aggregate/groups.ts)
 * watching the store's slots, read by /metrics (text, after the per-target families)
 * and by the OTLP producer (after the per-target metrics), each from its own snapshot
 * in the tick it was taken; and `fleetprobe_rollup_groups{state}` in the self registry.
 */
import { Gauge, type Registry } from 'prom-client';
import { GroupRollups, sourceValues, type GroupRollupSnapshot, type ProberIdentity } from '../aggregate/groups.js';
import type { StoreSnapshot, TargetStore } from '../aggregate/store.js';
import { groupExpositionChunks } from './group-exposition.js';

export interface GroupRollupSettings {
  groupBy: readonly string[];
  limit: number;
}

export class GroupRollupExports {
  readonly rollups: GroupRollups;

  /**
   * Attach to `store` before any slot is defined. `prober`: this node in mesh mode (the
   * source side of every group), null outside it; read at every collection, so a change
   * of this node's labels shows at the next scrape.
   */
  constructor(
    store: TargetStore,
    settings: GroupRollupSettings,
    private readonly prober: () => ProberIdentity | null,
    registry?: Registry,
  ) {
    this.rollups = new GroupRollups({
      groupBy: settings.groupBy,
      limit: settings.limit,
      stride: store.buckets.length + 1,
      liveColumns: () => store.liveColumns(),
    });
    store.observeSlots(this.rollups);
    if (registry !== undefined) registerGroupRollupMetrics(registry, this.rollups);
  }

  /** The rollups at the instant of `snap` (call in the tick it was taken). */
  collect(snap: StoreSnapshot): GroupRollupSnapshot {
    const node = this.prober();
    return this.rollups.collect(snap, node === null ? null : sourceValues(node, this.rollups.groupBy));
  }

  /** For renderMetrics' snapshotFamilies: collected now, written lazily. */
  readonly textFamilies = (snap: StoreSnapshot, chunkBytes: number): Iterable<Buffer> => groupExpositionChunks(this.collect(snap), snap.buckets, chunkBytes);
}

/** `fleetprobe_rollup_groups{state="exported"|"folded"}`: groups with series of their own, and groups folded into `__other__` beyond metrics.group_limit. */
export function registerGroupRollupMetrics(registry: Registry, rollups: GroupRollups): void {
  const groups: Gauge<'state'> = new Gauge({
    name: 'fleetprobe_rollup_groups',
    help: 'Groups of metrics.group_by: "exported" have series of their own, "folded" are summed into the __other__ group beyond metrics.group_limit.',
    labelNames: ['state'],
    registers: [registry],
    collect: () => {
      const s = rollups.stats();
      groups.set({ state: 'exported' }, s.groups);
      groups.set({ state: 'folded' }, s.folded);
    },
  });
}

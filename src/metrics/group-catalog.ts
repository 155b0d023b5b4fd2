/**
 * The group rollup families (`metrics.group_by`), declared once: for each its
 * Prometheus name, its OpenTelemetry name and unit, its type, its help text and what it
 * adds up. They have another shape than the per-target families of catalog.ts (one
 * series per group and kind, not per target), so they get a small table of their own;
 * but what a rollup sums is named by the ids of per-target families, so the store
 * columns read, and the meaning of each number, come from the one per-target catalog:
 *
 *  - `sums: [id, …]` adds those per-target families over the group's targets (a
 *    labelled family such as errors: over every label value). Counters sum counters,
 *    histograms sum histograms bucket by bucket (the store's classic RTT buckets; a
 *    native histogram would be summed the same way from its own columns);
 *  - `sums: 'targets'` is the number of targets in the group (kept by the grouping).
 *
 * Everything that computes or exports a rollup iterates this table: the cell layout of
 * the accumulators (aggregate/groups.ts, via groupCellLayout), the text exposition
 * (group-exposition.ts) and the OTLP metrics (group-otel.ts). Order matters: it is the
 * order of the families in /metrics and in OTLP.
 *
 * Names follow the same OTLP→Prometheus translation as catalog.ts: `fleetprobe.group.
 * probes.sent` + unit `{probe}` + monotonic sum → `fleetprobe_group_probes_sent_total`.
 */
import { FAMILY, type FamilyId, type MetricFamily } from './catalog.js';

export interface GroupFamilyDecl {
  readonly id: string;
  readonly prometheus: string;
  readonly otel: string;
  readonly unit: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly valueType: 'int' | 'double';
  readonly help: string;
  /** Per-target families added up over the group's targets, or the group's target count. */
  readonly sums: readonly FamilyId[] | 'targets';
}

export const GROUP_FAMILY_DECLS = [
  {
    id: 'sent',
    prometheus: 'fleetprobe_group_probes_sent_total',
    otel: 'fleetprobe.group.probes.sent',
    unit: '{probe}',
    type: 'counter',
    valueType: 'int',
    sums: ['sent'],
    help: 'Probes sent to the targets of a group (metrics.group_by).',
  },
  {
    id: 'received',
    prometheus: 'fleetprobe_group_probes_received_total',
    otel: 'fleetprobe.group.probes.received',
    unit: '{probe}',
    type: 'counter',
    valueType: 'int',
    sums: ['received'],
    help: 'Probes to the targets of a group answered in time.',
  },
  {
    id: 'lost',
    prometheus: 'fleetprobe_group_probes_lost_total',
    otel: 'fleetprobe.group.probes.lost',
    unit: '{probe}',
    type: 'counter',
    valueType: 'int',
    sums: ['timeouts', 'errors'],
    help: 'Probes to the targets of a group that were lost: timed out or failed (any reason).',
  },
  {
    id: 'rtt',
    prometheus: 'fleetprobe_group_rtt_seconds',
    otel: 'fleetprobe.group.rtt',
    unit: 's',
    type: 'histogram',
    valueType: 'double',
    sums: ['rtt'],
    help: 'Round-trip time of the answered probes to the targets of a group.',
  },
  {
    id: 'targets',
    prometheus: 'fleetprobe_group_targets',
    otel: 'fleetprobe.group.targets',
    unit: '{target}',
    type: 'gauge',
    valueType: 'int',
    sums: 'targets',
    help: 'Targets in a group.',
  },
] as const satisfies readonly GroupFamilyDecl[];

export type GroupFamilyId = (typeof GROUP_FAMILY_DECLS)[number]['id'];

/** A group family with its sources resolved to per-target families. */
export interface GroupFamily extends Omit<GroupFamilyDecl, 'sums' | 'id'> {
  readonly id: GroupFamilyId;
  /** The per-target families summed (empty for the target count). */
  readonly sources: readonly MetricFamily[];
  readonly countsTargets: boolean;
  /** OTLP description (the same text: rollups have no NaN to explain). */
  readonly otelHelp: string;
}

function resolve(d: GroupFamilyDecl): GroupFamily {
  const sources = d.sums === 'targets' ? [] : d.sums.map((id) => FAMILY[id]);
  for (const s of sources) {
    // Every target must have what a group adds up, and a sum keeps its type.
    if (!s.everyKind) throw new Error(`group family ${d.id} sums ${s.prometheus}, which not every kind has`);
    const fits = d.type === 'histogram' ? s.type === 'histogram' && s.label === undefined : d.type === 'counter' && s.type === 'counter';
    if (!fits) throw new Error(`group family ${d.id} (${d.type}) cannot sum ${s.prometheus} (${s.type}${s.label ? `{${s.label.name}}` : ''})`);
  }
  if (d.sums === 'targets' && d.type !== 'gauge') throw new Error(`group family ${d.id}: a target count is a gauge`);
  const { sums: _sums, ...rest } = d;
  return { ...rest, id: d.id as GroupFamilyId, sources, countsTargets: d.sums === 'targets', otelHelp: d.help };
}

/** Every group family, in exposition order. */
export const GROUP_FAMILIES: readonly GroupFamily[] = (GROUP_FAMILY_DECLS as readonly GroupFamilyDecl[]).map(resolve);

export const GROUP_FAMILY = Object.fromEntries(GROUP_FAMILIES.map((f) => [f.id, f])) as Readonly<Record<GroupFamilyId, GroupFamily>>;

/**
 * Where each summed family lives in one cell of numbers: a counter one number, a
 * histogram its bucket row (`stride` = bounds + 1, NON-cumulative like the store's rows)
 * followed by its sum. The target count is not a sum of columns and has no place here.
 */
export interface GroupCellLayout {
  readonly width: number;
  readonly stride: number;
  /** Offset of each summed family in a cell; -1 for the target count. */
  readonly offset: Readonly<Record<GroupFamilyId, number>>;
}

export function groupCellLayout(stride: number): GroupCellLayout {
  const offset = {} as Record<GroupFamilyId, number>;
  let width = 0;
  for (const f of GROUP_FAMILIES) {
    if (f.countsTargets) {
      offset[f.id] = -1;
      continue;
    }
    offset[f.id] = width;
    width += f.type === 'histogram' ? stride + 1 : 1;
  }
  return { width, stride, offset };
}

/** Label names of a rollup series: `src_<label>` (mesh mode), `dst_<label>`, for each group_by label. */
export const SOURCE_LABEL_PREFIX = 'src_';
export const DESTINATION_LABEL_PREFIX = 'dst_';

/**
 * The per-target metric families, declared once: for each its Prometheus name, its
 * OpenTelemetry name and unit, its type, its help text, which kinds have it, its store
 * column and its extra label. Everything that stores or exports a family is derived
 * from this table:
 *
 *  - the store's columns (aggregate/columns.ts: allocation, growth, reset, snapshot,
 *    and the StoreSnapshot fields, typed from this table);
 *  - the Prometheus text exposition (metrics/exposition.ts): one writer per type;
 *  - the OTLP producer (metrics/otel-producer.ts): one point builder per type, like the
 *    OpenTelemetry SDK's one aggregator per aggregation.
 *
 * What stays per family is the batch merge (aggregate/store.ts applyBatch): which event
 * fills which column. Adding a family is one entry here plus that code.
 *
 * Order matters: it is the order of the families in /metrics and in every OTLP export.
 *
 * Names are chosen so that the OTLP→Prometheus translation (dots to underscores, unit
 * suffix, `_total` on monotonic sums, `{…}` units dropped, unit `1` on a gauge →
 * `_ratio`) lands on exactly the Prometheus names (tested in otel-producer.test.ts).
 *
 * A leaf module: it imports only the kinds, the event codes and the exponential
 * histogram's constants, so the store and the exporters can both build on it.
 */
import { ERROR_REASON_NAMES, HTTP_PHASE_NAMES } from '../protocol/events.js';
import { KINDS, PROBE_KINDS, type ProbeKind } from '../kinds/index.js';
import { DEFAULT_NATIVE_SCHEMA } from '../aggregate/exp-histogram.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';

/**
 * Labels a family may have beyond the target's own. A labelled series exists when its
 * value is nonzero, and always (at 0 from the start) for the values in `always` of the
 * slot's kind: every phase of an http target; for reasons, the kind's zeroReasons (why
 * not all reasons: see exposition.ts).
 */
const EXTRA_LABEL_DECLS = {
  reason: { values: ERROR_REASON_NAMES, always: (kind: ProbeKind): readonly string[] => KINDS[PROBE_KINDS.indexOf(kind)].zeroReasons },
  phase: { values: HTTP_PHASE_NAMES, always: (): readonly string[] => HTTP_PHASE_NAMES },
} as const;
export type ExtraLabelName = keyof typeof EXTRA_LABEL_DECLS;

interface FamilyDecl {
  /** Stable id (the key of PER_TARGET_FAMILIES and OTEL_FAMILIES). */
  readonly id: string;
  readonly prometheus: string;
  readonly otel: string;
  /** OpenTelemetry unit (UCUM; `{…}` annotations for counts). */
  readonly unit: string;
  readonly type: MetricType;
  /** OpenTelemetry value type of its points. */
  readonly valueType: 'int' | 'double';
  readonly help: string;
  /** The OTLP description when it must differ (how "no value yet" shows differs between the formats). */
  readonly otelHelp?: string;
  /** Every kind has it, or only the kinds that list it in their module's `families`. */
  readonly scope: 'every-kind' | 'own-kinds';
  /**
   * The store's column: counters and gauges `<column>` (one number per slot, or one
   * column per label value when labelled), histograms `<column>Buckets` and
   * `<column>Sum`. These are the StoreSnapshot fields of the family.
   */
  readonly column: string;
  readonly label?: ExtraLabelName;
  /** Value of a slot that has seen nothing (default 0). */
  readonly initial?: number;
  /** Computed from the loss windows at snapshot time rather than stored in a column. */
  readonly fromLossWindow?: true;
  /**
   * Histograms: also kept as one exponential histogram per slot (aggregate/exp-histogram.ts),
   * starting at this schema: the Prometheus native histogram of the protobuf exposition and
   * the OTLP exponential histogram. Store column `<column>Native`.
   */
  readonly native?: { readonly schema: number };
}

export const FAMILY_DECLS = [
  {
    id: 'sent',
    prometheus: 'fleetprobe_probe_sent_total',
    otel: 'fleetprobe.probe.sent',
    unit: '{probe}',
    type: 'counter',
    valueType: 'int',
    scope: 'every-kind',
    column: 'sent',
    help: 'Probes sent.',
  },
  {
    id: 'received',
    prometheus: 'fleetprobe_probe_received_total',
    otel: 'fleetprobe.probe.received',
    unit: '{probe}',
    type: 'counter',
    valueType: 'int',
    scope: 'every-kind',
    column: 'received',
    help: 'Probes answered in time.',
  },
  {
    id: 'timeouts',
    prometheus: 'fleetprobe_probe_timeouts_total',
    otel: 'fleetprobe.probe.timeouts',
    unit: '{probe}',
    type: 'counter',
    valueType: 'int',
    scope: 'every-kind',
    column: 'timeouts',
    help: 'Probes not answered within the timeout.',
  },
  {
    id: 'duplicates',
    prometheus: 'fleetprobe_probe_duplicates_total',
    otel: 'fleetprobe.probe.duplicates',
    unit: '{reply}',
    type: 'counter',
    valueType: 'int',
    scope: 'every-kind',
    column: 'duplicates',
    help: 'Extra replies to probes already answered.',
  },
  {
    id: 'late',
    prometheus: 'fleetprobe_probe_late_total',
    otel: 'fleetprobe.probe.late',
    unit: '{reply}',
    type: 'counter',
    valueType: 'int',
    scope: 'every-kind',
    column: 'late',
    help: 'Replies that arrived after their probe had timed out.',
  },
  {
    id: 'errors',
    prometheus: 'fleetprobe_probe_errors_total',
    otel: 'fleetprobe.probe.errors',
    unit: '{probe}',
    type: 'counter',
    valueType: 'int',
    scope: 'every-kind',
    column: 'errors',
    label: 'reason',
    help: 'Probes that failed, by reason (failures count as lost).',
  },
  {
    id: 'rtt',
    prometheus: 'fleetprobe_probe_rtt_seconds',
    otel: 'fleetprobe.probe.rtt',
    unit: 's',
    type: 'histogram',
    valueType: 'double',
    scope: 'every-kind',
    column: 'rtt',
    // Schema 3: 8 buckets per power of two, each at most 9.05% wider than the one below
    // (the Go client's default bucket factor 1.1). Why: see aggregate/exp-histogram.ts and the README.
    native: { schema: DEFAULT_NATIVE_SCHEMA },
    help: 'Round-trip time of answered probes.',
  },
  {
    id: 'lastRtt',
    prometheus: 'fleetprobe_probe_last_rtt_seconds',
    otel: 'fleetprobe.probe.last_rtt',
    unit: 's',
    type: 'gauge',
    valueType: 'double',
    scope: 'every-kind',
    column: 'lastRtt',
    initial: NaN,
    help: 'Round-trip time of the latest answered probe (NaN before the first reply).',
    // OTLP/JSON cannot encode NaN: the point is left out until the first reply.
    otelHelp: 'Round-trip time of the latest answered probe (absent before the first reply).',
  },
  {
    id: 'lossRatio',
    prometheus: 'fleetprobe_probe_loss_ratio',
    otel: 'fleetprobe.probe.loss_ratio',
    unit: '1',
    type: 'gauge',
    valueType: 'double',
    scope: 'every-kind',
    column: 'lossRatio',
    fromLossWindow: true,
    help: 'Share of the last completed probes (loss window) that were lost: timed out or failed.',
  },
  {
    id: 'connects',
    prometheus: 'fleetprobe_connects_total',
    otel: 'fleetprobe.connects',
    unit: '{connection}',
    type: 'counter',
    valueType: 'int',
    scope: 'own-kinds',
    column: 'connects',
    help: 'Connections established to a tcp_echo target.',
  },
  {
    id: 'connected',
    prometheus: 'fleetprobe_connected',
    otel: 'fleetprobe.connected',
    unit: '{connection}',
    type: 'gauge',
    valueType: 'int',
    scope: 'own-kinds',
    column: 'connected',
    help: 'Whether the tcp_echo connection is up (1) or down (0).',
  },
  {
    id: 'httpPhase',
    prometheus: 'fleetprobe_http_phase_seconds',
    otel: 'fleetprobe.http.phase',
    unit: 's',
    type: 'histogram',
    valueType: 'double',
    scope: 'own-kinds',
    column: 'phase',
    label: 'phase',
    help: 'Duration of each phase of an HTTP probe.',
  },
  {
    id: 'httpStatus',
    prometheus: 'fleetprobe_http_status_code',
    otel: 'fleetprobe.http.status_code',
    unit: '{code}',
    type: 'gauge',
    valueType: 'int',
    scope: 'own-kinds',
    column: 'httpStatus',
    help: 'Status code of the latest completed HTTP probe (0 before the first response).',
  },
] as const satisfies readonly FamilyDecl[];

type Decl = (typeof FAMILY_DECLS)[number];
export type FamilyId = Decl['id'];

// The store's columns, by shape, typed from the table (StoreSnapshot is built from these).
/** One number per slot, kept in the store. */
export type ScalarColumn = Extract<Decl, { type: 'counter' | 'gauge'; label?: undefined; fromLossWindow?: undefined }>['column'];
/** One number per slot, computed at snapshot time. */
export type DerivedColumn = Extract<Decl, { fromLossWindow: true }>['column'];
/** One column per label value, allocated on first use. */
export type LabelledColumn = Extract<Decl, { type: 'counter' | 'gauge'; label: ExtraLabelName }>['column'];
export type HistogramColumn = Extract<Decl, { type: 'histogram'; label?: undefined }>['column'];
export type LabelledHistogramColumn = Extract<Decl, { type: 'histogram'; label: ExtraLabelName }>['column'];
/** Histograms also kept as exponential histograms (snapshot field `<column>Native`). */
export type NativeHistogramColumn = Extract<Decl, { native: { schema: number } }>['column'];

export interface ExtraLabel {
  readonly name: ExtraLabelName;
  readonly values: readonly string[];
  /** always[kindCode][valueIndex] === 1: the series exists at 0 for every slot of that kind. */
  readonly always: readonly Uint8Array[];
}

/** A family with what is derived from the kinds, every optional field resolved. */
export interface MetricFamily extends Pick<FamilyDecl, 'prometheus' | 'otel' | 'unit' | 'type' | 'valueType' | 'help' | 'column' | 'native'> {
  readonly id: FamilyId;
  /** help, unless the OTLP description must differ. */
  readonly otelHelp: string;
  readonly label: ExtraLabel | undefined;
  readonly initial: number;
  readonly fromLossWindow: boolean;
  /** Kinds whose targets have this family. */
  readonly kinds: readonly ProbeKind[];
  /** kindMask[kindCode] === 1 when slots of that kind have it. */
  readonly kindMask: Uint8Array;
  readonly everyKind: boolean;
}

function extraLabel(name: ExtraLabelName): ExtraLabel {
  const d = EXTRA_LABEL_DECLS[name];
  const values: readonly string[] = d.values;
  const always = PROBE_KINDS.map((kind) => {
    const mask = new Uint8Array(values.length);
    for (const v of d.always(kind)) mask[values.indexOf(v)] = 1;
    return mask;
  });
  return { name, values, always };
}
const EXTRA_LABELS: Readonly<Record<ExtraLabelName, ExtraLabel>> = { reason: extraLabel('reason'), phase: extraLabel('phase') };

function resolve(d: FamilyDecl): MetricFamily {
  const kinds = d.scope === 'every-kind' ? [...PROBE_KINDS] : KINDS.filter((k) => k.families.includes(d.id)).map((k) => k.kind);
  const kindMask = new Uint8Array(PROBE_KINDS.length);
  for (const k of kinds) kindMask[PROBE_KINDS.indexOf(k)] = 1;
  return {
    id: d.id as FamilyId,
    prometheus: d.prometheus,
    otel: d.otel,
    unit: d.unit,
    type: d.type,
    valueType: d.valueType,
    help: d.help,
    otelHelp: d.otelHelp ?? d.help,
    column: d.column,
    label: d.label === undefined ? undefined : EXTRA_LABELS[d.label],
    initial: d.initial ?? 0,
    fromLossWindow: d.fromLossWindow === true,
    native: d.native,
    kinds,
    kindMask,
    everyKind: kinds.length === PROBE_KINDS.length,
  };
}

/** Every per-target family, in exposition order. */
export const METRIC_FAMILIES: readonly MetricFamily[] = (FAMILY_DECLS as readonly FamilyDecl[]).map(resolve);

export const FAMILY: Readonly<Record<FamilyId, MetricFamily>> = Object.fromEntries(METRIC_FAMILIES.map((f) => [f.id, f])) as Record<FamilyId, MetricFamily>;

// A kind naming a family that does not exist, or claiming one every kind has, is a bug in its module.
for (const k of KINDS) {
  for (const id of k.families) {
    const f = (FAMILY as Record<string, MetricFamily | undefined>)[id];
    if (f === undefined || f.everyKind)
      throw new Error(`kind ${k.kind} lists family ${JSON.stringify(id)}, which is not a family of its own in metrics/catalog.ts`);
  }
}

/**
 * The info family of metrics.series_labels `compact`, declared here once for both
 * expositions: one series per target, value 1, with the target's labels as in `full`
 * mode (target, address, kind, user labels), while every family above carries only
 * `target` and the user labels. Not in full mode (the series have it all), not in
 * OTLP (its data points keep every attribute). Written first, before the families above.
 */
export const TARGET_INFO = {
  prometheus: 'fleetprobe_target_info',
  type: 'gauge',
  help: "A target's address and kind, which metrics.series_labels: compact leaves out of its other series (join on target); always 1.",
} as const satisfies Pick<FamilyDecl, 'prometheus' | 'type' | 'help'>;

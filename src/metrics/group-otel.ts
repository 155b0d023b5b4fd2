/**
 * The group rollups (aggregate/groups.ts) as OpenTelemetry metric data, one point
 * builder per type of the group catalog (group-catalog.ts): counters as monotonic
 * cumulative sums, the target count as a gauge, the RTT as an explicit-bucket histogram
 * with the store's bounds. The StoreMetricProducer appends them to each export through
 * its `snapshotMetrics` hook (otel-producer.ts), computed from the export's own snapshot.
 *
 * Attributes are the Prometheus labels of the text exposition (src_*, dst_*, kind);
 * the start time of a cell's points is when the cell began to count (groups.ts).
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, type DataPoint, type Histogram, type MetricData, type MetricDescriptor } from '@opentelemetry/sdk-metrics';
import type { GroupRollupSnapshot } from '../aggregate/groups.js';
import type { StoreSnapshot } from '../aggregate/store.js';
import type { GroupRollupExports } from './group-rollups.js';
import { GROUP_FAMILIES } from './group-catalog.js';
import { msToHrTime } from './otel-producer.js';

const DESCRIPTORS: readonly MetricDescriptor[] = GROUP_FAMILIES.map((f) => ({
  name: f.otel,
  unit: f.unit,
  valueType: f.valueType === 'int' ? ValueType.INT : ValueType.DOUBLE,
  description: f.otelHelp,
}));

/** One attribute object per cell label array (kept by the cell until its labels change). */
const attributeCache = new WeakMap<readonly (readonly [string, string])[], Attributes>();
function attributes(labels: readonly (readonly [string, string])[]): Attributes {
  let a = attributeCache.get(labels);
  if (a === undefined) attributeCache.set(labels, (a = Object.freeze(Object.fromEntries(labels))));
  return a;
}

/** The group families of one rollup snapshot; [] without cells. `buckets`: the store's RTT bounds. */
export function groupMetricData(r: GroupRollupSnapshot, buckets: Float64Array, endTime: HrTime): MetricData[] {
  if (r.cells.length === 0) return [];
  const boundaries = Array.from(buckets);
  const { width, stride } = r.layout;
  const starts = r.cells.map((c) => msToHrTime(c.startMs));
  const CUMULATIVE = AggregationTemporality.CUMULATIVE;
  return GROUP_FAMILIES.map((f, fi): MetricData => {
    const descriptor = DESCRIPTORS[fi];
    const off = r.layout.offset[f.id];
    if (f.type === 'histogram') {
      const dataPoints: DataPoint<Histogram>[] = r.cells.map((c, i) => {
        const base = i * width + off;
        const counts = Array.from(r.values.subarray(base, base + stride));
        const count = counts.reduce((a, b) => a + b, 0);
        return {
          startTime: starts[i],
          endTime,
          attributes: attributes(c.labels),
          value: { buckets: { boundaries, counts }, sum: r.values[base + stride], count },
        };
      });
      return { descriptor, aggregationTemporality: CUMULATIVE, dataPointType: DataPointType.HISTOGRAM, dataPoints };
    }
    const dataPoints: DataPoint<number>[] = r.cells.map((c, i) => ({
      startTime: starts[i],
      endTime,
      attributes: attributes(c.labels),
      value: f.countsTargets ? c.targets : r.values[i * width + off],
    }));
    if (f.type === 'counter') return { descriptor, aggregationTemporality: CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints };
    return { descriptor, aggregationTemporality: CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints };
  });
}

/** The rollups of `exports`, collected at each export's snapshot, for the OTLP producer's snapshotMetrics hook. */
export function groupSnapshotMetrics(exports: Pick<GroupRollupExports, 'collect'>): (snap: StoreSnapshot, endTime: HrTime) => MetricData[] {
  return (snap, endTime) => groupMetricData(exports.collect(snap), snap.buckets, endTime);
}

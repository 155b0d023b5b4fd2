/**
 * The prom-client registry as OTLP data (RegistryMetricProducer): names and units
 * per the OTel ↔ Prometheus conventions, every Prometheus type converted, values
 * equal to what the registry serves, delta arithmetic and resets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregationTemporality, DataPointType, type DataPoint, type Histogram as OtelHistogram, type MetricData } from '@opentelemetry/sdk-metrics';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import { RegistryMetricProducer, SELF_METRICS_LEFT_OUT, otelNameOf } from '../../src/metrics/otel-self-producer.js';
import { SelfMetrics } from '../../src/metrics/self.js';
import { msToHrTime } from '../../src/metrics/otel-producer.js';

async function metrics(p: RegistryMetricProducer): Promise<MetricData[]> {
  const r = await p.collect();
  assert.deepEqual(r.errors, []);
  return r.resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
}

function find(ms: MetricData[], name: string): MetricData {
  const m = ms.find((x) => x.descriptor.name === name);
  assert.ok(m, `${name} missing from ${ms.map((x) => x.descriptor.name).join(', ')}`);
  return m;
}

function point<T = number>(m: MetricData, attrs: Record<string, string> = {}): DataPoint<T> {
  const ps = (m.dataPoints as DataPoint<T>[]).filter(
    (p) => Object.keys(attrs).length === Object.keys(p.attributes).length && Object.entries(attrs).every(([k, v]) => p.attributes[k] === v),
  );
  assert.equal(ps.length, 1, `${m.descriptor.name} ${JSON.stringify(attrs)}`);
  return ps[0];
}

test('names and units: _total dropped from counters only, unit from the suffix', () => {
  assert.deepEqual(otelNameOf('fleetprobe_worker_restarts_total', 'counter'), { name: 'fleetprobe_worker_restarts', unit: '' });
  assert.deepEqual(otelNameOf('process_cpu_user_seconds_total', 'counter'), { name: 'process_cpu_user_seconds', unit: 's' });
  assert.deepEqual(otelNameOf('fleetprobe_worker_last_batch_age_seconds', 'gauge'), { name: 'fleetprobe_worker_last_batch_age_seconds', unit: 's' });
  assert.deepEqual(otelNameOf('process_resident_memory_bytes', 'gauge'), { name: 'process_resident_memory_bytes', unit: 'By' });
  assert.deepEqual(otelNameOf('fleetprobe_probe_loss_ratio', 'gauge'), { name: 'fleetprobe_probe_loss_ratio', unit: '1' });
  assert.deepEqual(otelNameOf('nodejs_active_handles_total', 'gauge'), { name: 'nodejs_active_handles_total', unit: '' }, 'a gauge keeps its name');
  assert.deepEqual(otelNameOf('fleetprobe_targets', 'gauge'), { name: 'fleetprobe_targets', unit: '' });
});

test('every Prometheus type becomes its OTLP type with the registry values (cumulative)', async () => {
  const reg = new Registry();
  const c = new Counter({ name: 'demo_requests_total', help: 'requests', labelNames: ['code'], registers: [reg] });
  c.inc({ code: '200' }, 7);
  c.inc({ code: '500' }, 2);
  const g = new Gauge({ name: 'demo_temperature_ratio', help: 'g', registers: [reg] });
  g.set(0.25);
  const nan = new Gauge({ name: 'demo_never_set_seconds', help: 'NaN', labelNames: ['x'], registers: [reg] });
  nan.set({ x: 'a' }, NaN);
  const h = new Histogram({ name: 'demo_latency_seconds', help: 'h', buckets: [0.1, 1], labelNames: ['op'], registers: [reg] });
  for (const v of [0.05, 0.5, 0.7, 3]) h.observe({ op: 'get' }, v);
  const s = new Summary({ name: 'demo_size_bytes', help: 's', percentiles: [0.5, 0.9], registers: [reg] });
  for (const v of [10, 20, 30]) s.observe(v);

  const START = 1_600_000_000_000;
  const NOW = 1_700_000_000_500;
  const ms = await metrics(new RegistryMetricProducer(reg, { startTimeMs: START, now: () => NOW, scopeVersion: '9.9.9' }));
  const scope = (await new RegistryMetricProducer(reg).collect()).resourceMetrics.scopeMetrics[0].scope;
  assert.equal(scope.name, 'fleetprobe.self');

  const req = find(ms, 'demo_requests');
  assert.equal(req.dataPointType, DataPointType.SUM);
  assert.equal(req.dataPointType === DataPointType.SUM && req.isMonotonic, true);
  assert.equal(req.aggregationTemporality, AggregationTemporality.CUMULATIVE);
  assert.equal(req.descriptor.description, 'requests');
  assert.equal(point(req, { code: '200' }).value, 7);
  assert.equal(point(req, { code: '500' }).value, 2);
  assert.deepEqual(point(req, { code: '200' }).startTime, msToHrTime(START), 'cumulative since the process start');
  assert.deepEqual(point(req, { code: '200' }).endTime, msToHrTime(NOW));

  const ratio = find(ms, 'demo_temperature_ratio');
  assert.equal(ratio.dataPointType, DataPointType.GAUGE);
  assert.equal(ratio.descriptor.unit, '1');
  assert.equal(point(ratio).value, 0.25);
  assert.equal(
    ms.find((m) => m.descriptor.name === 'demo_never_set_seconds'),
    undefined,
    'a NaN gauge has no point (OTLP/JSON cannot carry it), and a metric without points is left out',
  );

  const lat = find(ms, 'demo_latency_seconds');
  assert.equal(lat.dataPointType, DataPointType.HISTOGRAM);
  assert.equal(lat.descriptor.unit, 's');
  const hp = point<OtelHistogram>(lat, { op: 'get' });
  assert.deepEqual(hp.value.buckets, { boundaries: [0.1, 1], counts: [1, 2, 1] }, 'per-bucket counts from the cumulative le buckets');
  assert.equal(hp.value.count, 4);
  assert.ok(Math.abs((hp.value.sum ?? 0) - 4.25) < 1e-12);

  const size = find(ms, 'demo_size_bytes');
  assert.equal(size.dataPointType, DataPointType.HISTOGRAM);
  assert.equal(size.descriptor.unit, 'By');
  const sp = point<OtelHistogram>(size);
  assert.deepEqual(sp.value.buckets, { boundaries: [], counts: [3] }, 'a summary keeps its count in one bucket; quantiles are dropped');
  assert.equal(sp.value.sum, 60);
});

test('the self metrics of a real SelfMetrics are all there, except the event-loop lag family that resets when read', async () => {
  const self = new SelfMetrics({ store: { unknownSlotRecords: 3, staleRecords: 0, malformedRecords: 0, invalidValues: 0, size: 2 } });
  self.workers.configure(2);
  self.setOtlpSource(() => ({ exports: 5, failures: 1, skipped: 0, lastSuccessAt: 0 }));
  self.setTargetStates({ configured: 2, probing: 2 });
  const ms = await metrics(new RegistryMetricProducer(self.registry));
  const names = new Set(ms.map((m) => m.descriptor.name));
  for (const n of [
    'fleetprobe_workers',
    'fleetprobe_worker_restarts',
    'fleetprobe_batches_received',
    'fleetprobe_worker_scheduling_lag_seconds',
    'fleetprobe_targets',
    'fleetprobe_config_last_reload_successful',
    'fleetprobe_otlp_exports',
    'fleetprobe_batch_records_unknown_slot',
    'process_cpu_user_seconds',
    'process_resident_memory_bytes',
    'nodejs_heap_size_used_bytes',
  ]) {
    assert.ok(names.has(n), `${n} exported`);
  }
  assert.deepEqual(
    [...names].filter((n) => SELF_METRICS_LEFT_OUT.test(n)),
    [],
  );
  assert.ok(
    (await self.registry.getMetricsAsJSON()).some((m) => m.name === 'nodejs_eventloop_lag_p99_seconds'),
    'they are still on /metrics',
  );
  assert.equal(point(find(ms, 'fleetprobe_targets'), { state: 'probing' }).value, 2);
  assert.equal(point(find(ms, 'fleetprobe_otlp_exports'), { result: 'success' }).value, 5);
  assert.equal(point(find(ms, 'fleetprobe_batch_records_unknown_slot')).value, 3);
  const lag = point<OtelHistogram>(find(ms, 'fleetprobe_worker_scheduling_lag_seconds'), { worker: '0' });
  assert.deepEqual(lag.value.buckets.boundaries, []);
});

test('delta: each export carries the increase since the previous one; the sum of deltas is the cumulative value', async () => {
  const reg = new Registry();
  const c = new Counter({ name: 'demo_events_total', help: 'e', labelNames: ['k'], registers: [reg] });
  const h = new Histogram({ name: 'demo_wait_seconds', help: 'h', buckets: [1], registers: [reg] });
  const g = new Gauge({ name: 'demo_level', help: 'g', registers: [reg] });
  let now = 1_700_000_000_000;
  const START = 1_690_000_000_000;
  const p = new RegistryMetricProducer(reg, { temporality: AggregationTemporality.DELTA, startTimeMs: START, now: () => now });

  c.inc({ k: 'a' }, 4);
  h.observe(0.5);
  g.set(9);
  let ms = await metrics(p);
  assert.equal(find(ms, 'demo_events').aggregationTemporality, AggregationTemporality.DELTA);
  assert.equal(point(find(ms, 'demo_events'), { k: 'a' }).value, 4);
  assert.deepEqual(point(find(ms, 'demo_events'), { k: 'a' }).startTime, msToHrTime(START), 'a new series counts from the process start');
  const firstEnd = now;

  now += 1000;
  c.inc({ k: 'a' }, 3);
  c.inc({ k: 'b' }, 1);
  h.observe(2);
  h.observe(0.1);
  ms = await metrics(p);
  const a = point(find(ms, 'demo_events'), { k: 'a' });
  assert.equal(a.value, 3);
  assert.deepEqual(a.startTime, msToHrTime(firstEnd), 'starts where the previous export ended');
  assert.equal(point(find(ms, 'demo_events'), { k: 'b' }).value, 1);
  const hp = point<OtelHistogram>(find(ms, 'demo_wait_seconds'));
  assert.deepEqual(hp.value.buckets.counts, [1, 1]);
  assert.equal(hp.value.count, 2);
  assert.ok(Math.abs((hp.value.sum ?? 0) - 2.1) < 1e-12);
  assert.equal(point(find(ms, 'demo_level')).value, 9, 'a gauge is its current value');

  // A counter that goes down (reset) starts over instead of going negative.
  now += 1000;
  c.reset();
  c.inc({ k: 'a' }, 2);
  ms = await metrics(p);
  assert.equal(point(find(ms, 'demo_events'), { k: 'a' }).value, 2);
  assert.equal(
    (find(ms, 'demo_events').dataPoints as DataPoint<number>[]).some((x) => x.attributes.k === 'b'),
    false,
    'a series that vanished is not exported (and forgotten)',
  );
});

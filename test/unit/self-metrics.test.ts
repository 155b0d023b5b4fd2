import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriter, Header, HEADER_FIELDS, IcmpSocketBits } from '../../src/protocol/batch.js';
import { DROP_REASON_NAMES, DropReason, ProbeEvent } from '../../src/protocol/events.js';
import { TargetStore } from '../../src/aggregate/store.js';
import { ICMP_FAMILIES, ICMP_RTT_CLOCKS, LINT_FAILING_DEFAULT_METRICS, SelfMetrics, TARGET_STATES } from '../../src/metrics/self.js';
import { parsePrometheusText, type Sample } from '../../src/metrics/text-parse.js';

async function scrape(m: SelfMetrics): Promise<{ samples: Sample[]; types: Map<string, string> }> {
  return parsePrometheusText(await m.registry.metrics());
}
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.equal(hits.length, 1, `${name} ${JSON.stringify(labels)}: ${hits.length} matches`);
  return hits[0].value;
}
function header(fill: (h: Float64Array) => void): Float64Array {
  const w = new BatchWriter(1);
  fill(w.header);
  return new Float64Array(w.take(0, 1, w.header[Header.Generation]), 0, HEADER_FIELDS);
}

test('per-worker series exist at zero for every configured worker', async () => {
  const m = new SelfMetrics({ defaultMetrics: false });
  m.workers.configure(3);
  const { samples } = await scrape(m);
  for (const w of ['0', '1', '2']) {
    assert.equal(value(samples, 'fleetprobe_worker_restarts_total', { worker: w }), 0);
    assert.equal(value(samples, 'fleetprobe_worker_probes_started_total', { worker: w }), 0);
    assert.equal(value(samples, 'fleetprobe_batches_received_total', { worker: w }), 0);
    assert.equal(value(samples, 'fleetprobe_worker_scheduling_lag_seconds_count', { worker: w }), 0);
    for (const r of DROP_REASON_NAMES) assert.equal(value(samples, 'fleetprobe_worker_dropped_packets_total', { worker: w, reason: r }), 0);
  }
  assert.equal(value(samples, 'fleetprobe_workers', { state: 'configured' }), 3);
  assert.equal(value(samples, 'fleetprobe_workers', { state: 'running' }), 0);
});

test('batch headers accumulate deltas into counters and set the gauges from the newest batch', async () => {
  let now = 1000;
  const m = new SelfMetrics({ defaultMetrics: false, monotonicNow: () => now });
  m.workers.configure(2);
  const h1 = header((h) => {
    h[Header.Targets] = 500;
    h[Header.ProbesStarted] = 100;
    h[Header.SchedLagSum] = 0.5;
    h[Header.SchedLagCount] = 100;
    h[Header.SchedLagMax] = 0.02;
    h[Header.LoopLagMax] = 0.03;
    h[Header.LoopLagMean] = 0.001;
    h[Header.DropsStart + DropReason.bad_cookie] = 2;
  });
  const h2 = header((h) => {
    h[Header.Targets] = 501;
    h[Header.ProbesStarted] = 50;
    h[Header.SchedLagSum] = 0.25;
    h[Header.SchedLagCount] = 50;
    h[Header.SchedLagMax] = 0.01;
    h[Header.DropsStart + DropReason.bad_cookie] = 1;
    h[Header.DropsStart + DropReason.garbage] = 4;
  });
  m.workers.batch(1, h1);
  now = 3500;
  m.workers.batch(1, h2);
  now = 4000;
  const { samples } = await scrape(m);
  const w1 = { worker: '1' };
  assert.equal(value(samples, 'fleetprobe_batches_received_total', w1), 2);
  assert.equal(value(samples, 'fleetprobe_worker_probes_started_total', w1), 150);
  assert.equal(value(samples, 'fleetprobe_worker_targets', w1), 501);
  assert.equal(value(samples, 'fleetprobe_worker_scheduling_lag_seconds_sum', w1), 0.75);
  assert.equal(value(samples, 'fleetprobe_worker_scheduling_lag_seconds_count', w1), 150);
  assert.equal(value(samples, 'fleetprobe_worker_scheduling_lag_max_seconds', w1), 0.01);
  assert.equal(value(samples, 'fleetprobe_worker_event_loop_lag_max_seconds', w1), 0);
  assert.equal(value(samples, 'fleetprobe_worker_dropped_packets_total', { worker: '1', reason: 'bad_cookie' }), 3);
  assert.equal(value(samples, 'fleetprobe_worker_dropped_packets_total', { worker: '1', reason: 'garbage' }), 4);
  assert.equal(value(samples, 'fleetprobe_worker_last_batch_age_seconds', w1), 0.5);
  assert.equal(value(samples, 'fleetprobe_worker_last_batch_age_seconds', { worker: '0' }), 3, 'no batch yet: age since configured');
  assert.equal(value(samples, 'fleetprobe_workers', { state: 'running' }), 1);
});

test('a worker failure is counted by reason, keeps the counters, and the worker is not running until its next batch', async () => {
  let now = 0;
  const m = new SelfMetrics({ defaultMetrics: false, monotonicNow: () => now });
  m.workers.configure(1);
  m.workers.launched(0, 0);
  m.workers.batch(
    0,
    header((h) => (h[Header.ProbesStarted] = 10)),
  );
  now = 2000;
  m.workers.failed(0, 'crashed', 100);
  now = 2250;
  let { samples } = await scrape(m);
  assert.equal(value(samples, 'fleetprobe_worker_restarts_total', { worker: '0' }), 1);
  assert.equal(value(samples, 'fleetprobe_worker_failures_total', { worker: '0', reason: 'crashed' }), 1);
  assert.equal(value(samples, 'fleetprobe_worker_failures_total', { worker: '0', reason: 'stalled' }), 0);
  assert.equal(value(samples, 'fleetprobe_worker_restart_backoff_seconds', { worker: '0' }), 0.1);
  assert.equal(value(samples, 'fleetprobe_worker_probes_started_total', { worker: '0' }), 10);
  assert.equal(value(samples, 'fleetprobe_workers', { state: 'running' }), 0);
  assert.equal(value(samples, 'fleetprobe_workers', { state: 'crashed' }), 1);
  assert.equal(value(samples, 'fleetprobe_worker_last_batch_age_seconds', { worker: '0' }), 0.25, 'age since the restart');
  m.workers.launched(0, 0);
  ({ samples } = await scrape(m));
  assert.equal(value(samples, 'fleetprobe_workers', { state: 'starting' }), 1);
  assert.equal(value(samples, 'fleetprobe_workers', { state: 'crashed' }), 0);
  m.workers.batch(
    0,
    header((h) => (h[Header.ProbesStarted] = 5)),
  );
  ({ samples } = await scrape(m));
  assert.equal(value(samples, 'fleetprobe_worker_probes_started_total', { worker: '0' }), 15, 'the new thread adds to the old totals');
  assert.equal(value(samples, 'fleetprobe_workers', { state: 'running' }), 1);
  assert.equal(value(samples, 'fleetprobe_worker_restart_backoff_seconds', { worker: '0' }), 0.1, 'backoff stays until the worker is healthy');
  m.workers.healthy(0);
  ({ samples } = await scrape(m));
  assert.equal(value(samples, 'fleetprobe_worker_restart_backoff_seconds', { worker: '0' }), 0);
});

test('stalls and out-of-memory ends are counted under their own reasons and states', async () => {
  const m = new SelfMetrics({ defaultMetrics: false });
  m.workers.configure(3);
  for (let i = 0; i < 3; i++) m.workers.launched(i, 0);
  m.workers.failed(1, 'stalled', 100);
  m.workers.failed(2, 'out_of_memory', 200);
  m.workers.failed(2, 'out_of_memory', 400);
  const { samples } = await scrape(m);
  assert.equal(value(samples, 'fleetprobe_worker_failures_total', { worker: '1', reason: 'stalled' }), 1);
  assert.equal(value(samples, 'fleetprobe_worker_failures_total', { worker: '2', reason: 'out_of_memory' }), 2);
  assert.equal(value(samples, 'fleetprobe_worker_restarts_total', { worker: '2' }), 2);
  assert.equal(value(samples, 'fleetprobe_worker_restart_backoff_seconds', { worker: '2' }), 0.4);
  assert.equal(value(samples, 'fleetprobe_workers', { state: 'stalled' }), 1);
  assert.equal(value(samples, 'fleetprobe_workers', { state: 'crashed' }), 1);
  assert.equal(value(samples, 'fleetprobe_workers', { state: 'starting' }), 1);
  assert.equal(value(samples, 'fleetprobe_workers', { state: 'configured' }), 3);
});

test('OTLP export counters appear only once an OTLP source is set, and read it at scrape time', async () => {
  const m = new SelfMetrics({ defaultMetrics: false });
  let { samples } = await scrape(m);
  assert.equal(samples.filter((x) => x.name.startsWith('fleetprobe_otlp_')).length, 0, 'no OTLP series while export is off');
  const stats = { exports: 0, failures: 0, skipped: 0, lastSuccessAt: 0 };
  m.setOtlpSource(() => stats);
  ({ samples } = await scrape(m));
  assert.equal(value(samples, 'fleetprobe_otlp_exports_total', { result: 'success' }), 0);
  assert.equal(value(samples, 'fleetprobe_otlp_exports_total', { result: 'failure' }), 0);
  assert.equal(value(samples, 'fleetprobe_otlp_last_export_success_timestamp_seconds'), 0);
  assert.equal(value(samples, 'fleetprobe_otlp_exports_skipped_total'), 0);
  stats.exports = 3;
  stats.failures = 2;
  stats.skipped = 4;
  stats.lastSuccessAt = 1_700_000_123.5;
  ({ samples } = await scrape(m));
  assert.equal(value(samples, 'fleetprobe_otlp_exports_total', { result: 'success' }), 3);
  assert.equal(value(samples, 'fleetprobe_otlp_exports_total', { result: 'failure' }), 2);
  assert.equal(value(samples, 'fleetprobe_otlp_last_export_success_timestamp_seconds'), 1_700_000_123.5);
  assert.equal(value(samples, 'fleetprobe_otlp_exports_skipped_total'), 4);
});

test('target states always include configured, rejected and unresolved', async () => {
  const m = new SelfMetrics({ defaultMetrics: false });
  let { samples } = await scrape(m);
  for (const s of TARGET_STATES) assert.equal(value(samples, 'fleetprobe_targets', { state: s }), 0);
  m.setTargetStates({ configured: 9000, unresolved: 3 });
  ({ samples } = await scrape(m));
  assert.equal(value(samples, 'fleetprobe_targets', { state: 'configured' }), 9000);
  assert.equal(value(samples, 'fleetprobe_targets', { state: 'rejected' }), 0);
  assert.equal(value(samples, 'fleetprobe_targets', { state: 'unresolved' }), 3);
});

test('config reload: success sets the timestamp, failure keeps the last success time', async () => {
  let wall = 1_700_000_000_000;
  const m = new SelfMetrics({ defaultMetrics: false, wallNow: () => wall });
  let { samples } = await scrape(m);
  assert.equal(value(samples, 'fleetprobe_config_last_reload_successful'), 0);
  assert.equal(value(samples, 'fleetprobe_config_last_reload_success_timestamp_seconds'), 0);
  m.onReload(true);
  wall += 60_000;
  m.onReload(false);
  ({ samples } = await scrape(m));
  assert.equal(value(samples, 'fleetprobe_config_last_reload_successful'), 0);
  assert.equal(value(samples, 'fleetprobe_config_last_reload_success_timestamp_seconds'), 1_700_000_000);
  m.onReload(true);
  ({ samples } = await scrape(m));
  assert.equal(value(samples, 'fleetprobe_config_last_reload_successful'), 1);
  assert.equal(value(samples, 'fleetprobe_config_last_reload_success_timestamp_seconds'), 1_700_000_060);
});

test('store drop counters are read from the store at scrape time', async () => {
  const store = new TargetStore();
  store.defineSlot(0, { name: 'a', kind: 'icmp', address: '127.0.0.1', labels: {} });
  const m = new SelfMetrics({ defaultMetrics: false, store });
  const w = new BatchWriter(4);
  w.push(0, ProbeEvent.Sent);
  w.push(5, ProbeEvent.Sent);
  w.push(0, 200);
  m.workers.batch(0, store.applyBatch(w.take(0, 1)));
  const { samples } = await scrape(m);
  assert.equal(value(samples, 'fleetprobe_batch_records_unknown_slot_total'), 1);
  assert.equal(value(samples, 'fleetprobe_batch_records_malformed_total'), 1);
});

test('rejected batches are counted per worker', async () => {
  const m = new SelfMetrics({ defaultMetrics: false });
  m.workers.batchRejected(2);
  const { samples } = await scrape(m);
  assert.equal(value(samples, 'fleetprobe_batches_rejected_total', { worker: '2' }), 1);
  assert.equal(value(samples, 'fleetprobe_batches_rejected_total', { worker: '0' }), 0, 'lower workers exist too');
});

test('default process and nodejs metrics are registered without the lint-failing _total gauges', async () => {
  const m = new SelfMetrics();
  const { types } = await scrape(m);
  assert.equal(types.get('process_cpu_user_seconds_total'), 'counter');
  assert.ok(types.has('nodejs_eventloop_lag_seconds'));
  for (const n of LINT_FAILING_DEFAULT_METRICS) assert.equal(types.has(n), false, n);
  assert.equal(types.get('fleetprobe_worker_scheduling_lag_seconds'), 'summary');
  assert.equal(types.get('fleetprobe_worker_restarts_total'), 'counter');
});

test('ICMP RTT clocks, rejected kernel stamps and the socket state come from the batch headers into the worker record', async () => {
  const m = new SelfMetrics({ defaultMetrics: false });
  m.workers.configure(2);
  let { samples } = await scrape(m);
  for (const w of ['0', '1']) {
    for (const clock of ICMP_RTT_CLOCKS) assert.equal(value(samples, 'fleetprobe_worker_icmp_rtt_clock_total', { worker: w, clock }), 0);
    assert.equal(value(samples, 'fleetprobe_worker_icmp_kernel_timestamps_rejected_total', { worker: w }), 0);
    for (const family of ICMP_FAMILIES) {
      for (const g of ['socket_open', 'bpf_filter_attached', 'type_filter_attached', 'kernel_timestamps_enabled'])
        assert.equal(value(samples, `fleetprobe_worker_icmp_${g}`, { worker: w, family }), 0);
    }
  }
  const v4 = IcmpSocketBits.Open | IcmpSocketBits.BpfFilter | IcmpSocketBits.TypeFilter | IcmpSocketBits.KernelTimestamps;
  m.workers.batch(
    1,
    header((h) => {
      h[Header.IcmpRttKernel] = 90;
      h[Header.IcmpRttMonotonic] = 10;
      h[Header.IcmpStampsRejected] = 4;
      h[Header.IcmpSocket4] = v4;
      h[Header.IcmpSocket6] = IcmpSocketBits.Open | IcmpSocketBits.TypeFilter;
    }),
  );
  m.workers.batch(
    1,
    header((h) => {
      h[Header.IcmpRttKernel] = 10;
      h[Header.IcmpRttMonotonic] = 1;
      h[Header.IcmpSocket4] = v4;
      h[Header.IcmpSocket6] = IcmpSocketBits.Open | IcmpSocketBits.TypeFilter;
    }),
  );
  ({ samples } = await scrape(m));
  assert.equal(value(samples, 'fleetprobe_worker_icmp_rtt_clock_total', { worker: '1', clock: 'kernel' }), 100);
  assert.equal(value(samples, 'fleetprobe_worker_icmp_rtt_clock_total', { worker: '1', clock: 'monotonic' }), 11);
  assert.equal(value(samples, 'fleetprobe_worker_icmp_kernel_timestamps_rejected_total', { worker: '1' }), 4);
  const at = (g: string, family: string): number => value(samples, `fleetprobe_worker_icmp_${g}`, { worker: '1', family });
  assert.deepEqual(
    ['socket_open', 'bpf_filter_attached', 'type_filter_attached', 'kernel_timestamps_enabled'].map((g) => at(g, 'ipv4')),
    [1, 1, 1, 1],
  );
  assert.deepEqual(
    ['socket_open', 'bpf_filter_attached', 'type_filter_attached', 'kernel_timestamps_enabled'].map((g) => at(g, 'ipv6')),
    [1, 0, 1, 0],
  );
  assert.equal(value(samples, 'fleetprobe_worker_icmp_rtt_clock_total', { worker: '0', clock: 'kernel' }), 0, 'per worker');
});

test('the generation each worker acknowledged is the newest of its batches, and its launch generation before one', async () => {
  const m = new SelfMetrics({ defaultMetrics: false });
  m.workers.configure(1);
  m.workers.launched(0, 5);
  let { samples } = await scrape(m);
  assert.equal(value(samples, 'fleetprobe_worker_target_generation', { worker: '0' }), 5);
  m.workers.batch(
    0,
    header((h) => (h[Header.Generation] = 9)),
  );
  m.workers.batch(
    0,
    header((h) => (h[Header.Generation] = 7)),
  ); // never goes back
  ({ samples } = await scrape(m));
  assert.equal(value(samples, 'fleetprobe_worker_target_generation', { worker: '0' }), 9);
});

test('stale records and invalid values are read from the store at scrape time', async () => {
  const store = new TargetStore();
  store.defineSlot(0, { name: 'a', kind: 'icmp', address: '127.0.0.1', labels: {} }, 2);
  const m = new SelfMetrics({ defaultMetrics: false, store });
  const w = new BatchWriter(4);
  w.push(0, ProbeEvent.Sent);
  store.applyBatch(w.take(0, 1, 1)); // written before the target was put in slot 0
  w.push(0, ProbeEvent.Reply, 0, 0, -1);
  w.push(0, ProbeEvent.Reply, 0, 0, Number.NaN);
  store.applyBatch(w.take(0, 2, 2));
  const { samples } = await scrape(m);
  assert.equal(value(samples, 'fleetprobe_batch_records_stale_total'), 1);
  assert.equal(value(samples, 'fleetprobe_batch_records_invalid_value_total'), 2);
  assert.equal(value(samples, 'fleetprobe_batch_records_unknown_slot_total'), 0);
});

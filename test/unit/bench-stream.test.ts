import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBenchArgs, parseOnDemandUdp, wantsAbRun, type BenchOptions } from '../../load-tests/bench-args.js';
import type { OnDemandTestView } from '../../load-tests/ondemand-client.js';
import { onDemandFigures } from '../../load-tests/ondemand-udp-load.js';
import { lagFigures, loadCells, loadColumns, loadsFor, WindowTally, type AbRow } from '../../load-tests/stream-bench.js';
import { selectionWindows } from '../../load-tests/stream-load.js';

const opts = (argv: string[]): BenchOptions => {
  const o = parseBenchArgs(argv);
  assert.notEqual(o, 'help');
  return o as BenchOptions;
};

test('stream options: off by default; clients, streams, selection and rounds parsed; icmp only', () => {
  const d = opts([]);
  assert.equal(wantsAbRun(d), false);
  const o = opts(['--targets', '10000', '--stream-clients', '100', '--grpc-streams=10', '--stream-select', 'all', '--ab-rounds', '2']);
  assert.equal(wantsAbRun(o), true);
  assert.deepEqual([o.streamClients, o.grpcStreams, o.streamSelect, o.abRounds, o.sizes.icmp], [100, 10, 'all', 2, [10000]]);
  assert.equal(opts(['--grpc-streams', '1']).streamSelect, 100);
  assert.throws(() => parseBenchArgs(['--stream-clients', '-1']), /non-negative integer/);
  assert.throws(() => parseBenchArgs(['--stream-select', '0']), /positive integer/);
  assert.throws(() => parseBenchArgs(['--stream-clients', '2', '--kinds', 'icmp,http']), /icmp targets only/);
});

test('selection windows: consecutive, one per client, wrapping; all means no names (every target)', () => {
  const names = ['a', 'b', 'c', 'd', 'e'];
  assert.deepEqual(selectionWindows(names, 3, 2), [
    ['a', 'b'],
    ['c', 'd'],
    ['e', 'a'],
  ]);
  assert.deepEqual(selectionWindows(names, 2, 9), [names, names]);
  assert.deepEqual(selectionWindows(names, 2, 'all'), [[], []]);
  assert.deepEqual(selectionWindows(names, 0, 2), []);
});

test('window tally: sums, the lag histogram, and lag quantiles between two scrapes', () => {
  const scrape = (lines: string[]): WindowTally => {
    const t = new WindowTally();
    for (const l of lines) t.line(l);
    return t;
  };
  const lag = (c: number[], count: number): string[] => [
    '# TYPE fleetprobe_main_event_loop_lag_seconds histogram',
    `fleetprobe_main_event_loop_lag_seconds_bucket{le="0.001"} ${c[0]}`,
    `fleetprobe_main_event_loop_lag_seconds_bucket{le="0.01"} ${c[1]}`,
    `fleetprobe_main_event_loop_lag_seconds_bucket{le="0.02"} ${c[2]}`,
    `fleetprobe_main_event_loop_lag_seconds_bucket{le="0.05"} ${c[3]}`,
    `fleetprobe_main_event_loop_lag_seconds_bucket{le="+Inf"} ${count}`,
    `fleetprobe_main_event_loop_lag_seconds_count ${count}`,
  ];
  const a = scrape([
    ...lag([10, 10, 10, 10], 10),
    'fleetprobe_probe_sent_total{target="t0"} 5',
    'fleetprobe_probe_sent_total{target="t1"} 7',
    'fleetprobe_stream_dropped_clients_total{transport="sse",reason="buffer_full"} 1',
  ]);
  const b = scrape([...lag([100, 190, 198, 210], 210), 'fleetprobe_probe_sent_total{target="t0"} 15']);
  assert.equal(a.sum('fleetprobe_probe_sent_total'), 12);
  assert.equal(a.sum('fleetprobe_stream_dropped_clients_total'), 1);
  const f = lagFigures(a, b);
  assert.equal(f.samples, 200);
  // 200 samples: 90 under 1 ms, 90 in (1, 10], 8 in (10, 20], 12 in (20, 50].
  assert.ok(Math.abs(f.p50 - (1 + 9 * (10 / 90))) < 1e-9, String(f.p50));
  assert.ok(f.p99 > 20 && f.p99 <= 50, String(f.p99));
  assert.ok(Math.abs(f.over20ms - 12 / 200) < 1e-12);
});

test('--ondemand-udp COUNT@RATE: parsed, turns the A/B run on, bounded by the exporter limits', () => {
  assert.equal(opts([]).ondemandUdp, null);
  const o = opts(['--targets', '10000', '--ondemand-udp', '5000@1000']);
  assert.deepEqual(o.ondemandUdp, { count: 5000, rate: 1000 });
  assert.equal(wantsAbRun(o), true);
  assert.deepEqual(parseOnDemandUdp('--ondemand-udp', ' 10@1 '), { count: 10, rate: 1 });
  for (const bad of ['5000', '5000@', '@1000', '0@10', '10@0', '-1@10', '10@1.5', '10@x', '10@@10'])
    assert.throws(() => parseOnDemandUdp('--ondemand-udp', bad), /COUNT@RATE/, bad);
  assert.throws(() => parseOnDemandUdp('--ondemand-udp', '5000@1001'), /tests\.max_rate/);
  assert.throws(() => parseOnDemandUdp('--ondemand-udp', '1000001@10'), /tests\.max_count/);
  assert.throws(() => parseBenchArgs(['--ondemand-udp', '10@10', '--kinds', 'udp']), /icmp targets only/);
});

test('on-demand figures: the cell and facts from a test view; a failed or missing test says why', () => {
  const spec = { count: 5000, rate: 1000 };
  const view: OnDemandTestView = {
    id: 'x',
    state: 'done',
    result: { sent: 5000, received: 4990, loss_ratio: 0.002, rtt_seconds: { min: 0.0001, avg: 0.0002, max: 0.004, p50: 0.00015, p90: 0.0003, p99: 0.0012 } },
  };
  const f = onDemandFigures(spec, view, null);
  assert.equal(f.cell, '4990 of 5000 (loss 0.20%), p99 1.20 ms');
  assert.deepEqual([f.sent, f.received, f.loss, f.rtt_p99_ms], [5000, 4990, '0.20%', '1.20']);
  assert.match(String(onDemandFigures(spec, { ...view, state: 'cancelled' }, null).cell), /\[cancelled\]$/);
  assert.equal(onDemandFigures(spec, null, 'POST /api/v1/tests answered 429').cell, 'failed: POST /api/v1/tests answered 429');
  assert.equal(onDemandFigures(spec, { id: 'x', state: 'failed' }, null).cell, 'failed: state failed, no result');
  const none = {
    ...view,
    result: { ...view.result!, received: 0, loss_ratio: 1, rtt_seconds: { min: null, avg: null, max: null, p50: null, p90: null, p99: null } },
  };
  assert.equal(onDemandFigures(spec, none, null).cell, '0 of 5000 (loss 100.00%), p99 — ms');
  const dropped = onDemandFigures(spec, view, null, { rcvbufErrors: 10, sndbufErrors: 0, inErrors: 10 });
  assert.equal(dropped.cell, '4990 of 5000 (loss 0.20%), p99 1.20 ms; kernel udp drops 10 receive, 0 send buffer');
  assert.deepEqual([dropped.kernel_udp_rcvbuf_drops, dropped.kernel_udp_sndbuf_drops], [10, 0]);
});

test('load columns: only loads with a column; A rows get a dash, B rows the cell', () => {
  const o = opts(['--stream-clients', '2', '--ondemand-udp', '100@100']);
  const loads = loadsFor(o);
  assert.deepEqual(
    loads.map((l) => l.name),
    ['stream', 'ondemand-udp'],
  );
  assert.deepEqual(loadColumns(loads), ['on-demand udp: received of sent, RTT p99']);
  const row = (figs: Record<string, string | number>[]): AbRow => ({ loads: figs }) as unknown as AbRow;
  assert.deepEqual(loadCells(loads, row([])), ['—']);
  assert.deepEqual(loadCells(loads, row([{ sse_events: 5 }, { cell: '100 of 100' }])), ['100 of 100']);
  assert.deepEqual(loadColumns(loadsFor(opts(['--stream-clients', '2']))), []);
});

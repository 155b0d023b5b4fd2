import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBenchArgs, wantsAbRun, type BenchOptions } from '../../load-tests/bench-args.js';
import { lagFigures, WindowTally } from '../../load-tests/stream-bench.js';
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

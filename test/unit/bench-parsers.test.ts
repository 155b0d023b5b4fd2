import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExpositionTally, LineSplitter } from '../../load-tests/exposition-tally.js';
import { parseFpingSummary, parsePingTimes } from '../../load-tests/ping-parse.js';
import { parseProcStat, parseStatusKb, parseUdpSnmp } from '../../load-tests/proc-stats.js';
import { parseBenchArgs } from '../../load-tests/bench-args.js';

const EXPOSITION = `# HELP fleetprobe_probe_sent_total Probes sent.
# TYPE fleetprobe_probe_sent_total counter
fleetprobe_probe_sent_total{target="t1",address="127.0.0.2",kind="icmp"} 10
fleetprobe_probe_sent_total{target="t2",address="127.0.0.3",kind="icmp"} 5
fleetprobe_probe_errors_total{target="t1",address="127.0.0.2",kind="icmp",reason="send_failed"} 1
fleetprobe_probe_errors_total{target="t1",address="127.0.0.2",kind="icmp",reason="host_unreachable"} 2
fleetprobe_probe_rtt_seconds_bucket{target="t1",address="127.0.0.2",kind="icmp",le="0.0001"} 3
fleetprobe_probe_rtt_seconds_bucket{target="t1",address="127.0.0.2",kind="icmp",le="0.0002"} 7
fleetprobe_probe_rtt_seconds_bucket{target="t1",address="127.0.0.2",kind="icmp",le="+Inf"} 7
fleetprobe_probe_rtt_seconds_bucket{target="t2",address="127.0.0.3",kind="icmp",le="0.0001"} 1
fleetprobe_probe_rtt_seconds_bucket{target="t2",address="127.0.0.3",kind="icmp",le="0.0002"} 5
fleetprobe_probe_rtt_seconds_bucket{target="t2",address="127.0.0.3",kind="icmp",le="+Inf"} 5
fleetprobe_worker_scheduling_lag_seconds_count{worker="0"} 4
process_cpu_seconds_total 1.5
`;

test('ExpositionTally sums chosen families over all series and the RTT histogram over all and sample targets', () => {
  const t = new ExpositionTally(
    ['fleetprobe_probe_sent_total', 'fleetprobe_probe_errors_total', 'fleetprobe_worker_scheduling_lag_seconds_count'],
    new Set(['t2']),
  );
  // Feed in odd-sized chunks to exercise line reassembly.
  const split = new LineSplitter((l) => t.line(l));
  for (let i = 0; i < EXPOSITION.length; i += 7) split.push(EXPOSITION.slice(i, i + 7));
  split.end();
  assert.equal(t.sum('fleetprobe_probe_sent_total'), 15);
  assert.equal(t.sum('fleetprobe_probe_errors_total'), 3);
  assert.equal(t.sum('fleetprobe_worker_scheduling_lag_seconds_count'), 4);
  assert.deepEqual(t.all.totals(), { bounds: [0.0001, 0.0002], cumulative: [4, 12], total: 12 });
  assert.deepEqual(t.sample.totals(), { bounds: [0.0001, 0.0002], cumulative: [1, 5], total: 5 });
  assert.equal(t.lines, 12);
});

test('ExpositionTally matches the target label exactly, not as a suffix of another label', () => {
  const t = new ExpositionTally([], new Set(['a']));
  t.line('fleetprobe_probe_rtt_seconds_bucket{xtarget="a",target="b",le="+Inf"} 9');
  t.line('fleetprobe_probe_rtt_seconds_bucket{target="a",le="+Inf"} 2');
  assert.equal(t.sample.totals().total, 2);
  assert.equal(t.all.totals().total, 11);
});

test('parsePingTimes reads every per-reply time in microseconds and ignores the summary', () => {
  const out = `PING 127.0.0.2 (127.0.0.2) 56(84) bytes of data.
64 bytes from 127.0.0.2: icmp_seq=1 ttl=64 time=0.045 ms
64 bytes from 127.0.0.2: icmp_seq=2 ttl=64 time=0.110 ms

--- 127.0.0.2 ping statistics ---
2 packets transmitted, 2 received, 0% packet loss, time 10ms
rtt min/avg/max/mdev = 0.045/0.077/0.110/0.032 ms`;
  const t = parsePingTimes(out);
  assert.equal(t.length, 2);
  assert.ok(Math.abs(t[0] - 45) < 1e-9 && Math.abs(t[1] - 110) < 1e-9);
});

test('parseFpingSummary totals xmt and rcv over targets', () => {
  const err = `127.0.0.2 : xmt/rcv/%loss = 3/3/0%, min/avg/max = 0.053/0.058/0.066
127.0.0.3 : xmt/rcv/%loss = 4/2/50%, min/avg/max = 0.015/0.020/0.023
127.0.0.4 : xmt/rcv/%loss = 1/0/100%`;
  assert.deepEqual(parseFpingSummary(err), { targets: 3, sent: 8, received: 5 });
});

test('parseProcStat counts fields after the last parenthesis of comm; parseStatusKb reads kB lines', () => {
  const stat = '1234 (node (worker) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 5 0 0';
  assert.deepEqual(parseProcStat(stat), { utimeTicks: 250, stimeTicks: 75 });
  assert.throws(() => parseProcStat('garbage'), SyntaxError);
  assert.equal(parseStatusKb('Name:\tnode\nVmHWM:\t  123456 kB\nVmRSS:\t 1 kB\n', 'VmHWM'), 123456 * 1024);
  assert.ok(Number.isNaN(parseStatusKb('Name: x\n', 'VmHWM')));
});

test('parseUdpSnmp reads the drop counters by column name from the Udp: lines of /proc/net/snmp', () => {
  const snmp = [
    'Ip: Forwarding DefaultTTL',
    'Ip: 1 64',
    'Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors',
    'Udp: 4927032 468 11695 4939230 11690 3 5 0 0',
    'UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors',
    'UdpLite: 0 0 0 0 0 0 0 0 0',
  ].join('\n');
  assert.deepEqual(parseUdpSnmp(snmp), { rcvbufErrors: 11690, sndbufErrors: 3, inErrors: 11695 });
  assert.equal(parseUdpSnmp('Ip: Forwarding\nIp: 1\n'), null);
  assert.equal(parseUdpSnmp('Udp: InDatagrams InErrors\nUdp: 1 2\n'), null, 'a missing column is no answer, not a zero');
});

test('parseBenchArgs reads lists, durations and kinds, and rejects what it does not know', () => {
  const o = parseBenchArgs(['--targets', '1000,10000', '--interval', '500ms', '--duration=20s', '--kinds', 'icmp,http', '--workers', '3', '--fping', 'none']);
  assert.notEqual(o, 'help');
  if (o === 'help') return;
  assert.deepEqual(o.sizes.icmp, [1000, 10000]);
  assert.equal(o.intervalMs, 500);
  assert.equal(o.durationMs, 20_000);
  assert.deepEqual(o.kinds, ['icmp', 'http']);
  assert.equal(o.workers, 3);
  assert.deepEqual(o.fpingSizes, []);
  assert.equal(o.warmupMs, 3000);
  const u = parseBenchArgs(['--kinds', 'udp,tcp_echo,tcp', '--udp-targets', '1000,5000', '--tcp-targets', '300']);
  assert.ok(u !== 'help');
  assert.deepEqual([u.kinds, u.sizes.udp, u.sizes.tcp_echo, u.sizes.tcp], [['udp', 'tcp_echo', 'tcp'], [1000, 5000], [5000], [300]]);
  assert.equal(parseBenchArgs(['--help']), 'help');
  const otlp = parseBenchArgs(['--otlp', '10000,50000']);
  assert.ok(otlp !== 'help');
  assert.deepEqual(otlp.otlpSizes, [10000, 50000]);
  const none = parseBenchArgs(['--otlp', 'none']);
  assert.ok(none !== 'help');
  assert.deepEqual(none.otlpSizes, []);
  assert.throws(() => parseBenchArgs(['--otlp', '10k']));
  assert.throws(() => parseBenchArgs(['--kinds', 'icmp,smtp']), /unknown kind/);
  assert.throws(() => parseBenchArgs(['--targets', '10,-1']), /positive integers/);
  assert.throws(() => parseBenchArgs(['--duration', '30']), /--duration/);
  assert.throws(() => parseBenchArgs(['--bogus', '1']), /unknown option/);
});

test('scrape-load accepts only loopback http URLs and bounded settings', async () => {
  const { isLoopbackUrl, parseScrapeLoadArgs } = await import('../../load-tests/scrape-load.js');
  assert.ok(isLoopbackUrl('http://127.0.0.1:9798'));
  assert.ok(isLoopbackUrl('http://127.3.2.1'));
  assert.ok(isLoopbackUrl('http://localhost:1'));
  assert.ok(isLoopbackUrl('http://[::1]:9798'));
  assert.ok(!isLoopbackUrl('http://10.0.0.1:9798'));
  assert.ok(!isLoopbackUrl('http://128.0.0.1'));
  assert.ok(!isLoopbackUrl('https://127.0.0.1'));
  assert.ok(!isLoopbackUrl('not a url'));
  const o = parseScrapeLoadArgs(['--url', 'http://127.0.0.1:9798/', '--concurrency', '8', '--duration', '5s', '--gzip']);
  assert.notEqual(o, 'help');
  if (o !== 'help') {
    assert.equal(o.url, 'http://127.0.0.1:9798');
    assert.equal(o.concurrency, 8);
    assert.equal(o.durationMs, 5000);
    assert.equal(o.gzip, true);
  }
  assert.throws(() => parseScrapeLoadArgs(['--url', 'http://192.168.1.1']), /loopback/);
  assert.throws(() => parseScrapeLoadArgs(['--url', 'http://127.0.0.1', '--duration', '1h']), /10m/);
  assert.throws(() => parseScrapeLoadArgs([]), /--url is required/);
});

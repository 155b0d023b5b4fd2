/**
 * Two real Prometheus servers (Debian's 2.42) scrape one real exporter: one with
 * `--enable-feature=native-histograms`, which asks for the protobuf exposition and
 * stores fleetprobe_probe_rtt_seconds as a native histogram, and one without, which
 * reads the text and its classic buckets. For every target, histogram_count() and
 * histogram_quantile(0.5, …) of the native histogram must answer, the count rate must
 * equal the received rate of the same scrapes, and the median must agree with the
 * classic buckets' median within the width of the classic bucket it falls in.
 * Needs root (raw ICMP sockets) and the prometheus binary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExporterProcess, NEEDS_ROOT, tempDir, waitFor } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { prometheusUnavailable, startPrometheus, type PrometheusServer, type PromVectorSample } from '../helpers/prometheus.js';
import { DEFAULT_RTT_BUCKETS } from '../../src/aggregate/buckets.js';

const SKIP = NEEDS_ROOT || prometheusUnavailable();
const JOB = 'fleetprobe-native';
const TARGETS = [
  { name: 'lo4', address: '127.0.0.1' },
  { name: 'lo4b', address: '127.0.0.2', labels: { rack: 'r1' } },
  { name: 'lo6', address: '::1' },
];

function byTarget(rows: PromVectorSample[]): Map<string, number> {
  return new Map(rows.map((r) => [r.metric.target, Number(r.value[1])]));
}

/** Width of the classic bucket (of the default bounds) that holds v. */
function classicWidth(v: number): number {
  let lower = 0;
  for (const b of DEFAULT_RTT_BUCKETS) {
    if (v <= b) return b - lower;
    lower = b;
  }
  return Infinity;
}

test(
  'Prometheus with native histograms scrapes protobuf: histogram_count and histogram_quantile answer for every target and agree with the classic buckets',
  { skip: SKIP, timeout: 90_000 },
  async (t) => {
    const dir = tempDir('fp-promnative');
    const port = await freePort();
    const listen = `127.0.0.1:${port}`;
    const cfg = dir.file('c.yaml', {
      workers: 2,
      flush_interval: '100ms',
      web: { listen_address: listen },
      probe_defaults: { interval: '100ms', timeout: '500ms' },
      targets: TARGETS,
    });
    const exp = new ExporterProcess(['run', '--config', cfg], listen);
    const servers: PrometheusServer[] = [];
    t.after(async () => {
      for (const s of servers) await s.stop();
      await exp.stop(2000);
      dir.cleanup();
    });
    await exp.waitReady(15_000);
    const native = await startPrometheus({ job: JOB, targets: [listen], scrapeInterval: '1s', features: ['native-histograms'] });
    servers.push(native);
    const classic = await startPrometheus({ job: JOB, targets: [listen], scrapeInterval: '1s' });
    servers.push(classic);
    const withLog = (p: PrometheusServer) => (err: Error) => {
      throw new Error(`${err.message}\nprometheus log:\n${p.log()}\nexporter:\n${exp.tail()}`);
    };

    const countQuery = `histogram_count(rate(fleetprobe_probe_rtt_seconds{job="${JOB}"}[1m]))`;
    let counts = new Map<string, number>();
    await waitFor(
      'a native count rate for every target',
      async () => {
        counts = byTarget(await native.query(countQuery));
        return TARGETS.every((x) => (counts.get(x.name) ?? 0) > 0) && counts;
      },
      30_000,
      500,
    ).catch(withLog(native));
    await waitFor(
      'classic buckets for every target',
      async () => {
        const rows = byTarget(await classic.query(`sum by (target) (rate(fleetprobe_probe_rtt_seconds_count{job="${JOB}"}[1m]))`));
        return TARGETS.every((x) => (rows.get(x.name) ?? 0) > 0);
      },
      30_000,
      500,
    ).catch(withLog(classic));
    // A few more scrapes so that both windows hold several samples.
    await new Promise((r) => setTimeout(r, 5000));

    // The native server stored the histogram as native: no classic series there; the text server has them.
    assert.equal(
      (await native.query(`count(fleetprobe_probe_rtt_seconds_bucket{job="${JOB}"})`)).length,
      0,
      'native server: no _bucket series (it read protobuf)',
    );
    assert.equal(
      Number((await classic.query(`count(fleetprobe_probe_rtt_seconds_bucket{job="${JOB}"})`))[0]?.value[1]),
      TARGETS.length * (DEFAULT_RTT_BUCKETS.length + 1),
    );

    // Count rate of the native histogram = received rate of the same scrapes (same series, same timestamps).
    const both = await native.query(
      `histogram_count(rate(fleetprobe_probe_rtt_seconds{job="${JOB}"}[1m])) / on (target, instance, job) rate(fleetprobe_probe_received_total{job="${JOB}"}[1m])`,
    );
    const ratio = byTarget(both);
    for (const x of TARGETS) {
      const r = ratio.get(x.name);
      assert.ok(r !== undefined && Math.abs(r - 1) < 1e-9, `${x.name}: native count rate / received rate = ${r}`);
    }
    // [1m] holds only the test's few seconds (rate() divides by the whole range): the absolute rate over [5s].
    const nativeRates = byTarget(await native.query(`histogram_count(rate(fleetprobe_probe_rtt_seconds{job="${JOB}"}[5s]))`));
    for (const x of TARGETS) {
      const r = nativeRates.get(x.name)!;
      assert.ok(r > 5 && r < 15, `${x.name}: ~10 answers per second, native count rate ${r}`);
    }

    // Medians: native vs classic, within the width of the classic bucket holding the classic median.
    const nativeMedian = byTarget(await native.query(`histogram_quantile(0.5, rate(fleetprobe_probe_rtt_seconds{job="${JOB}"}[1m]))`));
    const classicMedian = byTarget(
      await classic.query(`histogram_quantile(0.5, sum by (target, le) (rate(fleetprobe_probe_rtt_seconds_bucket{job="${JOB}"}[1m])))`),
    );
    for (const x of TARGETS) {
      const n = nativeMedian.get(x.name);
      const c = classicMedian.get(x.name);
      assert.ok(n !== undefined && n > 0 && n < 0.5, `${x.name}: native median ${n}`);
      assert.ok(c !== undefined && c > 0, `${x.name}: classic median ${c}`);
      const width = classicWidth(c);
      assert.ok(Math.abs(n - c) <= width, `${x.name}: native median ${n} vs classic ${c}: more than a bucket's width (${width}) apart`);
    }
    const labels = (await native.query(`histogram_count(fleetprobe_probe_rtt_seconds{job="${JOB}",target="lo4b"})`))[0]?.metric;
    assert.equal(labels?.rack, 'r1', 'the labels came through the protobuf LabelPairs');
    assert.equal(labels?.address, '127.0.0.2');
  },
);

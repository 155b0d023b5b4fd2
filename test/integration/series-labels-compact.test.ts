/**
 * metrics.series_labels through the real CLI (ICMP and TCP to loopback; needs root):
 *  - check-config refuses a bad value with exit 2, naming the key;
 *  - an exporter in compact mode and one in full mode probe the same targets; the
 *    compact text passes `promtool check metrics`, its protobuf has the info family and
 *    no address/kind elsewhere; a real Prometheus scraping both (text, and protobuf with
 *    native histograms) answers the same label sets and the same per-kind groupings for
 *    compact joined with `* on(job, instance, target) group_left(address, kind)
 *    fleetprobe_target_info` as for full;
 *  - SIGHUP and POST /-/reload switch a running exporter between the modes (counters
 *    carry on), and a bad value on reload is refused with the key named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExporterProcess, NEEDS_ROOT, runCli, tempDir, waitFor } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { hasPromtool, promtoolCheckMetrics } from '../helpers/promtool.js';
import { prometheusUnavailable, startPrometheus, type PrometheusServer, type PromVectorSample } from '../helpers/prometheus.js';
import { decodeDelimited, labelsOf } from '../helpers/prom-protobuf.js';
import { parsePrometheusText } from '../../src/metrics/text-parse.js';

const PROTOBUF_ACCEPT = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3';
const INFO = 'fleetprobe_target_info';

test('check-config: a bad metrics.series_labels exits 2 with the key named', { timeout: 30_000 }, async (t) => {
  const dir = tempDir('fp-serieslabels-check');
  t.after(() => dir.cleanup());
  const bad = await runCli(['check-config', '--config', dir.file('c.yaml', { metrics: { series_labels: 'tiny' } })]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /metrics\.series_labels: must be one of full, compact/);
  const good = await runCli(['check-config', '--config', dir.file('g.yaml', { metrics: { series_labels: 'compact' } })]);
  assert.equal(good.code, 0, good.stderr);
});

/** A vector's label sets without job and instance, as sorted JSON strings. */
function labelSets(rows: PromVectorSample[]): string[] {
  return rows
    .map((r) => {
      const { job: _j, instance: _i, __name__: _n, ...rest } = r.metric;
      return JSON.stringify(Object.fromEntries(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1))));
    })
    .sort();
}

const JOIN = `* on (job, instance, target) group_left (address, kind) ${INFO}{job="compact"}`;

test(
  'compact vs full on the same targets: promtool passes, protobuf has the info family, and Prometheus answers the same through the join',
  { skip: NEEDS_ROOT || prometheusUnavailable(), timeout: 120_000 },
  async (t) => {
    const dir = tempDir('fp-serieslabels');
    const closed = await freePort(); // nothing listens: tcp probes are refused, a real errors_total series
    const targets = [
      { name: 'lo4', address: '127.0.0.1', labels: { rack: 'r1' } },
      { name: 'lo4b', address: '127.0.0.2' },
      { name: 'lo6', address: '::1', labels: { rack: 'r2' } },
      { name: 'refused', kind: 'tcp', address: `127.0.0.1:${closed}`, labels: { rack: 'r1' } },
    ];
    const start = async (mode: string): Promise<{ exp: ExporterProcess; listen: string }> => {
      const listen = `127.0.0.1:${await freePort()}`;
      const cfg = dir.file(`${mode}.yaml`, {
        workers: 1,
        flush_interval: '100ms',
        web: { listen_address: listen },
        metrics: { series_labels: mode },
        probe_defaults: { interval: '200ms', timeout: '500ms' },
        targets,
      });
      return { exp: new ExporterProcess(['run', '--config', cfg], listen), listen };
    };
    const full = await start('full');
    const compact = await start('compact');
    const servers: PrometheusServer[] = [];
    t.after(async () => {
      for (const s of servers) await s.stop();
      await full.exp.stop(2000);
      await compact.exp.stop(2000);
      dir.cleanup();
    });
    await full.exp.waitReady(15_000);
    await compact.exp.waitReady(15_000);

    // The text: info first, no address/kind elsewhere; promtool's linter passes.
    const text = await waitFor(
      'answered probes in the compact text',
      async () => {
        const body = (await compact.exp.request('/metrics')).text();
        return /^fleetprobe_probe_received_total\{target="lo4",rack="r1"\} [1-9]/m.test(body) && body;
      },
      15_000,
      200,
    );
    const parsed = parsePrometheusText(text);
    const families = [...parsed.types.keys()];
    assert.equal(families.indexOf(INFO) + 1, families.indexOf('fleetprobe_probe_sent_total'), 'the info family right before the per-target families');
    const info = parsed.samples.filter((s) => s.name === INFO);
    assert.deepEqual(
      info.map((s) => s.labels).sort((a, b) => (a.target < b.target ? -1 : 1)),
      [
        { target: 'lo4', rack: 'r1', address: '127.0.0.1', kind: 'icmp' },
        { target: 'lo4b', address: '127.0.0.2', kind: 'icmp' },
        { target: 'lo6', rack: 'r2', address: '::1', kind: 'icmp' },
        { target: 'refused', rack: 'r1', address: `127.0.0.1:${closed}`, kind: 'tcp' },
      ],
    );
    for (const s of parsed.samples) {
      if (s.labels.target === undefined || s.name === INFO) continue;
      assert.ok(!('address' in s.labels) && !('kind' in s.labels), `${s.name} ${JSON.stringify(s.labels)}`);
    }
    if (hasPromtool) {
      const lint = await promtoolCheckMetrics(text);
      assert.equal(lint.code, 0, lint.out);
    }

    // The protobuf: the same info series, the per-target families without address and kind.
    const fams = decodeDelimited((await compact.exp.request('/metrics', { headers: { accept: PROTOBUF_ACCEPT } })).body);
    const pbInfo = fams.find((f) => f.name === INFO);
    assert.ok(pbInfo !== undefined, 'info family in the protobuf');
    assert.equal(pbInfo.type, 'GAUGE');
    assert.deepEqual(
      pbInfo.metric.map((m) => JSON.stringify(Object.entries(labelsOf(m)).sort())).sort(),
      info.map((s) => JSON.stringify(Object.entries(s.labels).sort())).sort(),
      'the same info series as the text',
    );
    const rtt = fams.find((f) => f.name === 'fleetprobe_probe_rtt_seconds')!;
    for (const m of rtt.metric) assert.ok(!('kind' in labelsOf(m)) && !('address' in labelsOf(m)), JSON.stringify(labelsOf(m)));

    // Prometheus: text scrapes of both, and protobuf (native histograms) of both.
    const textProm = await startPrometheus({
      job: 'unused',
      targets: [],
      scrapeInterval: '1s',
      jobs: [
        { job: 'full', targets: [full.listen], scrape: {} },
        { job: 'compact', targets: [compact.listen], scrape: {} },
      ],
    });
    servers.push(textProm);
    const nativeProm = await startPrometheus({
      job: 'unused',
      targets: [],
      scrapeInterval: '1s',
      features: ['native-histograms'],
      jobs: [
        { job: 'full', targets: [full.listen], scrape: {} },
        { job: 'compact', targets: [compact.listen], scrape: {} },
      ],
    });
    servers.push(nativeProm);
    for (const prom of servers) {
      await waitFor(
        'both jobs scraped, with a rate over two samples',
        async () => {
          const r = await prom.query(`count by (job) (rate(fleetprobe_probe_sent_total[10s]) > 0)`);
          return r.length === 2 && r.every((x) => Number(x.value[1]) === targets.length);
        },
        30_000,
        500,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${prom.log()}`);
      });
    }

    const same = async (prom: PrometheusServer, what: string, fullQ: string, compactQ: string): Promise<PromVectorSample[]> => {
      const f = await prom.query(fullQ);
      const c = await prom.query(compactQ);
      assert.ok(f.length > 0, `${what}: full answers`);
      assert.deepEqual(labelSets(c), labelSets(f), `${what}: the same label sets`);
      return c;
    };
    for (const [prom, name] of [
      [textProm, 'text'],
      [nativeProm, 'protobuf'],
    ] as const) {
      for (const family of [
        'fleetprobe_probe_sent_total',
        'fleetprobe_probe_errors_total',
        'fleetprobe_probe_loss_ratio',
        'fleetprobe_probe_last_rtt_seconds',
      ]) {
        await same(prom, `${name} ${family}`, `${family}{job="full"}`, `${family}{job="compact"} ${JOIN}`);
      }
      // What the dashboard and the rules group by: kind (and address).
      const byKind = await same(
        prom,
        `${name} sent by kind`,
        `count by (kind) (fleetprobe_probe_sent_total{job="full"})`,
        `count by (kind) (fleetprobe_probe_sent_total{job="compact"} ${JOIN})`,
      );
      assert.deepEqual(Object.fromEntries(byKind.map((r) => [r.metric.kind, Number(r.value[1])])), { icmp: 3, tcp: 1 }, `${name}: targets per kind`);
      await same(
        prom,
        `${name} refused by kind and address`,
        `sum by (kind, address) (rate(fleetprobe_probe_errors_total{job="full",reason="refused"}[10s])) > 0`,
        `sum by (kind, address) (rate(fleetprobe_probe_errors_total{job="compact",reason="refused"}[10s]) ${JOIN}) > 0`,
      );
      // The join keeps the values: compact joined minus compact alone is 0 for every series.
      const diff = await prom.query(
        `fleetprobe_probe_sent_total{job="compact"} ${JOIN} - on (job, instance, target) fleetprobe_probe_sent_total{job="compact"}`,
      );
      assert.equal(diff.length, targets.length);
      for (const r of diff) assert.equal(Number(r.value[1]), 0, JSON.stringify(r.metric));
    }
    // RTT: classic buckets over text, the native histogram over protobuf, both grouped by kind through the join.
    await same(
      textProm,
      'text RTT p50 by kind',
      `histogram_quantile(0.5, sum by (kind, le) (rate(fleetprobe_probe_rtt_seconds_bucket{job="full"}[10s])))`,
      `histogram_quantile(0.5, sum by (kind, le) (rate(fleetprobe_probe_rtt_seconds_bucket{job="compact"}[10s]) ${JOIN}))`,
    );
    await same(
      nativeProm,
      'native RTT count by kind',
      `sum by (kind) (histogram_count(rate(fleetprobe_probe_rtt_seconds{job="full"}[10s])))`,
      `sum by (kind) (histogram_count(rate(fleetprobe_probe_rtt_seconds{job="compact"}[10s])) ${JOIN})`,
    );
  },
);

test(
  'SIGHUP and POST /-/reload switch the series labels; counters carry on; a bad value is refused with the key',
  { skip: NEEDS_ROOT, timeout: 60_000 },
  async (t) => {
    const dir = tempDir('fp-serieslabels-reload');
    const listen = `127.0.0.1:${await freePort()}`;
    const config = (mode: string): string =>
      dir.file('c.yaml', {
        workers: 1,
        flush_interval: '100ms',
        web: { listen_address: listen },
        metrics: { series_labels: mode },
        probe_defaults: { interval: '100ms', timeout: '500ms' },
        targets: [{ name: 'lo', address: '127.0.0.1', labels: { rack: 'r1' } }],
      });
    const exp = new ExporterProcess(['run', '--config', config('full')], listen);
    t.after(async () => {
      await exp.stop(2000);
      dir.cleanup();
    });
    await exp.waitReady(15_000);
    const sent = (body: string, labels: string): number => {
      const m = new RegExp(`^fleetprobe_probe_sent_total\\{${labels}\\} (\\d+)$`, 'm').exec(body);
      return m === null ? -1 : Number(m[1]);
    };
    const FULL = 'target="lo",address="127\\.0\\.0\\.1",kind="icmp",rack="r1"';
    const COMPACT = 'target="lo",rack="r1"';
    const before = await waitFor(
      'probes sent',
      async () => {
        const body = (await exp.request('/metrics')).text();
        return sent(body, FULL) >= 3 && body;
      },
      15_000,
      100,
    );
    assert.doesNotMatch(before, new RegExp(INFO), 'full: no info family');

    config('compact');
    exp.signal('SIGHUP');
    const compact = await waitFor(
      'compact labels after SIGHUP',
      async () => {
        const body = (await exp.request('/metrics')).text();
        return sent(body, COMPACT) >= 0 && body;
      },
      15_000,
      100,
    );
    assert.match(compact, /^fleetprobe_target_info\{target="lo",rack="r1",address="127\.0\.0\.1",kind="icmp"\} 1$/m);
    assert.equal(sent(compact, FULL), -1, 'no full series left');
    assert.ok(sent(compact, COMPACT) >= sent(before, FULL), 'counters carried on');

    config('nonsense');
    const refused = await exp.request('/-/reload', { method: 'POST' });
    assert.equal(refused.status, 400);
    assert.match(refused.text(), /metrics\.series_labels/);
    assert.ok(sent((await exp.request('/metrics')).text(), COMPACT) >= 0, 'a refused reload changes nothing');

    config('full');
    const r = await exp.request('/-/reload', { method: 'POST' });
    assert.equal(r.status, 200, r.text());
    const back = (await exp.request('/metrics')).text();
    assert.doesNotMatch(back, new RegExp(INFO), 'full again: no info family');
    assert.ok(sent(back, FULL) >= sent(compact, COMPACT), 'the same counters under the full labels');
  },
);

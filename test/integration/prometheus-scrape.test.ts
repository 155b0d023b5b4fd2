/**
 * A real Prometheus (Debian's /usr/bin/prometheus) scrapes the real exporter every
 * second; PromQL over its HTTP API must see the target up and a positive receive
 * rate, zero loss, and RTT quantiles from the histogram, for every configured target.
 * This checks what no parser of ours can: that Prometheus itself accepts the
 * exposition and that rate()/histogram_quantile() work on it.
 * Needs root (raw ICMP sockets) and the prometheus binary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NEEDS_ROOT, tempDir, waitFor } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { exporterScrapedByPrometheus, prometheusUnavailable, type PromVectorSample } from '../helpers/prometheus.js';

const SKIP = NEEDS_ROOT || prometheusUnavailable();
const JOB = 'fleetprobe-it';
const TARGETS = [
  { name: 'lo4', address: '127.0.0.1', labels: { rack: 'r1' } },
  { name: 'lo4b', address: '127.0.0.2' },
  { name: 'lo6', address: '::1' },
];

function byTarget(rows: PromVectorSample[]): Map<string, number> {
  return new Map(rows.map((r) => [r.metric.target, Number(r.value[1])]));
}

test('Prometheus scrapes the exporter and PromQL sees every target', { skip: SKIP, timeout: 60_000 }, async (t) => {
  const dir = tempDir('fp-promscrape');
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const cfg = dir.file('c.yaml', {
    workers: 2,
    flush_interval: '100ms',
    web: { listen_address: listen },
    probe_defaults: { interval: '100ms', timeout: '500ms', labels: { env: 'it' } },
    targets: TARGETS,
  });
  const { prom: p } = await exporterScrapedByPrometheus(t, { config: cfg, listen, job: JOB, dir });

  await waitFor(`up{job="${JOB}"} == 1`, async () => (await p.query(`up{job="${JOB}"} == 1`)).length === 1, 15_000, 250).catch((err: Error) => {
    throw new Error(`${err.message}\nprometheus log:\n${p.log()}`);
  });

  const rateQuery = `sum by (target) (rate(fleetprobe_probe_received_total{job="${JOB}"}[5s]))`;
  // The first windows hold only two samples and under-read; wait for a full one.
  let last = new Map<string, number>();
  const rates = await waitFor(
    'a receive rate of ~10/s for every target',
    async () => {
      last = byTarget(await p.query(rateQuery));
      return TARGETS.every((x) => (last.get(x.name) ?? 0) > 5) && last;
    },
    20_000,
    500,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last rates: ${JSON.stringify([...last])}`);
  });
  assert.deepEqual([...rates.keys()].sort(), TARGETS.map((x) => x.name).sort());
  for (const x of TARGETS) {
    // 100 ms interval: ~10 replies per second; the rate window smooths scrape jitter.
    const r = rates.get(x.name)!;
    assert.ok(r > 5 && r < 15, `${x.name}: receive rate ${r}/s`);
  }

  const labels = await p.query(`fleetprobe_probe_sent_total{job="${JOB}"}`);
  assert.equal(labels.length, TARGETS.length);
  for (const row of labels) {
    const def = TARGETS.find((x) => x.name === row.metric.target)!;
    assert.equal(row.metric.address, def.address);
    assert.equal(row.metric.kind, 'icmp');
    assert.equal(row.metric.env, 'it');
    assert.equal(row.metric.rack, def.labels?.rack);
    assert.equal(row.metric.instance, listen);
  }

  const timeouts = byTarget(await p.query(`sum by (target) (increase(fleetprobe_probe_timeouts_total{job="${JOB}"}[10s]))`));
  for (const x of TARGETS) assert.equal(timeouts.get(x.name), 0, `${x.name}: timeouts`);

  const p99 = byTarget(await p.query(`histogram_quantile(0.99, sum by (target, le) (rate(fleetprobe_probe_rtt_seconds_bucket{job="${JOB}"}[5s])))`));
  for (const x of TARGETS) {
    const q = p99.get(x.name);
    assert.ok(q !== undefined && q > 0 && q < 0.5, `${x.name}: p99 RTT ${q}`);
  }

  const reload = await p.query(`fleetprobe_config_last_reload_successful{job="${JOB}"}`);
  assert.equal(reload.length, 1);
  assert.equal(reload[0].value[1], '1');
});

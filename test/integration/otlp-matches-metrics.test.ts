/**
 * The OTLP export of a real running exporter (in this process, real worker threads
 * probing tcp targets on loopback) says what /metrics says, over each protocol,
 * decoded with the official opentelemetry-proto schema (test/helpers/otlp-receiver.ts).
 *
 * "At the same moment": scrape /metrics (A), take the first export COLLECTED after A
 * (its points' time is later than A's end), scrape again once it has arrived (B).
 * Every OTLP sample is translated to its Prometheus name by the standard OTLP →
 * Prometheus rules (dots to underscores, the unit's suffix unless present, `_total`
 * on monotonic sums, `le` buckets cumulated) — an independent check of the naming
 * too — and then: a per-target sample, a counter or a state gauge that did not
 * change between A and B must be exactly equal; a counter that did must lie
 * between A and B. A round counts once every
 * per-target sample was unchanged (targets probe every 5 s, so most rounds are).
 * Self metrics: every /metrics family (but the event-loop lag ones, left out on
 * purpose) is in the export and nothing else is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { scrapeMetrics, waitFor, REPO_ROOT, type Metrics } from '../helpers/exporter-process.js';
import { startTcpExporter } from '../helpers/tcp-exporter.js';
import { OtlpReceiver, type NMetric, type NRequest } from '../helpers/otlp-receiver.js';
import { SELF_METRICS_LEFT_OUT } from '../../src/metrics/otel-self-producer.js';
import type { Sample } from '../../src/metrics/text-parse.js';
import { METRIC_FAMILIES } from '../../src/metrics/catalog.js';

const PACKAGE_VERSION = (JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { version: string }).version;

/** The Prometheus metric name of an OTLP metric (OTel spec: Prometheus compatibility, OTLP → Prometheus). */
function prometheusName(m: NMetric): string {
  let name = m.name.replace(/[^a-zA-Z0-9_:]/g, '_');
  const unit = m.unit.startsWith('{') ? '' : m.unit;
  const suffix = unit === 's' ? 'seconds' : unit === 'By' ? 'bytes' : unit === '1' && m.type === 'gauge' ? 'ratio' : unit === '' || unit === '1' ? '' : unit;
  if (suffix !== '' && !name.endsWith(`_${suffix}`)) name += `_${suffix}`;
  if (m.type === 'sum' && m.monotonic === true && !name.endsWith('_total')) name += '_total';
  return name;
}

interface Translated extends Sample {
  /** Only grows (a counter, a histogram's buckets, count and sum of non-negative values). */
  monotonic: boolean;
  perTarget: boolean;
}

const leKey = (le: string): string => (le === '+Inf' ? '+Inf' : String(Number(le)));

/** Every OTLP point as the Prometheus samples it stands for. */
function translate(r: NRequest, a: Metrics): Translated[] {
  const out: Translated[] = [];
  for (const m of r.metrics) {
    const name = prometheusName(m);
    const perTarget = m.scope === 'fleetprobe';
    for (const p of m.points) {
      if (m.type === 'histogram') {
        // A histogram on /metrics has buckets; a summary (sum and count only) has not.
        if (a.parsed.types.get(name) === 'histogram') {
          let cum = 0;
          (p.bounds ?? []).forEach((b, i) => {
            cum += p.counts![i];
            out.push({ name: `${name}_bucket`, labels: { ...p.attrs, le: leKey(String(b)) }, value: cum, monotonic: true, perTarget });
          });
          out.push({ name: `${name}_bucket`, labels: { ...p.attrs, le: '+Inf' }, value: p.count!, monotonic: true, perTarget });
        }
        out.push({ name: `${name}_sum`, labels: p.attrs, value: p.sum ?? 0, monotonic: true, perTarget });
        out.push({ name: `${name}_count`, labels: p.attrs, value: p.count!, monotonic: true, perTarget });
      } else {
        out.push({ name, labels: p.attrs, value: p.value!, monotonic: m.type === 'sum' && m.monotonic === true, perTarget });
      }
    }
  }
  return out;
}

/** The one sample of `s.name` with exactly `s.labels` (le compared as a number). */
function lookup(m: Metrics, s: Sample): number | undefined {
  const want = Object.entries(s.labels);
  const found = m.parsed.samples.filter(
    (x) =>
      x.name === s.name &&
      Object.keys(x.labels).length === want.length &&
      want.every(([k, v]) => (k === 'le' ? leKey(x.labels.le ?? '') === v : x.labels[k] === v)),
  );
  assert.ok(found.length <= 1, `${found.length} samples for ${s.name} ${JSON.stringify(s.labels)}`);
  return found[0]?.value;
}

/**
 * Self gauges that hold a state, not an instantaneous reading: equal whenever A and B
 * agree. The others (open handles, memory, ages) change with the act of reading
 * (a scrape opens a socket), so only their presence is checked.
 */
const STATE_GAUGES =
  /^(fleetprobe_(workers|targets|worker_targets|worker_restart_backoff_seconds|config_last_reload_.*|target_file_.*)|process_start_time_seconds|process_max_fds|nodejs_version_info)$/;

/** Families whose very series come and go with what the process is doing at the instant (a scrape is an active request). */
const INSTANT = /^nodejs_active_/;

/**
 * The per-target families, from the catalog (a name prefix would not do: the web
 * server's fleetprobe_http_connections is a self metric).
 */
const PER_TARGET_FAMILIES = new Set(METRIC_FAMILIES.map((f) => f.prometheus));
const isPerTargetFamily = (family: string): boolean => PER_TARGET_FAMILIES.has(family);
/** The family a sample belongs to (a histogram's _bucket, _sum and _count samples included). */
const familyOf = (a: Metrics, sample: string): string => {
  const base = sample.replace(/_(bucket|sum|count)$/, '');
  return base !== sample && a.parsed.types.get(base) === 'histogram' ? base : sample;
};

const close = (x: number, y: number): boolean => x === y || Math.abs(x - y) <= 1e-12 * Math.max(1, Math.abs(x), Math.abs(y));

for (const protocol of ['grpc', 'http/protobuf', 'http/json'] as const) {
  test(`${protocol}: a running exporter's OTLP export equals /metrics, per target and for the self metrics`, { timeout: 90_000 }, async (t) => {
    const receiver = new OtlpReceiver();
    const endpoint = protocol === 'grpc' ? await receiver.listenGrpc() : await receiver.listenHttp();
    t.after(() => receiver.close());
    const exporter = await startTcpExporter(
      t,
      'fp-otlp-same',
      { workers: 1, probe_defaults: { kind: 'tcp', interval: '5s', timeout: '500ms' } },
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_METRIC_EXPORT_INTERVAL: '300',
        OTEL_METRIC_EXPORT_TIMEOUT: '300',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=ci',
      },
    );
    const url = `${exporter.url}/metrics`;
    // Every target has answered once (so its last-RTT gauge exists in both).
    await waitFor(
      'a reply from every target',
      async () => ((await scrapeMetrics(url)).find('fleetprobe_probe_received_total').filter((s) => s.value > 0).length === 3 ? true : undefined),
      20_000,
      200,
    );

    let exact = 0;
    let bounded = 0;
    let rounds = 0;
    let settled: { a: Metrics; e: NRequest } | undefined;
    while (settled === undefined) {
      assert.ok(++rounds <= 40, `no round without a per-target change in ${rounds - 1} tries`);
      const a = await scrapeMetrics(url);
      const aEnd = BigInt(Date.now()) * 1_000_000n;
      const from = receiver.requests.length;
      const e = await waitFor(
        'an export collected after the scrape',
        () => receiver.since(from).find((r) => r.decoded.metrics.some((m) => m.points.some((p) => p.time > aEnd)))?.decoded,
        10_000,
        20,
      );
      const b = await scrapeMetrics(url);
      let stable = true;
      for (const s of translate(e, a)) {
        if (INSTANT.test(s.name)) continue;
        const va = lookup(a, s);
        const vb = lookup(b, s);
        assert.ok(va !== undefined && vb !== undefined, `${s.name} ${JSON.stringify(s.labels)} (from OTLP) is on /metrics`);
        if (close(va, vb)) {
          if (s.perTarget || s.monotonic || STATE_GAUGES.test(s.name)) {
            assert.ok(close(s.value, va), `${s.name} ${JSON.stringify(s.labels)}: OTLP ${s.value}, /metrics ${va}`);
            exact++;
          }
        } else {
          if (s.perTarget) stable = false;
          if (s.monotonic) {
            assert.ok(va <= s.value && s.value <= vb, `${s.name} ${JSON.stringify(s.labels)}: OTLP ${s.value} outside /metrics [${va}, ${vb}]`);
            bounded++;
          }
        }
      }
      if (stable) settled = { a, e };
    }
    const { a, e } = settled;
    assert.deepEqual(receiver.decodeErrors, []);

    // Every per-target family of /metrics is in the export, series for series.
    const perTarget = translate(e, a).filter((s) => s.perTarget);
    const onMetrics = a.parsed.samples.filter((s) => isPerTargetFamily(familyOf(a, s.name)));
    assert.equal(perTarget.length, onMetrics.length, 'as many per-target samples in OTLP as on /metrics');
    assert.ok(perTarget.length > 3 * 25, `${perTarget.length} per-target samples compared exactly`);

    // Self metrics: the same families both ways (the event-loop lag ones stay on /metrics only).
    const selfFamilies = new Set(e.metrics.filter((m) => m.scope === 'fleetprobe.self').map((m) => prometheusName(m)));
    // Families with at least one series (a family without series, e.g. target files when there are none, has nothing to export).
    const withSeries = (f: string): boolean => a.parsed.samples.some((x) => x.name === f || x.name.startsWith(`${f}_`));
    const metricsFamilies = a.families().filter((f) => !isPerTargetFamily(f) && withSeries(f));
    for (const f of metricsFamilies) {
      if (SELF_METRICS_LEFT_OUT.test(f)) assert.equal(selfFamilies.has(f), false, `${f} is not exported`);
      else if (!INSTANT.test(f)) assert.ok(selfFamilies.has(f), `${f} from /metrics is exported over OTLP`);
    }
    for (const f of selfFamilies) assert.ok(metricsFamilies.includes(f), `${f} (OTLP) is a /metrics family`);
    for (const f of [
      'fleetprobe_workers',
      'fleetprobe_targets',
      'fleetprobe_batches_received_total',
      'fleetprobe_otlp_exports_total',
      'process_cpu_seconds_total',
    ]) {
      assert.ok(selfFamilies.has(f), `${f} exported`);
    }

    // Resource attributes.
    assert.equal(e.resource['service.name'], 'fleetprobe');
    assert.equal(e.resource['service.version'], PACKAGE_VERSION);
    assert.equal(e.resource['host.name'], hostname());
    assert.equal(e.resource['deployment.environment'], 'ci');
    assert.match(e.resource['service.instance.id'] ?? '', /^[0-9a-f-]{36}$/);
    const ids = new Set(receiver.requests.map((r) => r.decoded.resource['service.instance.id']));
    assert.equal(ids.size, 1, 'one instance id for the life of the process');
    t.diagnostic(`${rounds} rounds, ${exact} samples compared exactly, ${bounded} within bounds`);
  });
}

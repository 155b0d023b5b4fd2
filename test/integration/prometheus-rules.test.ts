/**
 * The shipped Prometheus rules, example Prometheus config and Grafana dashboard,
 * checked by the real tools: promtool (Debian's 2.42) parses the rules and the
 * config, runs rule unit tests (synthetic series -> which alerts fire), and
 * parses every dashboard query; then a real Prometheus scraping a real
 * fleetprobe on loopback answers every dashboard and rule query.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT, isRoot, tempDir, waitFor } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { exporterScrapedByPrometheus, prometheusUnavailable } from '../helpers/prometheus.js';

const RULES_FILE = join(REPO_ROOT, 'config/prometheus/fleetprobe-rules.yml');
const PROM_CONFIG = join(REPO_ROOT, 'config/prometheus/prometheus.example.yml');
const DASHBOARD_FILE = join(REPO_ROOT, 'config/grafana/fleetprobe.json');

const NO_PROMTOOL = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0 ? false : 'needs promtool (Debian package prometheus)';

function promtool(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}
const rules = (parseYaml(readFileSync(RULES_FILE, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const alertRule = (name: string): Rule => {
  const r = rules.find((x) => x.alert === name);
  assert.ok(r, `alert ${name} in ${RULES_FILE}`);
  return r;
};

/**
 * Expand the few template forms the rules use ({{ $labels.x }}, {{ $value }} with
 * an optional `| humanizePercentage`), to write the exact annotations promtool
 * expects; anything else is an error, so a new template form is noticed here.
 */
function expandAnnotations(rule: Rule, labels: Record<string, string>, value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, text] of Object.entries(rule.annotations ?? {})) {
    out[k] = text.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (_all, inner: string) => {
      const l = /^\$labels\.(\w+)$/.exec(inner);
      if (l) return labels[l[1]] ?? '';
      if (inner === '$value' || inner === '$value | humanizePercentage') return value;
      throw new Error(`${rule.alert}: template {{ ${inner} }} not supported by this test`);
    });
  }
  return out;
}

interface Dashboard {
  panels: { type: string; id: number; title: string; targets?: { expr: string; refId: string }[]; panels?: Dashboard['panels'] }[];
}
/** [where, expr] of every panel query, rows' nested panels included. */
function dashboardQueries(): [string, string][] {
  const d = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
  const out: [string, string][] = [];
  const visit = (ps: Dashboard['panels']): void => {
    for (const p of ps) {
      for (const t of p.targets ?? []) out.push([`panel ${p.id} "${p.title}" ${t.refId}`, t.expr]);
      if (p.panels) visit(p.panels);
    }
  };
  visit(d.panels);
  return out;
}

/** Replace Grafana's variables with what Grafana would send ("All" = .*). */
function substitute(expr: string, opts: { job: string; rateInterval: string; range: string }): string {
  return expr
    .replaceAll('$__rate_interval', opts.rateInterval)
    .replaceAll('$__range', opts.range)
    .replaceAll('$job', opts.job)
    .replace(/\$(instance|kind|target)\b/g, '.*');
}

test('promtool check rules accepts config/prometheus/fleetprobe-rules.yml', { skip: NO_PROMTOOL }, () => {
  const r = promtool('check', 'rules', RULES_FILE);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`SUCCESS: ${rules.length} rules found`));
});

test('promtool check config accepts the example config, which scrapes 127.0.0.1:9798 and loads the rules', { skip: NO_PROMTOOL }, () => {
  const r = promtool('check', 'config', PROM_CONFIG);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /SUCCESS: 1 rule files found/);
  const cfg = parseYaml(readFileSync(PROM_CONFIG, 'utf8')) as {
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };
  assert.deepEqual(cfg.rule_files, ['fleetprobe-rules.yml']);
  assert.equal(cfg.scrape_configs[0].job_name, 'fleetprobe');
  assert.deepEqual(cfg.scrape_configs[0].static_configs[0].targets, ['127.0.0.1:9798']);
});

test(
  'promtool test rules: 25% loss fires FleetprobeTargetLoss after 5m, silence fires FleetprobeTargetDown after 2m, a healthy target fires nothing',
  { skip: NO_PROMTOOL },
  () => {
    const dir = tempDir('fp-ruletest');
    try {
      const base = { job: 'fleetprobe', instance: '127.0.0.1:9798', kind: 'icmp' };
      const series = (name: string, target: string, address: string, values: string) => ({
        series: `${name}{job="${base.job}",instance="${base.instance}",kind="${base.kind}",target="${target}",address="${address}"}`,
        values,
      });
      // 15 s scrapes for 15 minutes: 20 probes sent per scrape (a probe every 750 ms).
      const input_series = [
        series('fleetprobe_probe_sent_total', 'lossy', '127.0.0.2', '0+20x60'),
        series('fleetprobe_probe_received_total', 'lossy', '127.0.0.2', '0+15x60'), // 25% lost
        series('fleetprobe_probe_sent_total', 'healthy', '127.0.0.3', '0+20x60'),
        series('fleetprobe_probe_received_total', 'healthy', '127.0.0.3', '0+20x60'),
        series('fleetprobe_probe_sent_total', 'down', '127.0.0.4', '0+20x60'),
        series('fleetprobe_probe_received_total', 'down', '127.0.0.4', '0+20x4 80+0x56'), // no reply after 1m
        { series: `fleetprobe_config_last_reload_successful{job="${base.job}",instance="${base.instance}"}`, values: '1 1 1 1 0x57' },
      ];
      const lossAlert = (target: string, address: string, value: string) => {
        const labels = { ...base, target, address, severity: 'warning' };
        return { exp_labels: labels, exp_annotations: expandAnnotations(alertRule('FleetprobeTargetLoss'), labels, value) };
      };
      const downAlert = (target: string, address: string) => {
        const labels = { ...base, target, address, severity: 'critical' };
        return { exp_labels: labels, exp_annotations: expandAnnotations(alertRule('FleetprobeTargetDown'), labels, '') };
      };
      const reloadLabels = { job: base.job, instance: base.instance, severity: 'warning' };
      const testFile = dir.file('fleetprobe-rules.test.yml', {
        rule_files: [RULES_FILE],
        evaluation_interval: '15s',
        tests: [
          {
            interval: '15s',
            input_series,
            alert_rule_test: [
              // Loss: above 5% from the first rate, but only firing once it lasted 5 minutes.
              { eval_time: '4m', alertname: 'FleetprobeTargetLoss', exp_alerts: [] },
              {
                eval_time: '10m',
                alertname: 'FleetprobeTargetLoss',
                exp_alerts: [lossAlert('down', '127.0.0.4', '100%'), lossAlert('lossy', '127.0.0.2', '25%')],
              },
              // Down: the last reply is at 1m; the 1m window is empty from 2m; firing 2m later.
              { eval_time: '3m', alertname: 'FleetprobeTargetDown', exp_alerts: [] },
              { eval_time: '5m', alertname: 'FleetprobeTargetDown', exp_alerts: [downAlert('down', '127.0.0.4')] },
              {
                eval_time: '2m',
                alertname: 'FleetprobeConfigReloadFailed',
                exp_alerts: [{ exp_labels: reloadLabels, exp_annotations: expandAnnotations(alertRule('FleetprobeConfigReloadFailed'), reloadLabels, '') }],
              },
            ],
            promql_expr_test: [
              {
                // rate() extrapolation leaves float noise (0.2500000000000001): compare rounded.
                expr: 'round(fleetprobe:probe_loss:ratio_rate5m, 0.001)',
                eval_time: '10m',
                exp_samples: [
                  { labels: `{job="${base.job}",instance="${base.instance}",kind="icmp",target="lossy",address="127.0.0.2"}`, value: 0.25 },
                  { labels: `{job="${base.job}",instance="${base.instance}",kind="icmp",target="healthy",address="127.0.0.3"}`, value: 0 },
                  { labels: `{job="${base.job}",instance="${base.instance}",kind="icmp",target="down",address="127.0.0.4"}`, value: 1 },
                ],
              },
            ],
          },
        ],
      });
      const r = promtool('test', 'rules', testFile);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /SUCCESS/);
    } finally {
      dir.cleanup();
    }
  },
);

test(
  'promtool test rules: the group loss is the ratio of the summed rollups of every instance of a source group; 10% loss fires FleetprobeGroupLoss for that pair only',
  { skip: NO_PROMTOOL },
  () => {
    const dir = tempDir('fp-grouprules');
    try {
      const job = 'fleetprobe';
      const labels = (instance: string, src: string, dst: string) => `{job="${job}",instance="${instance}",src_rack="${src}",dst_rack="${dst}",kind="icmp"}`;
      const input_series = [
        // Two nodes of rack r1 probe rack r2: one loses 20%, the other nothing: 10% for the pair.
        { series: `fleetprobe_group_probes_sent_total${labels('n1:9798', 'r1', 'r2')}`, values: '0+20x60' },
        { series: `fleetprobe_group_probes_received_total${labels('n1:9798', 'r1', 'r2')}`, values: '0+16x60' },
        { series: `fleetprobe_group_probes_sent_total${labels('n2:9798', 'r1', 'r2')}`, values: '0+20x60' },
        { series: `fleetprobe_group_probes_received_total${labels('n2:9798', 'r1', 'r2')}`, values: '0+20x60' },
        // Within rack r1: no loss.
        { series: `fleetprobe_group_probes_sent_total${labels('n1:9798', 'r1', 'r1')}`, values: '0+20x60' },
        { series: `fleetprobe_group_probes_received_total${labels('n1:9798', 'r1', 'r1')}`, values: '0+20x60' },
        // 3% loss from r2 to r1: recorded, below the alert.
        { series: `fleetprobe_group_probes_sent_total${labels('n3:9798', 'r2', 'r1')}`, values: '0+100x60' },
        { series: `fleetprobe_group_probes_received_total${labels('n3:9798', 'r2', 'r1')}`, values: '0+97x60' },
      ];
      const pair = (src: string, dst: string) => ({ job, src_rack: src, dst_rack: dst, kind: 'icmp' });
      const alertLabels = { ...pair('r1', 'r2'), severity: 'warning' };
      const testFile = dir.file('group-rules.test.yml', {
        rule_files: [RULES_FILE],
        evaluation_interval: '15s',
        tests: [
          {
            interval: '15s',
            input_series,
            alert_rule_test: [
              { eval_time: '4m', alertname: 'FleetprobeGroupLoss', exp_alerts: [] },
              {
                eval_time: '10m',
                alertname: 'FleetprobeGroupLoss',
                exp_alerts: [{ exp_labels: alertLabels, exp_annotations: expandAnnotations(alertRule('FleetprobeGroupLoss'), alertLabels, '10%') }],
              },
            ],
            promql_expr_test: [
              {
                expr: 'round(group:fleetprobe_probe_loss:ratio_rate5m, 0.001)',
                eval_time: '10m',
                exp_samples: [
                  { labels: `{job="${job}",src_rack="r1",dst_rack="r2",kind="icmp"}`, value: 0.1 },
                  { labels: `{job="${job}",src_rack="r1",dst_rack="r1",kind="icmp"}`, value: 0 },
                  { labels: `{job="${job}",src_rack="r2",dst_rack="r1",kind="icmp"}`, value: 0.03 },
                ],
              },
            ],
          },
        ],
      });
      const r = promtool('test', 'rules', testFile);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /SUCCESS/);
    } finally {
      dir.cleanup();
    }
  },
);

test('every dashboard query is valid PromQL (promtool check rules on a rule per query)', { skip: NO_PROMTOOL }, () => {
  const queries = dashboardQueries();
  assert.ok(queries.length > 30, `${queries.length} queries`);
  const dir = tempDir('fp-dashq');
  try {
    const file = dir.file('dashboard-queries.yml', {
      groups: [
        {
          name: 'dashboard',
          rules: queries.map(([, expr], i) => ({ record: `dashboard:query_${i}`, expr: substitute(expr, { job: '.*', rateInterval: '1m', range: '1h' }) })),
        },
      ],
    });
    const r = promtool('check', 'rules', file);
    assert.equal(r.code, 0, `${r.out}\nqueries:\n${queries.map(([w, e], i) => `${i} ${w}: ${e}`).join('\n')}`);
    assert.match(r.out, new RegExp(`SUCCESS: ${queries.length} rules found`));
  } finally {
    dir.cleanup();
  }
});

test(
  'a real Prometheus scraping fleetprobe answers every dashboard and rule query, and no alert fires on a healthy loopback fleet',
  { skip: prometheusUnavailable(), timeout: 90_000 },
  async (t) => {
    const dir = tempDir('fp-dashlive');
    const [webPort, echoPort, httpPort] = [await freePort(), await freePort(), await freePort()];
    const listen = `127.0.0.1:${webPort}`;
    // Zones for the group rollups (metrics.group_by) the group matrix panels and rules read.
    const targets: Record<string, unknown>[] = [
      { name: 'echo-tcp', kind: 'tcp_echo', address: `127.0.0.1:${echoPort}`, labels: { zone: 'a' } },
      { name: 'echo-udp', kind: 'udp', address: `127.0.0.1:${echoPort}`, labels: { zone: 'a' } },
      { name: 'connect', kind: 'tcp', address: `127.0.0.1:${echoPort}`, labels: { zone: 'b' } },
      { name: 'ping-http', kind: 'http', url: `http://127.0.0.1:${httpPort}/v1/ping`, labels: { zone: 'b' } },
    ];
    if (isRoot) targets.push({ name: 'lo4', kind: 'icmp', address: '127.0.0.1', labels: { zone: 'c' } });
    const cfg = dir.file('c.yaml', {
      workers: 2,
      flush_interval: '100ms',
      web: { listen_address: listen },
      responder: { tcp_echo: `127.0.0.1:${echoPort}`, udp_echo: `127.0.0.1:${echoPort}`, http: `127.0.0.1:${httpPort}` },
      probe_defaults: { interval: '200ms', timeout: '1s' },
      metrics: { group_by: ['zone'] },
      targets,
    });
    const job = 'fleetprobe-dash';
    const { exp, prom: p } = await exporterScrapedByPrometheus(t, { config: cfg, listen, job, dir });
    // Wait for enough samples that every 5s rate has data, and every target has answered.
    await waitFor(
      'a receive rate for every target',
      async () => (await p.query(`rate(fleetprobe_probe_received_total{job="${job}"}[5s]) > 0`)).length === targets.length,
      30_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${exp.tail()}\nprometheus log:\n${p.log()}`);
    });

    const empty: string[] = [];
    for (const [where, expr] of dashboardQueries()) {
      const q = substitute(expr, { job, rateInterval: '5s', range: '30s' });
      const rows = await p.query(q); // throws on a query Prometheus rejects
      // Queries that filter with "> 0" (errors by reason) are empty on a healthy fleet.
      if (rows.length === 0 && !/>\s*0\s*$/.test(expr)) empty.push(`${where}: ${q}`);
    }
    assert.deepEqual(empty, [], 'dashboard queries without data');

    const firing: string[] = [];
    for (const r of rules) {
      const q = r.expr.replaceAll('job="fleetprobe"', `job="${job}"`);
      const rows = await p.query(q);
      if (r.record !== undefined) assert.ok(rows.length > 0, `recording rule ${r.record} has no data`);
      else if (rows.length > 0) firing.push(`${r.alert}: ${JSON.stringify(rows.map((x) => x.metric))}`);
    }
    assert.deepEqual(firing, [], 'alerts true on a healthy loopback fleet');
    // The recorded per-target loss exists for every target and is 0 here.
    const loss = await p.query(rules.find((r) => r.record === 'fleetprobe:probe_loss:ratio_rate5m')!.expr);
    assert.equal(loss.length, targets.length);
    // Seconds into the run a target has a few dozen probes: one still in flight at the
    // edge of the rate window reads as a few percent. Above 5%, the exporter's own
    // counters must show that nothing timed out or failed (then it was in flight).
    const own = await exp.scrape();
    for (const row of loss) {
      const target = row.metric.target;
      const failed = (own.value('fleetprobe_probe_timeouts_total', { target }) ?? 0) + own.sum('fleetprobe_probe_errors_total', { target });
      assert.ok(Number(row.value[1]) < 0.05 || failed === 0, `${target} loss ${row.value[1]}, ${failed} timeouts and errors`);
    }

    // The group matrix heatmap: one row per destination zone (no src_* outside mesh mode), no loss on loopback.
    const [, lossMatrix] = dashboardQueries().find(([where]) => where.includes('"Loss matrix'))!;
    const cells = await p.query(substitute(lossMatrix, { job, rateInterval: '5s', range: '30s' }));
    const zones = isRoot ? ['a', 'b', 'c'] : ['a', 'b'];
    assert.deepEqual(
      cells.map((c) => c.metric).sort((x, y) => x.dst_zone.localeCompare(y.dst_zone)),
      zones.map((z) => ({ dst_zone: z })),
    );
    for (const c of cells) assert.ok(Number(c.value[1]) < 0.05, `zone ${c.metric.dst_zone} loss ${c.value[1]}`);
    const [, rttMatrix] = dashboardQueries().find(([where]) => where.includes('"RTT p99 matrix'))!;
    const rtt = await p.query(substitute(rttMatrix, { job, rateInterval: '5s', range: '30s' }));
    assert.equal(rtt.length, targets.length, 'one RTT row per zone and kind (one kind per target here)');
    for (const r of rtt) assert.ok(Number(r.value[1]) > 0 && Number(r.value[1]) < 1, `${JSON.stringify(r.metric)} p99 ${r.value[1]}`);
  },
);

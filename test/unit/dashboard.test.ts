/**
 * The shipped Grafana dashboard (config/grafana/fleetprobe.json) and the
 * Prometheus rules (config/prometheus/fleetprobe-rules.yml) only query what
 * fleetprobe really exports.
 *
 * The list of exported names is derived, never written down: a real
 * TargetStore with one target of each kind is fed a batch holding every
 * ProbeEvent and rendered by the real serializer, next to the real self-metrics
 * registry and the real responder metrics. A metric renamed in the code then
 * fails here instead of leaving an empty panel or an alert that never fires.
 *
 * PromQL is read with a small tokenizer (strings, label matchers, ranges and
 * grouping clauses removed, then every identifier that is not a function or a
 * keyword is a metric name), which is enough for the queries written here;
 * their full syntax is checked by promtool in
 * test/integration/prometheus-rules.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ERROR_REASON_NAMES, HTTP_PHASE_NAMES, ProbeEvent } from '../../src/protocol/events.js';
import { PROBE_KINDS } from '../../src/targets/model.js';
import { TargetStore } from '../../src/aggregate/store.js';
import { PER_TARGET_FAMILIES, renderExpositionText } from '../../src/metrics/exposition.js';
import { GroupRollupExports } from '../../src/metrics/group-rollups.js';
import { renderGroupExpositionText } from '../../src/metrics/group-exposition.js';
import { GROUP_FAMILY } from '../../src/metrics/group-catalog.js';
import { SelfMetrics } from '../../src/metrics/self.js';
import { ResponderStats, registerResponderMetrics } from '../../src/responder/metrics.js';
import { parsePrometheusText, type ParsedExposition } from '../../src/metrics/text-parse.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DASHBOARD_FILE = `${REPO_ROOT}config/grafana/fleetprobe.json`;
const RULES_FILE = `${REPO_ROOT}config/prometheus/fleetprobe-rules.yml`;

/** Labels Prometheus adds at scrape time. */
const SCRAPE_LABELS = ['job', 'instance'];
/** Series Prometheus itself writes for every scrape target (usable in rules). */
const SCRAPE_SERIES = ['up'];
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

// ---------------------------------------------------------------- what fleetprobe exports

interface Exported {
  /** Every sample name a query can select (histogram/summary parts included). */
  names: Set<string>;
  /** Label names seen on each sample name. */
  labels: Map<string, Set<string>>;
  /** Family name -> type, from the TYPE lines. */
  types: Map<string, string>;
}

/** A store with one target of each kind that has seen every kind of batch record, and its group rollups by zone (mesh mode: src_zone and dst_zone). */
function storeWithEveryEvent(): { store: TargetStore; rollups: GroupRollupExports } {
  const store = new TargetStore({ initialSlots: 16 });
  const rollups = new GroupRollupExports(store, { groupBy: ['zone'], limit: 100 }, () => ({ node: 'n1', labels: { zone: 'a' } }));
  PROBE_KINDS.forEach((kind, slot) => {
    store.defineSlot(slot, {
      name: `t-${kind}`,
      kind,
      address: kind === 'http' ? undefined : kind === 'icmp' ? '127.0.0.1' : '127.0.0.1:4000',
      url: kind === 'http' ? 'http://127.0.0.1:4001/v1/ping' : undefined,
      labels: { zone: 'a' },
    });
  });
  const w = new BatchWriter(64);
  for (let slot = 0; slot < PROBE_KINDS.length; slot++) {
    w.push(slot, ProbeEvent.Sent);
    w.push(slot, ProbeEvent.Reply, 0, 0, 0.001);
    w.push(slot, ProbeEvent.Sent);
    w.push(slot, ProbeEvent.Timeout);
    for (let r = 0; r < ERROR_REASON_NAMES.length; r++) w.push(slot, ProbeEvent.Error, r);
    w.push(slot, ProbeEvent.Duplicate);
    w.push(slot, ProbeEvent.Late, 0, 0, 2);
    w.push(slot, ProbeEvent.Connect);
    w.push(slot, ProbeEvent.Connected, 0, 1);
    for (let p = 0; p < HTTP_PHASE_NAMES.length; p++) w.push(slot, ProbeEvent.Phase, 0, p, 0.002);
    w.push(slot, ProbeEvent.Status, 0, 200);
    w.push(slot, ProbeEvent.TargetInvalid, ERROR_REASON_NAMES.indexOf('resolve'));
  }
  store.applyBatch(w.take(0, 1));
  return { store, rollups };
}

async function exportedMetrics(): Promise<Exported> {
  const { store, rollups } = storeWithEveryEvent();
  const self = new SelfMetrics({ store });
  self.workers.configure(2); // per-worker series exist (with their labels) from the start
  self.setOtlpSource(() => ({ exports: 0, failures: 0, skipped: 0, lastSuccessAt: 0 })); // as when OTLP export is on
  self.setTargetStates({ configured: PROBE_KINDS.length });
  self.onReload(true);
  const responderRegistry = new Registry();
  registerResponderMetrics(responderRegistry, { snapshot: () => new ResponderStats(), restarts: () => 0 });

  const snap = store.snapshot();
  const texts = [
    renderExpositionText(snap),
    renderGroupExpositionText(rollups.collect(snap), snap.buckets),
    await self.registry.metrics(),
    await responderRegistry.metrics(),
  ];
  const out: Exported = { names: new Set(), labels: new Map(), types: new Map() };
  for (const text of texts) addExposition(out, parsePrometheusText(text));
  return out;
}

function addExposition(out: Exported, parsed: ParsedExposition): void {
  for (const [family, type] of parsed.types) {
    out.types.set(family, type);
    // A family with no sample yet (a histogram never observed) can still be queried.
    const parts = type === 'histogram' ? ['_bucket', '_sum', '_count'] : type === 'summary' ? ['', '_sum', '_count'] : [''];
    for (const p of parts) out.names.add(family + p);
  }
  for (const s of parsed.samples) {
    out.names.add(s.name);
    let l = out.labels.get(s.name);
    if (l === undefined) out.labels.set(s.name, (l = new Set()));
    for (const k of Object.keys(s.labels)) l.add(k);
  }
}

const exported = exportedMetrics();

// ---------------------------------------------------------------- reading PromQL

interface PromqlRefs {
  /** Metric names selected. */
  metrics: Set<string>;
  /** [metric name or '', label name] for each label matcher. */
  matchers: [string, string][];
  /** Label names in by/without/on/ignoring/group_* clauses. */
  grouping: Set<string>;
  /** Labels the expression itself creates (count_values, label_replace). */
  created: Set<string>;
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'inf', 'nan', 'atan2']);

function promqlRefs(expr: string): PromqlRefs {
  const refs: PromqlRefs = { metrics: new Set(), matchers: [], grouping: new Set(), created: new Set() };
  // Labels created from a string argument, read before strings are blanked.
  for (const m of expr.matchAll(/\bcount_values\s*\(\s*"([a-zA-Z_]\w*)"/g)) refs.created.add(m[1]);
  for (const m of expr.matchAll(/\blabel_(?:replace|join)\s*\([^,]*,\s*"([a-zA-Z_]\w*)"/g)) refs.created.add(m[1]);
  let s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals (label values, Grafana variables in them)
    .replace(/\$\{[^}]*\}|\$\w+/g, ''); // Grafana variables elsewhere ($__rate_interval, $__range)
  s = s.replace(/([a-zA-Z_:][\w:]*)?\s*\{([^}]*)\}/g, (_all, name: string | undefined, body: string) => {
    for (const m of body.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) refs.matchers.push([name ?? '', m[1]]);
    return ` ${name ?? ''} `;
  });
  s = s.replace(/\[[^\]]*\]/g, ' ');
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_all, _kw: string, body: string) => {
    for (const l of body.split(',')) if (l.trim() !== '') refs.grouping.add(l.trim());
    return ' ';
  });
  for (const m of s.matchAll(/(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?[a-zA-Z]*)|([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const ident = m[2];
    if (ident === undefined || m[3] !== undefined || KEYWORDS.has(ident.toLowerCase())) continue;
    refs.metrics.add(ident);
  }
  return refs;
}

/** Problems with an expression's metric and label references, as readable strings. */
function checkExpr(where: string, expr: string, ex: Exported, extraNames: ReadonlySet<string> = new Set()): string[] {
  const refs = promqlRefs(expr);
  const problems: string[] = [];
  for (const name of refs.metrics) {
    if (!ex.names.has(name) && !extraNames.has(name)) problems.push(`${where}: unknown metric ${name}`);
  }
  const allLabels = new Set<string>([...SCRAPE_LABELS, ...refs.created]);
  for (const ls of ex.labels.values()) for (const l of ls) allLabels.add(l);
  for (const [name, label] of refs.matchers) {
    if (label === '__name__' || SCRAPE_LABELS.includes(label)) continue;
    const on = ex.labels.get(name);
    const known = on !== undefined ? on.has(label) : allLabels.has(label);
    if (!known) problems.push(`${where}: ${name || '{…}'} has no label ${label}`);
  }
  for (const label of refs.grouping) {
    if (!allLabels.has(label)) problems.push(`${where}: no exported metric has the label ${label} it groups by`);
  }
  return problems;
}

// ---------------------------------------------------------------- the dashboard

interface Target {
  expr?: string;
  refId?: string;
  datasource?: unknown;
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  description?: string;
  datasource?: unknown;
  gridPos?: { h: number; w: number; x: number; y: number };
  targets?: Target[];
  panels?: Panel[];
  collapsed?: boolean;
}
interface Variable {
  name: string;
  type: string;
  query?: unknown;
  datasource?: unknown;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
}
interface Dashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels: Panel[];
  templating: { list: Variable[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;

/** Every panel, rows included, with the panels nested in collapsed rows. */
function allPanels(d: Dashboard): Panel[] {
  const out: Panel[] = [];
  for (const p of d.panels) {
    out.push(p);
    if (p.type === 'row') out.push(...(p.panels ?? []));
  }
  return out;
}
const queryPanels = (): Panel[] => allPanels(dashboard).filter((p) => p.type !== 'row');

function variableQuery(v: Variable): string {
  if (typeof v.query === 'string') return v.query;
  const q = (v.query as { query?: unknown } | undefined)?.query;
  return typeof q === 'string' ? q : '';
}

/** Every PromQL text in the dashboard with where it is: panel queries and variable queries. */
function dashboardExprs(): [string, string][] {
  const out: [string, string][] = [];
  for (const p of queryPanels()) for (const t of p.targets ?? []) out.push([`panel ${p.id} "${p.title}" ${t.refId}`, t.expr ?? '']);
  for (const v of dashboard.templating.list) {
    if (v.type !== 'query') continue;
    const m = /^label_values\((.*),\s*([a-zA-Z_]\w*)\)$/s.exec(variableQuery(v));
    assert.ok(m, `variable ${v.name}: expected label_values(selector, label), got ${variableQuery(v)}`);
    out.push([`variable ${v.name}`, m[1]]);
  }
  return out;
}

/** [variable name, metric it lists values from, label it lists]. */
function variableSources(): [string, string, string][] {
  return dashboard.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => {
      const m = /^label_values\(([a-zA-Z_:][\w:]*)(?:\{.*\})?,\s*([a-zA-Z_]\w*)\)$/s.exec(variableQuery(v));
      assert.ok(m, `variable ${v.name}: ${variableQuery(v)}`);
      return [v.name, m[1], m[2]] as [string, string, string];
    });
}

test('the PromQL reader finds metric names, label matchers, grouping labels and created labels', () => {
  const r = promqlRefs(
    'clamp(1 - sum by (kind, le) (rate(foo_total{a="x{y}",c=~"$v"}[$__rate_interval] offset 5m))) / on(job) group_left bar:rec' +
      ' or count_values("code", baz{d!="1e3"}) > 0.5e-3 and histogram_quantile(0.99, qux_bucket)',
  );
  assert.deepEqual([...r.metrics].sort(), ['bar:rec', 'baz', 'foo_total', 'qux_bucket']);
  assert.deepEqual(r.matchers, [
    ['foo_total', 'a'],
    ['foo_total', 'c'],
    ['baz', 'd'],
  ]);
  assert.deepEqual([...r.grouping].sort(), ['job', 'kind', 'le']);
  assert.deepEqual([...r.created], ['code']);
});

test('the exported names are derived from a real render and include every family the code defines', async () => {
  const ex = await exportedMetrics();
  for (const fam of Object.values(PER_TARGET_FAMILIES)) assert.ok(ex.types.has(fam), `${fam} not rendered by the store built here`);
  for (const name of ['fleetprobe_probe_rtt_seconds_bucket', 'fleetprobe_http_phase_seconds_bucket', 'fleetprobe_worker_scheduling_lag_seconds_sum']) {
    assert.ok(ex.names.has(name), name);
  }
  assert.ok(
    [...ex.names].some((n) => n.startsWith('fleetprobe_responder_')),
    'responder metrics rendered',
  );
  assert.ok(ex.names.has('process_cpu_seconds_total'), 'default process metrics rendered');
  assert.deepEqual([...(ex.labels.get('fleetprobe_probe_errors_total') ?? [])].sort(), ['address', 'kind', 'reason', 'target', 'zone']);
  // The checker itself rejects what is not exported.
  assert.deepEqual(checkExpr('x', 'rate(fleetprobe_probe_sent{kind="icmp"}[5m])', ex), ['x: unknown metric fleetprobe_probe_sent']);
  assert.deepEqual(checkExpr('x', 'fleetprobe_workers{kind="icmp"}', ex), ['x: fleetprobe_workers has no label kind']);
  assert.deepEqual(checkExpr('x', 'sum by (region) (fleetprobe_workers)', ex), ['x: no exported metric has the label region it groups by']);
});

test('the dashboard is a Grafana JSON model with a uid, schemaVersion 39 and the datasource, job, instance, kind and target variables', () => {
  assert.equal(dashboard.uid, 'fleetprobe');
  assert.equal(dashboard.schemaVersion, 39);
  const vars = new Map(dashboard.templating.list.map((v) => [v.name, v]));
  const ds = vars.get('datasource');
  assert.equal(ds?.type, 'datasource');
  assert.equal(ds?.query, 'prometheus');
  for (const name of ['job', 'instance', 'kind', 'target']) {
    const v = vars.get(name);
    assert.ok(v, `variable ${name}`);
    assert.equal(v.type, 'query', name);
    assert.deepEqual(v.datasource, DATASOURCE, name);
    assert.equal(v.multi, true, `${name} is multi-value`);
    // ".*", not a regex of every value: with 100k targets that regex is megabytes.
    assert.equal(v.allValue, '.*', name);
  }
  const rows = dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title);
  assert.deepEqual(rows, ['Overview', 'Group matrix', 'Per target', 'TCP echo', 'HTTP', 'Responder', 'fleetprobe itself']);
});

test('every panel has a unique id and every query panel the templated Prometheus datasource and at least one query', () => {
  const ids = allPanels(dashboard).map((p) => p.id);
  for (const id of ids) assert.ok(Number.isInteger(id) && (id as number) > 0, `panel id ${id}`);
  assert.equal(new Set(ids).size, ids.length, `duplicate panel ids in ${ids.join(',')}`);
  const panels = queryPanels();
  assert.ok(panels.length >= 25, `${panels.length} query panels`);
  for (const p of panels) {
    assert.deepEqual(p.datasource, DATASOURCE, `panel ${p.id} "${p.title}" datasource`);
    assert.ok((p.targets ?? []).length > 0, `panel ${p.id} "${p.title}" has no query`);
    assert.ok((p.description ?? '').length > 20, `panel ${p.id} "${p.title}" has no description`);
    const refIds = (p.targets ?? []).map((t) => t.refId);
    assert.equal(new Set(refIds).size, refIds.length, `panel ${p.id} duplicate refIds`);
    for (const t of p.targets ?? []) {
      assert.ok((t.expr ?? '').trim() !== '', `panel ${p.id} ${t.refId} empty expr`);
      assert.deepEqual(t.datasource, DATASOURCE, `panel ${p.id} ${t.refId} datasource`);
    }
  }
});

test('no two panels overlap and every panel fits the 24-column grid', () => {
  const boxes = allPanels(dashboard).map((p) => ({ id: p.id, ...p.gridPos! }));
  for (const b of boxes) {
    assert.ok(b.w > 0 && b.h > 0 && b.x >= 0 && b.x + b.w <= 24 && b.y >= 0, `panel ${b.id} gridPos ${JSON.stringify(b)}`);
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
      assert.ok(!overlap, `panels ${a.id} and ${b.id} overlap`);
    }
  }
});

test('every dashboard query references only metrics and labels fleetprobe exports', async () => {
  const ex = await exported;
  const problems = dashboardExprs().flatMap(([where, expr]) => checkExpr(where, expr, ex));
  assert.deepEqual(problems, []);
});

test('every variable lists a label its metric has', async () => {
  const ex = await exported;
  const sources = variableSources();
  assert.deepEqual(
    sources.map(([v]) => v),
    ['job', 'instance', 'kind', 'target'],
  );
  for (const [v, metric, label] of sources) {
    assert.ok(ex.names.has(metric), `variable ${v}: ${metric} is not exported`);
    assert.ok(SCRAPE_LABELS.includes(label) || ex.labels.get(metric)?.has(label), `variable ${v}: ${metric} has no label ${label}`);
  }
});

test('the dashboard charts every per-target family except the loss-ratio gauge, and computes loss from the counters', () => {
  const used = new Set(dashboardExprs().flatMap(([, e]) => [...promqlRefs(e).metrics]));
  const family = (n: string) => n.replace(/_(bucket|sum|count)$/, '');
  const usedFamilies = new Set([...used].map(family));
  for (const fam of Object.values(PER_TARGET_FAMILIES)) {
    if (fam === PER_TARGET_FAMILIES.lossRatio) continue;
    assert.ok(usedFamilies.has(fam), `${fam} is not charted`);
  }
  assert.ok(!used.has(PER_TARGET_FAMILIES.lossRatio), 'loss is charted from the counters, not the windowed gauge');
  const lossPanels = queryPanels().filter((p) => /loss/i.test(p.title ?? ''));
  assert.ok(lossPanels.length >= 4, `${lossPanels.length} loss panels`);
  for (const p of lossPanels) {
    for (const t of p.targets ?? []) {
      const m = promqlRefs(t.expr ?? '').metrics;
      const perTarget = m.has(PER_TARGET_FAMILIES.received) && m.has(PER_TARGET_FAMILIES.sent);
      const perGroup = m.has(GROUP_FAMILY.received.prometheus) && m.has(GROUP_FAMILY.sent.prometheus);
      assert.ok(perTarget || perGroup, `panel "${p.title}" ${t.expr}`);
    }
    assert.match(p.description ?? '', /fleetprobe_probe_loss_ratio gauge/, `panel "${p.title}" explains why not the gauge`);
  }
});

test('the group matrix: heatmaps of loss and RTT p99 per source → destination group, from the rollups, whatever labels metrics.group_by names', async () => {
  const row = dashboard.panels.findIndex((p) => p.type === 'row' && p.title === 'Group matrix');
  const next = dashboard.panels.findIndex((p, i) => i > row && p.type === 'row');
  const panels = dashboard.panels.slice(row + 1, next) as (Panel & { options?: { calculate?: boolean; filterValues?: { le?: number } } })[];
  assert.deepEqual(
    panels.map((p) => p.type),
    ['heatmap', 'heatmap'],
  );
  const [loss, rtt] = panels;
  for (const p of panels) {
    // Precomputed values (not a histogram Grafana should bucket), and cells at 0 kept: no loss is news too.
    assert.equal(p.options?.calculate, false, `${p.title}`);
    assert.ok((p.options?.filterValues?.le ?? 0) < 0, `${p.title} hides no cell`);
    const expr = p.targets![0].expr!;
    // The group labels are the user's (src_<label>, dst_<label>): the queries must not name them, only drop the others.
    assert.match(expr, /sum without \(job, instance(, kind)?\)/, `${p.title}`);
  }
  const lossRefs = promqlRefs(loss.targets![0].expr!).metrics;
  assert.deepEqual([...lossRefs].sort(), [GROUP_FAMILY.received.prometheus, GROUP_FAMILY.sent.prometheus].sort());
  assert.deepEqual([...promqlRefs(rtt.targets![0].expr!).metrics], [`${GROUP_FAMILY.rtt.prometheus}_bucket`]);
  // The rollups really have the labels the heatmap rows are named by.
  const ex = await exported;
  assert.deepEqual([...(ex.labels.get(GROUP_FAMILY.sent.prometheus) ?? [])].sort(), ['dst_zone', 'kind', 'src_zone']);
});

// ---------------------------------------------------------------- the rules

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = (parseYaml(readFileSync(RULES_FILE, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

test('every rule expression references only exported metrics, recorded rules or up', async () => {
  const ex = await exported;
  const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
  assert.ok(recorded.has('fleetprobe:probe_loss:ratio_rate5m') && recorded.has('fleetprobe:probe_rtt_seconds:p99_5m'));
  assert.ok(recorded.has('group:fleetprobe_probe_loss:ratio_rate5m') && recorded.has('group:fleetprobe_probe_rtt_seconds:p99_5m'));
  const extra = new Set([...recorded, ...SCRAPE_SERIES]);
  const problems = rules.flatMap((r) => checkExpr(r.record ?? r.alert ?? '?', r.expr, ex, extra));
  assert.deepEqual(problems, []);
});

test('every alert has a severity and summary and description annotations, and the required alerts exist', () => {
  const alerts = rules.filter((r) => r.alert !== undefined);
  for (const a of alerts) {
    assert.match(a.labels?.severity ?? '', /^(warning|critical)$/, `${a.alert} severity`);
    assert.ok((a.annotations?.summary ?? '').length > 10, `${a.alert} summary`);
    assert.ok((a.annotations?.description ?? '').length > 30, `${a.alert} description`);
  }
  const byName = new Map(alerts.map((a) => [a.alert, a]));
  for (const name of [
    'FleetprobeTargetLoss',
    'FleetprobeTargetDown',
    'FleetprobeGroupLoss',
    'FleetprobeWorkerRestarted',
    'FleetprobeStaleBatches',
    'FleetprobeConfigReloadFailed',
  ]) {
    assert.ok(byName.has(name), name);
  }
  assert.equal(byName.get('FleetprobeTargetLoss')?.for, '5m');
  assert.equal(byName.get('FleetprobeTargetDown')?.for, '2m');
});

/**
 * The metric catalog (src/metrics/catalog.ts) is the one declaration of the
 * per-target families: walk it and check that the text exposition, the OTLP output,
 * the store's snapshot and the README's Metrics table contain exactly its families,
 * with its names, help, units, types, kinds and labels, so none of them can drift.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { DataPointType, type DataPoint, type Histogram } from '@opentelemetry/sdk-metrics';
import { ValueType } from '@opentelemetry/api';
import { FAMILY, FAMILY_DECLS, METRIC_FAMILIES, TARGET_INFO } from '../../src/metrics/catalog.js';
import { renderExpositionText } from '../../src/metrics/exposition.js';
import { StoreMetricProducer } from '../../src/metrics/otel-producer.js';
import { parsePrometheusText } from '../../src/metrics/text-parse.js';
import { KINDS, PROBE_KINDS } from '../../src/kinds/index.js';
import { populatedStore } from '../helpers/populated-store.js';

const SLOT_META = ['highWater', 'buckets', 'defined', 'kind', 'kindCounts', 'labels', 'version', 'takenAt'];
const TARGET_LABELS = new Set(['target', 'address', 'kind', 'rack', 'note']);

test('the catalog is well formed: unique ids, names and columns; kinds from the kind modules', () => {
  for (const key of ['id', 'prometheus', 'otel', 'column'] as const) {
    const values = METRIC_FAMILIES.map((f) => f[key]);
    assert.equal(new Set(values).size, values.length, `duplicate ${key}`);
  }
  for (const f of METRIC_FAMILIES) {
    assert.match(f.prometheus, /^fleetprobe_[a-z_]+$/);
    if (f.type === 'counter') assert.match(f.prometheus, /_total$/, `${f.prometheus}: a counter ends in _total`);
    else assert.doesNotMatch(f.prometheus, /_total$/);
    if (f.unit === 's') assert.match(f.prometheus, /_seconds$/, `${f.prometheus}: seconds in the name`);
    assert.ok(f.help.endsWith('.') && f.otelHelp.endsWith('.'), f.id);
    assert.ok(f.kinds.length > 0, `${f.id} has no kind`);
    for (const k of PROBE_KINDS) assert.equal(f.kindMask[PROBE_KINDS.indexOf(k)] === 1, f.kinds.includes(k), `${f.id} ${k}`);
  }
  // A family of its own kinds is listed by exactly those kind modules.
  for (const k of KINDS) for (const id of k.families) assert.ok(FAMILY[id as keyof typeof FAMILY].kinds.includes(k.kind), `${k.kind} ${id}`);
  assert.deepEqual(FAMILY.connects.kinds, ['tcp_echo']);
  assert.deepEqual(FAMILY.httpPhase.kinds, ['http']);
  assert.deepEqual(FAMILY.sent.kinds, PROBE_KINDS);
});

test("the text exposition has exactly the catalog's families, in its order, with its help, types, kinds and labels", () => {
  const store = populatedStore();
  const text = renderExpositionText(store.snapshot());
  const ex = parsePrometheusText(text);
  assert.deepEqual(
    [...ex.types.keys()],
    METRIC_FAMILIES.map((f) => f.prometheus),
  );
  const familyOf = (sample: string): string => sample.replace(/_(bucket|sum|count)$/, '');
  for (const f of METRIC_FAMILIES) {
    assert.equal(ex.types.get(f.prometheus), f.type, f.prometheus);
    assert.equal(ex.help.get(f.prometheus), f.help, f.prometheus);
    const samples = ex.samples.filter((s) => familyOf(s.name) === f.prometheus && (f.type === 'histogram' ? s.name !== f.prometheus : s.name === f.prometheus));
    assert.ok(samples.length > 0, f.prometheus);
    assert.deepEqual(new Set(samples.map((s) => s.labels.kind)), new Set(f.kinds), `${f.prometheus}: series of exactly its kinds`);
    for (const s of samples) {
      const extra = Object.keys(s.labels).filter((l) => !TARGET_LABELS.has(l) && l !== 'le');
      assert.deepEqual(extra, f.label === undefined ? [] : [f.label.name], `${s.name} ${JSON.stringify(s.labels)}`);
      if (f.label !== undefined) assert.ok(f.label.values.includes(s.labels[f.label.name]), s.labels[f.label.name]);
    }
  }
  assert.ok(
    ex.samples.every((s) => METRIC_FAMILIES.some((f) => familyOf(s.name) === f.prometheus)),
    'a sample of no catalog family',
  );
});

test("the OTLP output has exactly the catalog's metrics, in its order, with its units, descriptions, value and point types, kinds and attributes", () => {
  const scopes = new StoreMetricProducer(populatedStore(), { now: () => 1_700_000_000_000 }).collectScopeMetrics();
  const metrics = scopes[0].metrics;
  assert.deepEqual(
    metrics.map((m) => m.descriptor.name),
    METRIC_FAMILIES.map((f) => f.otel),
  );
  const pointType = { counter: DataPointType.SUM, gauge: DataPointType.GAUGE, histogram: DataPointType.HISTOGRAM } as const;
  for (const [i, f] of METRIC_FAMILIES.entries()) {
    const m = metrics[i];
    assert.equal(m.descriptor.unit, f.unit, f.otel);
    assert.equal(m.descriptor.description, f.otelHelp, f.otel);
    assert.equal(m.descriptor.valueType, f.valueType === 'int' ? ValueType.INT : ValueType.DOUBLE, f.otel);
    assert.equal(m.dataPointType, pointType[f.type], f.otel);
    if (m.dataPointType === DataPointType.SUM) assert.equal(m.isMonotonic, true);
    const points = m.dataPoints as DataPoint<number | Histogram>[];
    assert.deepEqual(new Set(points.map((p) => p.attributes.kind)), new Set(f.kinds), `${f.otel}: points of exactly its kinds`);
    for (const p of points) {
      const extra = Object.keys(p.attributes).filter((a) => !TARGET_LABELS.has(a));
      assert.deepEqual(extra, f.label === undefined ? [] : [f.label.name], f.otel);
      if (f.type === 'histogram') assert.equal(typeof p.value, 'object');
      else assert.ok(Number.isFinite(p.value), `${f.otel}: ${inspect(p.value)}`);
    }
  }
});

test("the store's snapshot has exactly the catalog's columns", () => {
  const snap = populatedStore().snapshot();
  const expected = METRIC_FAMILIES.flatMap((f) =>
    f.type === 'histogram' ? [`${f.column}Buckets`, `${f.column}Sum`, ...(f.native ? [`${f.column}Native`] : [])] : [f.column],
  );
  assert.deepEqual(
    Object.keys(snap)
      .filter((k) => !SLOT_META.includes(k))
      .sort(),
    expected.sort(),
  );
});

test("the README's Metrics table documents exactly the catalog's per-target families and the info family, with their type and extra label", () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('## Metrics');
  const table = readme.slice(start, readme.indexOf('A probe ends in exactly one of', start));
  const rows = table.split('\n').filter((l) => l.startsWith('| `fleetprobe_'));
  const documented = new Map<string, { type: string; label?: string }>();
  for (const row of rows) {
    const [names, types] = row.split(' | ').map((c) => c.replace(/^\| /, '').trim());
    const ns = [...names.matchAll(/`(fleetprobe_[a-z_]+)(\{([a-z_]+)\})?`/g)];
    const ts = types.split(',').map((t) => t.trim());
    ns.forEach((m, i) => documented.set(m[1], { type: ts[Math.min(i, ts.length - 1)], label: m[3] }));
  }
  // And the info family of metrics.series_labels: compact, declared next to the catalog.
  assert.deepEqual([...documented.keys()].sort(), [...METRIC_FAMILIES.map((f) => f.prometheus), TARGET_INFO.prometheus].sort());
  for (const f of [...METRIC_FAMILIES, { ...TARGET_INFO, label: undefined }]) {
    const d = documented.get(f.prometheus)!;
    assert.equal(d.type, f.type, f.prometheus);
    assert.equal(d.label, f.label?.name, f.prometheus);
  }
});

test('declarations and resolved families agree (the table the types are derived from is the one resolved)', () => {
  assert.deepEqual(
    FAMILY_DECLS.map((d) => d.id),
    METRIC_FAMILIES.map((f) => f.id),
  );
});

/**
 * metrics.series_labels: in `compact` mode every per-target series carries only
 * `target` and the user labels, and fleetprobe_target_info carries address and kind.
 * Checked on the populated store (every kind, label values that need escaping, user
 * labels, an empty and a redefined slot): joining the compact exposition with its info
 * series on `target` gives exactly the full exposition (names, labels and values);
 * the protobuf exposition has the same series as the text in both modes; switching
 * modes re-encodes every slot and carries counters on; the config key is validated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ProbeEvent } from '../../src/protocol/events.js';
import { TargetStore } from '../../src/aggregate/store.js';
import { renderExpositionChunks, renderExpositionText } from '../../src/metrics/exposition.js';
import { protobufChunks } from '../../src/metrics/protobuf-exposition.js';
import { parsePrometheusText, type Sample } from '../../src/metrics/text-parse.js';
import { TARGET_INFO } from '../../src/metrics/catalog.js';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { populatedStore } from '../helpers/populated-store.js';
import { decodeDelimited, labelsOf, seriesKey, type PbFamily } from '../helpers/prom-protobuf.js';
import { assertGolden } from '../helpers/golden.js';

const INFO = TARGET_INFO.prometheus;

/** Every sample as `name{sorted labels}` → value (NaN as the string "NaN", so deepEqual compares it). */
function index(samples: readonly Sample[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of samples) {
    const k = seriesKey(s.name, s.labels);
    assert.ok(!out.has(k), `duplicate series ${k}`);
    out.set(k, String(s.value));
  }
  return out;
}

/** What `x * on(target) group_left(address, kind) fleetprobe_target_info` gives, for every sample but the info's own. */
function joined(samples: readonly Sample[]): Sample[] {
  const info = new Map<string, Sample>();
  for (const s of samples) if (s.name === INFO) info.set(s.labels.target, s);
  const out: Sample[] = [];
  for (const s of samples) {
    if (s.name === INFO) continue;
    const i = info.get(s.labels.target);
    assert.ok(i !== undefined, `${s.name} of ${s.labels.target} has an info series`);
    out.push({ name: s.name, labels: { ...s.labels, address: i.labels.address, kind: i.labels.kind }, value: s.value });
  }
  return out;
}

test('compact: no series but the info has address or kind; joined with the info on target, it is exactly the full exposition', () => {
  const st = populatedStore();
  const fullText = renderExpositionText(st.snapshot());
  const full = parsePrometheusText(fullText);
  st.setSeriesLabels('compact');
  const compactText = renderExpositionText(st.snapshot());
  const compact = parsePrometheusText(compactText);

  assert.equal([...compact.types.keys()][0], INFO, 'the info family comes first');
  assert.equal(compact.types.get(INFO), 'gauge');
  assert.deepEqual([...compact.types.keys()].slice(1), [...full.types.keys()], 'then the same families, in the same order');
  const info = compact.samples.filter((s) => s.name === INFO);
  const targets = new Set(full.samples.map((s) => s.labels.target));
  assert.equal(info.length, targets.size, 'one info series per target');
  for (const s of info) assert.equal(s.value, 1);
  // The info series carry what a full series of the same target carries (target, address, kind, user labels).
  const fullLabels = new Map(full.samples.filter((s) => s.name === 'fleetprobe_probe_sent_total').map((s) => [s.labels.target, s.labels]));
  for (const s of info) assert.deepEqual(s.labels, fullLabels.get(s.labels.target), `info of ${s.labels.target}`);
  for (const s of compact.samples) {
    if (s.name === INFO) continue;
    assert.ok(!('address' in s.labels) && !('kind' in s.labels), `${s.name} ${JSON.stringify(s.labels)} has no address nor kind`);
  }
  assert.deepEqual(index(joined(compact.samples)), index(full.samples));
  assert.ok(compactText.length < fullText.length * 0.75, `compact ${compactText.length} bytes vs full ${fullText.length}`);

  st.setSeriesLabels('full');
  assert.equal(renderExpositionText(st.snapshot()), fullText, 'back to full: byte for byte what it was');
});

test('the compact text exposition of the populated store (golden)', () => {
  const st = populatedStore();
  st.setSeriesLabels('compact');
  assertGolden('exposition-compact-labels.txt', renderExpositionText(st.snapshot()));
  // Created in compact mode from the start: the same bytes as switched to it.
  const direct = populatedStore(undefined, 'compact');
  assert.equal(renderExpositionText(direct.snapshot()), renderExpositionText(st.snapshot()));
});

/** The protobuf exposition's samples as text samples (counters, gauges, histogram _count/_sum; NaN kept). */
function protobufSamples(fams: PbFamily[]): Sample[] {
  const out: Sample[] = [];
  for (const f of fams) {
    for (const m of f.metric) {
      const labels = labelsOf(m);
      if (f.type === 'HISTOGRAM') {
        out.push({ name: `${f.name}_count`, labels, value: Number(m.histogram!.sample_count ?? 0) });
        out.push({ name: `${f.name}_sum`, labels, value: m.histogram!.sample_sum ?? 0 });
      } else {
        out.push({ name: f.name, labels, value: (f.type === 'COUNTER' ? m.counter : m.gauge)!.value ?? 0 });
      }
    }
  }
  return out;
}

test('protobuf in both modes: the same families, series and values as the text (info family included in compact)', () => {
  const st = populatedStore();
  for (const mode of ['compact', 'full'] as const) {
    st.setSeriesLabels(mode);
    const text = parsePrometheusText(renderExpositionText(st.snapshot()));
    const fams = decodeDelimited(Buffer.concat([...protobufChunks(st.snapshot(), { classicHistograms: true })]));
    assert.deepEqual(
      fams.map((f) => f.name),
      [...text.types.keys()],
      `${mode}: same families, same order`,
    );
    const info = fams.find((f) => f.name === INFO);
    assert.equal(info !== undefined, mode === 'compact', `${mode}: info family`);
    if (info !== undefined) {
      assert.equal(info.type, 'GAUGE');
      assert.equal(info.help, TARGET_INFO.help);
    }
    const want = index(text.samples.filter((s) => !s.name.endsWith('_bucket')));
    assert.deepEqual(index(protobufSamples(fams)), want, mode);
  }
});

test('switching modes: every slot re-encoded once, counters carried on, version bumped; a snapshot taken before keeps its labels', () => {
  const st = new TargetStore({ initialSlots: 2 });
  st.defineSlot(0, { name: 'a', kind: 'icmp', address: '127.0.0.1', labels: { rack: 'r1' } });
  st.defineSlot(1, { name: 'b', kind: 'tcp', address: '127.0.0.2:80' });
  st.defineSlot(2, { name: 'gone', kind: 'udp', address: '127.0.0.3:7' });
  st.releaseSlot(2);
  const w = new BatchWriter(8);
  w.push(0, ProbeEvent.Sent);
  w.push(0, ProbeEvent.Reply, 0, 0, 0.001);
  st.applyBatch(w.take(0, 1));
  const before = st.snapshot();
  const v0 = st.version;
  st.setSeriesLabels('compact');
  assert.equal(st.seriesLabels, 'compact');
  assert.ok(st.version > v0, 'a snapshot cache keyed by version sees the change');
  const v1 = st.version;
  st.setSeriesLabels('compact');
  assert.equal(st.version, v1, 'the same mode again changes nothing');
  // A slot defined after the switch is encoded compact too.
  st.defineSlot(3, { name: 'c', kind: 'icmp', address: '::1' });
  const text = renderExpositionText(st.snapshot());
  assert.match(text, /^fleetprobe_probe_sent_total\{target="a",rack="r1"\} 1$/m);
  assert.match(text, /^fleetprobe_target_info\{target="a",rack="r1",address="127\.0\.0\.1",kind="icmp"\} 1$/m);
  assert.match(text, /^fleetprobe_target_info\{target="c",address="::1",kind="icmp"\} 1$/m);
  assert.doesNotMatch(text, /gone/, 'a released slot has no info series');
  assert.match(renderExpositionText(before), /^fleetprobe_probe_sent_total\{target="a",address="127\.0\.0\.1",kind="icmp",rack="r1"\} 1$/m);
  assert.doesNotMatch(renderExpositionText(before), /fleetprobe_target_info/, 'the older snapshot stays full');
  st.setSeriesLabels('full');
  assert.equal(st.snapshot().labels.info, undefined, 'full mode copies no info index');
  assert.match(renderExpositionText(st.snapshot()), /^fleetprobe_probe_received_total\{target="a",address="127\.0\.0\.1",kind="icmp",rack="r1"\} 1$/m);
});

test('compact text in small chunks (pieces split across chunk boundaries) is the same bytes as in one', () => {
  const st = populatedStore(undefined, 'compact');
  const whole = renderExpositionText(st.snapshot());
  for (const size of [1, 7, 64, 1000]) {
    const chunks = renderExpositionChunks(st.snapshot(), size);
    assert.ok(
      chunks.slice(0, -1).every((c) => c.length === size),
      `chunks of ${size} bytes`,
    );
    assert.equal(Buffer.concat(chunks).toString('utf8'), whole, `chunk size ${size}`);
  }
});

test('compact with no target: no info family (as for every family without series)', () => {
  const st = new TargetStore({ initialSlots: 2, seriesLabels: 'compact' });
  assert.equal(renderExpositionText(st.snapshot()), '');
  st.defineSlot(0, { name: 'a', kind: 'icmp', address: '127.0.0.1' });
  st.releaseSlot(0);
  assert.equal(renderExpositionText(st.snapshot()), '');
  assert.equal(decodeDelimited(Buffer.concat([...protobufChunks(st.snapshot(), { classicHistograms: true })])).length, 0);
});

const dirs: string[] = [];
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function configFile(doc: unknown): string {
  const d = mkdtempSync(join(tmpdir(), 'fleetprobe-serieslabels-'));
  dirs.push(d);
  const p = join(d, 'c.json');
  writeFileSync(p, JSON.stringify(doc));
  return p;
}

test('metrics.series_labels: full by default; compact from the file, the environment and the flag; anything else named', () => {
  assert.equal(loadConfig({ argv: [], env: {} }).metrics.seriesLabels, 'full');
  const file = configFile({ metrics: { series_labels: 'compact' } });
  assert.equal(loadConfig({ argv: ['--config', file], env: {} }).metrics.seriesLabels, 'compact');
  assert.equal(loadConfig({ argv: [], env: { FLEETPROBE_METRICS_SERIES_LABELS: 'compact' } }).metrics.seriesLabels, 'compact');
  assert.equal(loadConfig({ argv: ['--config', file, '--metrics.series-labels', 'full'], env: {} }).metrics.seriesLabels, 'full');
  for (const bad of ['Compact', 'minimal', '', 1]) {
    try {
      loadConfig({ argv: ['--config', configFile({ metrics: { series_labels: bad, group_limit: 0 } })], env: {} });
      assert.fail(`expected a ConfigError for ${JSON.stringify(bad)}`);
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      const p = e.problems.find((x) => x.key === 'metrics.series_labels');
      assert.ok(p !== undefined, `${JSON.stringify(bad)}: ${JSON.stringify(e.problems)}`);
      assert.match(p.message, /must be one of full, compact/);
      assert.ok(
        e.problems.some((x) => x.key === 'metrics.group_limit'),
        'named with the other bad keys in one pass',
      );
    }
  }
});

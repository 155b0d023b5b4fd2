/**
 * The full /metrics body (self metrics + per-target families for a store with
 * thousands of targets and hostile label values) checked by the real
 * `promtool check metrics`, which parses the text format like Prometheus does
 * and lints names and types. Any output from promtool is a failure.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchWriter } from '../../src/protocol/batch.js';
import { ERROR_REASON_NAMES, HTTP_PHASE_NAMES, ProbeEvent } from '../../src/protocol/events.js';
import { PROBE_KINDS } from '../../src/targets/model.js';
import { TargetStore } from '../../src/aggregate/store.js';
import { SelfMetrics } from '../../src/metrics/self.js';
import { readBody, renderMetrics } from '../../src/metrics/scrape.js';
import { parsePrometheusText } from '../../src/metrics/text-parse.js';
import { GroupRollupExports } from '../../src/metrics/group-rollups.js';
import { OTHER_GROUP } from '../../src/aggregate/groups.js';
import { hasPromtool, promtoolCheckMetrics } from '../helpers/promtool.js';

const ODD = ['quote"d', 'back\\slash', 'new\nline', 'ünïcødé ✓ 日本語', '\\"\\n', 'tab\there', 'emoji 🛰', '{braces}=,', ''];

function buildStore(n: number, attach?: (st: TargetStore) => void): TargetStore {
  const st = new TargetStore({ initialSlots: 16 });
  attach?.(st);
  for (let s = 0; s < n; s++) {
    const kind = PROBE_KINDS[s % PROBE_KINDS.length];
    const odd = ODD[s % ODD.length];
    st.defineSlot(s * 3, {
      name: `target-${s}-${odd}`,
      kind,
      address: kind === 'icmp' ? `127.0.${(s >> 8) & 255}.${s & 255}` : `127.0.0.1:${7000 + (s % 1000)}`,
      url: kind === 'http' ? `http://127.0.0.1:8080/p?q="${odd}"` : undefined,
      labels: { region: odd, zone: `z${s % 3}`, a_label: 'x' },
    });
  }
  const w = new BatchWriter(n * 8);
  for (let s = 0; s < n; s++) {
    const slot = s * 3;
    w.push(slot, ProbeEvent.Sent);
    if (s % 11 === 0) w.push(slot, ProbeEvent.Timeout);
    else w.push(slot, ProbeEvent.Reply, 0, 0, 0.00003 * (1 + (s % 400)));
    if (s % 13 === 0) w.push(slot, ProbeEvent.Error, s % ERROR_REASON_NAMES.length);
    if (s % 17 === 0) w.push(slot, ProbeEvent.Duplicate);
    if (s % 19 === 0) w.push(slot, ProbeEvent.Late, 0, 0, 3);
    if (PROBE_KINDS[s % PROBE_KINDS.length] === 'tcp_echo') {
      w.push(slot, ProbeEvent.Connected, 0, 1);
      w.push(slot, ProbeEvent.Connect);
    }
    if (PROBE_KINDS[s % PROBE_KINDS.length] === 'http') {
      for (let p = 0; p < HTTP_PHASE_NAMES.length; p++) w.push(slot, ProbeEvent.Phase, 0, p, 0.001 * (p + 1));
      w.push(slot, ProbeEvent.Status, 0, 200);
    }
  }
  st.applyBatch(w.take(0, 1));
  st.releaseSlot(3); // a hole in the slot range
  return st;
}

test('promtool check metrics accepts the whole /metrics body without errors or lint warnings', async (t) => {
  if (!hasPromtool) {
    t.skip('promtool not installed (apt-get install prometheus)');
    return;
  }
  const store = buildStore(3000);
  const self = new SelfMetrics({ store });
  self.workers.configure(2);
  self.setTargetStates({ configured: 3000, rejected: 1, unresolved: 0 });
  self.onReload(true);
  const r = await renderMetrics(store, self.registry, { gzip: false });
  const body = await readBody(r.body);
  const { code, out } = await promtoolCheckMetrics(body);
  assert.equal(out, '', `promtool said:\n${out.slice(0, 2000)}`);
  assert.equal(code, 0);
  // And our own strict parser reads back every odd label value intact.
  const { samples } = parsePrometheusText(body.toString('utf8'));
  const sent = samples.filter((s) => s.name === 'fleetprobe_probe_sent_total');
  assert.equal(sent.length, 2999);
  for (const odd of ODD)
    assert.ok(
      sent.some((s) => s.labels.region === odd),
      JSON.stringify(odd),
    );
});

test('promtool check metrics accepts /metrics with group rollups (odd group values, mesh source labels, the __other__ group)', async (t) => {
  if (!hasPromtool) {
    t.skip('promtool not installed (apt-get install prometheus)');
    return;
  }
  let rollups: GroupRollupExports | undefined;
  // 9 (odd region, zone) groups (the zone follows the region here); the limit of 5 folds 4 into __other__.
  const store = buildStore(
    3000,
    (st) => (rollups = new GroupRollupExports(st, { groupBy: ['region', 'zone'], limit: 5 }, () => ({ node: 'node "a"\n', labels: { region: 'ünï ✓' } }))),
  );
  const self = new SelfMetrics({ store });
  const r = await renderMetrics(store, self.registry, { gzip: false, snapshotFamilies: rollups!.textFamilies });
  const body = await readBody(r.body);
  const { code, out } = await promtoolCheckMetrics(body);
  assert.equal(out, '', `promtool said:\n${out.slice(0, 2000)}`);
  assert.equal(code, 0);
  const { samples } = parsePrometheusText(body.toString('utf8'));
  const sent = samples.filter((s) => s.name === 'fleetprobe_group_probes_sent_total');
  // Groups × kinds: each (region, zone) group holds targets of every kind here.
  assert.equal(new Set(sent.map((s) => `${s.labels.dst_region}|${s.labels.dst_zone}`)).size, 6, '5 groups and __other__');
  assert.deepEqual(rollups!.rollups.stats(), { groups: 5, folded: 4, foldedTargets: 4 * 333 });
  assert.ok(
    sent.every((s) => s.labels.src_region === 'ünï ✓' && s.labels.src_zone === undefined),
    'the source labels this node has',
  );
  assert.ok(sent.some((s) => s.labels.dst_region === OTHER_GROUP && s.labels.dst_zone === OTHER_GROUP));
  const total = (name: string) => samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0);
  // Every probe is in one group, the released target's one probe included (a group keeps what its targets counted).
  assert.equal(total('fleetprobe_group_probes_sent_total'), total('fleetprobe_probe_sent_total') + 1);
  assert.equal(total('fleetprobe_group_targets'), 2999);
});

test('promtool rejects a body with a broken escape (the check is real)', async (t) => {
  if (!hasPromtool) {
    t.skip('promtool not installed (apt-get install prometheus)');
    return;
  }
  const bad = Buffer.from('# HELP x_total x\n# TYPE x_total counter\nx_total{a="b\nc"} 1\n');
  const { code } = await promtoolCheckMetrics(bad);
  assert.notEqual(code, 0);
});

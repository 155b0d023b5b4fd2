/**
 * Group rollups against known injected loss, end to end. Inside a network namespace
 * this test creates, an nft rule drops half of the ICMP echo requests toward one group
 * of addresses (the input hook: the probe left the prober and is lost on its way, as on
 * a lossy link). The exporter, and a real Prometheus scraping it, run inside the
 * namespace, so every probe and every scrape stays on its own loopback.
 *
 *  1. One node probing three groups of 8 addresses (label `group`), `metrics.group_by:
 *     [group]`: the rollup of group b shows ~50% loss (within 5 sigma of a binomial
 *     share), a and c none; each rollup equals the sum of its targets' series in the
 *     same scrape; promtool check metrics accepts the body; Prometheus answers the
 *     dashboard's loss-matrix heatmap query and the group recording rule with one cell
 *     per group and those values.
 *  2. A mesh of three nodes (racks r1, r1, r2) on the namespace's loopback, `group_by:
 *     [rack]`, half of the echo requests to node-c dropped: each node's rollups are
 *     src_rack → dst_rack pairs, and Prometheus adds node-a and node-b (both r1) into
 *     one cell: r1 → r2 ~50%, r1 → r1 and r2 → r1 none.
 *
 * Needs root (raw ICMP sockets, namespaces), ip, nft, prometheus and promtool.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ExporterProcess, REPO_ROOT, tempDir, waitFor, type Metrics } from '../helpers/exporter-process.js';
import { createNetns, netnsUnavailable, type Netns } from '../helpers/netns.js';
import { prometheusUnavailable, startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { promtoolCheckMetrics } from '../helpers/promtool.js';

const SKIP = netnsUnavailable(['ip', 'nft', 'promtool']) || prometheusUnavailable();
const GROUPS = { a: '127.0.1', b: '127.0.2', c: '127.0.3' } as const;
const PER_GROUP = 8;
const WEB = '127.0.0.1:9798';
const PROM_PORT = 9090;
const RULESET = `
table inet fpgroups {
  chain in {
    type filter hook input priority 0; policy accept;
    ip daddr ${GROUPS.b}.0/24 icmp type echo-request numgen random mod 2 == 0 drop
    ip daddr 127.0.0.3 icmp type echo-request numgen random mod 2 == 0 drop
  }
}
`;

const dirs: { cleanup(): void }[] = [];
const exporters: ExporterProcess[] = [];
const proms: PrometheusServer[] = [];
const namespaces: Netns[] = [];
after(async () => {
  for (const p of proms) await p.stop();
  for (const e of exporters) await e.stop();
  for (const n of namespaces) n.destroy();
  for (const d of dirs) d.cleanup();
});

/** The dashboard's loss-matrix query, with Grafana's variables as Grafana would send them ("All"). */
function lossMatrixQuery(rateInterval: string): string {
  const d = JSON.parse(readFileSync(join(REPO_ROOT, 'config/grafana/fleetprobe.json'), 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
  };
  const expr = d.panels.find((p) => p.title.startsWith('Loss matrix'))!.targets![0].expr;
  return expr.replaceAll('$__rate_interval', rateInterval).replace(/\$(job|instance|kind)\b/g, '.*');
}

function groupLossRule(): string {
  const rules = (
    parseYaml(readFileSync(join(REPO_ROOT, 'config/prometheus/fleetprobe-rules.yml'), 'utf8')) as { groups: { rules: { record?: string; expr: string }[] }[] }
  ).groups.flatMap((g) => g.rules);
  return rules.find((r) => r.record === 'group:fleetprobe_probe_loss:ratio_rate5m')!.expr;
}

/** Loss of a rollup: lost / (received + lost), and the probes completed. */
function rollupLoss(m: Metrics, labels: Record<string, string>): { loss: number; done: number } {
  const lost = m.value('fleetprobe_group_probes_lost_total', labels) ?? NaN;
  const received = m.value('fleetprobe_group_probes_received_total', labels) ?? NaN;
  return { loss: lost / (received + lost), done: received + lost };
}

test(
  'one node, three groups, half of the probes toward group b dropped: the rollups show that loss for b only, and so do the heatmap query and the rule in Prometheus',
  { skip: SKIP, timeout: 180_000 },
  async () => {
    const ns = createNetns(`fpgrp${process.pid}`);
    namespaces.push(ns);
    ns.nft(RULESET);
    const dir = tempDir('fp-groups-netns');
    dirs.push(dir);
    const targets = Object.entries(GROUPS).flatMap(([g, net]) =>
      Array.from({ length: PER_GROUP }, (_, i) => ({ name: `${g}${i}`, address: `${net}.${i + 1}`, labels: { group: g, idx: String(i) } })),
    );
    const cfg = dir.file('groups.yaml', {
      workers: 1,
      log: { level: 'warn' },
      probe_defaults: { interval: '20ms', timeout: '200ms' },
      metrics: { group_by: ['group'] },
      targets,
    });
    const exp = new ExporterProcess(['run', '--config', cfg, '--web.listen-address', WEB], WEB, { netns: ns.name });
    exporters.push(exp);
    await exp.waitReady(30_000);
    const prom = await startPrometheus({ job: 'fleetprobe', targets: [WEB], netns: ns.name, port: PROM_PORT });
    proms.push(prom);

    // ~2,000 probes completed toward group b: 5 sigma of a binomial share of 0.5 is 5.6 points.
    let m = await exp.scrape();
    await waitFor(
      '2,000 probes toward group b',
      async () => {
        m = await exp.scrape();
        return rollupLoss(m, { dst_group: 'b' }).done >= 2000;
      },
      60_000,
      500,
    );
    const body = (await exp.request('/metrics')).text();
    const lint = await promtoolCheckMetrics(body);
    assert.equal(lint.code === 0 ? lint.out : `exit ${lint.code}: ${lint.out}`, '', 'promtool check metrics');
    for (const g of ['a', 'b', 'c']) {
      const labels = { dst_group: g, kind: 'icmp' };
      assert.equal(m.value('fleetprobe_group_targets', labels), PER_GROUP, `group ${g} targets`);
      assert.equal(m.find('fleetprobe_group_probes_sent_total', labels)[0].labels.src_group, undefined, 'no source labels outside mesh mode');
      // The rollup is the sum of its targets' series, in the same scrape.
      assert.equal(m.value('fleetprobe_group_probes_sent_total', labels), m.sum('fleetprobe_probe_sent_total', { group: g }), `group ${g} sent`);
      assert.equal(m.value('fleetprobe_group_probes_received_total', labels), m.sum('fleetprobe_probe_received_total', { group: g }), `group ${g} received`);
      assert.equal(
        m.value('fleetprobe_group_probes_lost_total', labels),
        m.sum('fleetprobe_probe_timeouts_total', { group: g }) + m.sum('fleetprobe_probe_errors_total', { group: g }),
        `group ${g} lost`,
      );
      assert.equal(m.value('fleetprobe_group_rtt_seconds_count', labels), m.value('fleetprobe_group_probes_received_total', labels));
    }
    assert.equal(m.value('fleetprobe_group_probes_lost_total', { dst_group: 'a' }), 0, 'group a: no loss');
    assert.equal(m.value('fleetprobe_group_probes_lost_total', { dst_group: 'c' }), 0, 'group c: no loss');
    const b = rollupLoss(m, { dst_group: 'b' });
    assert.ok(Math.abs(b.loss - 0.5) < 5 * Math.sqrt(0.25 / b.done), `group b loss ${b.loss} of ${b.done} probes`);
    assert.deepEqual(
      m.find('fleetprobe_rollup_groups').map((s) => [s.labels.state, s.value]),
      [
        ['exported', 3],
        ['folded', 0],
      ],
    );

    // Prometheus: the heatmap's cells over the last 20 s (~3,200 probes toward b; probes in flight shift 1 - received/sent by ~1%).
    await waitFor(
      '25 s of scrapes in Prometheus',
      async () => (await prom.query('count_over_time(fleetprobe_group_probes_sent_total{dst_group="b"}[25s]) >= 20')).length === 1,
      60_000,
      1000,
    );
    const cells = await prom.query(lossMatrixQuery('20s'));
    const byGroup = new Map(cells.map((c) => [c.metric.dst_group, Number(c.value[1])]));
    assert.deepEqual(
      cells.map((c) => Object.keys(c.metric).sort()),
      [['dst_group'], ['dst_group'], ['dst_group']],
      'one row per destination group, only its label',
    );
    // 1 - received/sent: probes in flight at the window's edges move a lossless cell off 0 by a fraction of a percent.
    assert.ok(byGroup.get('a')! < 0.01, `heatmap cell a ${byGroup.get('a')}`);
    assert.ok(byGroup.get('c')! < 0.01, `heatmap cell c ${byGroup.get('c')}`);
    assert.ok(Math.abs(byGroup.get('b')! - 0.5) < 0.1, `heatmap cell b ${byGroup.get('b')}`);
    // The lost counter has no such edge: not one probe lost toward a or c in Prometheus either.
    const lostIncrease = await prom.query('sum by (dst_group) (increase(fleetprobe_group_probes_lost_total[20s]))');
    assert.deepEqual(
      new Map(lostIncrease.map((c) => [c.metric.dst_group, Number(c.value[1]) > 0])),
      new Map([
        ['a', false],
        ['b', true],
        ['c', false],
      ]),
    );
    const rule = await prom.query(groupLossRule());
    assert.deepEqual(rule.map((r) => r.metric.dst_group).sort(), ['a', 'b', 'c']);
    for (const r of rule) {
      const v = Number(r.value[1]);
      if (r.metric.dst_group === 'b') assert.ok(Math.abs(v - 0.5) < 0.1, `rule b ${v}`);
      else assert.ok(v < 0.02, `rule ${r.metric.dst_group} ${v}`);
    }
    await prom.stop();
    await exp.stop();
  },
);

test(
  'a three-node mesh by rack: src_rack → dst_rack pairs per node, and Prometheus adds the nodes of rack r1 into one cell of the heatmap',
  { skip: SKIP, timeout: 180_000 },
  async () => {
    const ns = createNetns(`fpgrm${process.pid}`);
    namespaces.push(ns);
    ns.nft(RULESET);
    const dir = tempDir('fp-groups-mesh');
    dirs.push(dir);
    const peers = dir.file('peers.json', [
      { name: 'node-a', address: '127.0.0.1', labels: { rack: 'r1' } },
      { name: 'node-b', address: '127.0.0.2', labels: { rack: 'r1' } },
      { name: 'node-c', address: '127.0.0.3', labels: { rack: 'r2' } },
    ]);
    const cfg = dir.file('mesh.yaml', {
      workers: 1,
      log: { level: 'warn' },
      probe_defaults: { interval: '20ms', timeout: '200ms' },
      metrics: { group_by: ['rack'] },
      mesh: { peers_file: peers, kinds: ['icmp'] },
    });
    const hosts = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
    const nodes = ['a', 'b', 'c'].map((x, i) => {
      const e = new ExporterProcess(['run', '--config', cfg, '--mesh.name', `node-${x}`, '--web.listen-address', `${hosts[i]}:9798`], `${hosts[i]}:9798`, {
        netns: ns.name,
      });
      exporters.push(e);
      return e;
    });
    await Promise.all(nodes.map((e) => e.waitReady(30_000)));
    const prom = await startPrometheus({ job: 'fleetprobe', targets: hosts.map((h) => `${h}:9798`), netns: ns.name, port: PROM_PORT });
    proms.push(prom);

    await waitFor(
      '1,000 probes from node-a and from node-b to rack r2',
      async () => {
        const ms = await Promise.all(nodes.slice(0, 2).map((e) => e.scrape()));
        return ms.every((m) => rollupLoss(m, { src_rack: 'r1', dst_rack: 'r2' }).done >= 1000);
      },
      60_000,
      500,
    );
    const [ma, mb, mc] = await Promise.all(nodes.map((e) => e.scrape()));
    for (const [name, m] of [
      ['node-a', ma],
      ['node-b', mb],
    ] as const) {
      const pairs = m.find('fleetprobe_group_probes_sent_total').map((s) => `${s.labels.src_rack}→${s.labels.dst_rack}`);
      assert.deepEqual(pairs.sort(), ['r1→r1', 'r1→r2'], `${name}'s cells`);
      assert.equal(m.value('fleetprobe_group_probes_lost_total', { dst_rack: 'r1' }), 0, `${name} → r1`);
      const toC = rollupLoss(m, { dst_rack: 'r2' });
      assert.ok(Math.abs(toC.loss - 0.5) < 5 * Math.sqrt(0.25 / toC.done), `${name} → r2 loss ${toC.loss} of ${toC.done}`);
    }
    assert.deepEqual(
      mc.find('fleetprobe_group_probes_sent_total').map((s) => `${s.labels.src_rack}→${s.labels.dst_rack}`),
      ['r2→r1'],
    );
    assert.equal(mc.value('fleetprobe_group_targets', { dst_rack: 'r1' }), 2, 'node-c probes the two nodes of r1');
    assert.equal(mc.value('fleetprobe_group_probes_lost_total', { dst_rack: 'r1' }), 0, 'node-c → r1');

    await waitFor(
      '25 s of scrapes of every node',
      async () => (await prom.query('count_over_time(fleetprobe_group_probes_sent_total[25s]) >= 20')).length === 5,
      60_000,
      1000,
    );
    const cells = await prom.query(lossMatrixQuery('20s'));
    const byPair = new Map(cells.map((c) => [`${c.metric.src_rack}→${c.metric.dst_rack}`, Number(c.value[1])]));
    assert.deepEqual([...byPair.keys()].sort(), ['r1→r1', 'r1→r2', 'r2→r1'], 'node-a and node-b add up into the r1 rows');
    assert.ok(byPair.get('r1→r1')! < 0.01, `r1 → r1 ${byPair.get('r1→r1')}`);
    assert.ok(byPair.get('r2→r1')! < 0.01, `r2 → r1 ${byPair.get('r2→r1')}`);
    assert.ok(Math.abs(byPair.get('r1→r2')! - 0.5) < 0.1, `r1 → r2 ${byPair.get('r1→r2')}`);
  },
);

test('the namespace test is real: without group_by there are no rollups', { skip: SKIP, timeout: 60_000 }, async () => {
  const dir = tempDir('fp-groups-off');
  dirs.push(dir);
  const cfg = dir.file('c.yaml', {
    workers: 1,
    log: { level: 'warn' },
    probe_defaults: { interval: '100ms' },
    targets: [{ name: 'lo', address: '127.0.0.1', labels: { group: 'a' } }],
  });
  const ns = createNetns(`fpgro${process.pid}`);
  namespaces.push(ns);
  const exp = new ExporterProcess(['run', '--config', cfg, '--web.listen-address', WEB], WEB, { netns: ns.name });
  exporters.push(exp);
  await exp.waitReady(30_000);
  const m = await exp.scrape();
  assert.ok(m.families().includes('fleetprobe_probe_sent_total'));
  assert.deepEqual(
    m.families().filter((f) => f.startsWith('fleetprobe_group_') || f === 'fleetprobe_rollup_groups'),
    [],
  );
  await exp.stop();
});

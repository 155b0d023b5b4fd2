/**
 * The README's table "What one target costs in series" against the real text
 * exposition: one target of each kind in a store with the default buckets, rendered,
 * parsed, and its series counted — fresh, and after one answered probe (the table's
 * "a target that has only ever been answered"). The errors-at-0 column is checked
 * against the series present, so a change to a kind's zeroReasons, the catalog or the
 * default buckets fails here until the README says it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BatchWriter } from '../../src/protocol/batch.js';
import { HTTP_PHASE_NAMES, ProbeEvent } from '../../src/protocol/events.js';
import { TargetStore } from '../../src/aggregate/store.js';
import { renderExpositionText } from '../../src/metrics/exposition.js';
import { parsePrometheusText, type Sample } from '../../src/metrics/text-parse.js';
import { KINDS } from '../../src/kinds/index.js';

interface Row {
  series: number;
  histogram: number;
  zero: string[];
}

function readmeTable(): Map<string, Row> {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const start = readme.indexOf('#### What one target costs in series');
  assert.ok(start > 0, 'the README section exists');
  const rows = new Map<string, Row>();
  for (const line of readme.slice(start, readme.indexOf('Why each exists', start)).split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 6 || !/^[a-z_]+$/.test(cells[1]) || cells[1] === 'kind') continue;
    rows.set(cells[1], { series: Number(cells[2]), histogram: Number(cells[3]), zero: [...cells[4].matchAll(/`([a-z_0-9]+)`/g)].map((m) => m[1]) });
  }
  return rows;
}

function storeWithOneTargetPerKind(): TargetStore {
  const store = new TargetStore({ initialSlots: 8 });
  KINDS.forEach((k, slot) => {
    store.defineSlot(slot, {
      name: k.kind,
      kind: k.kind,
      address: k.kind === 'http' ? undefined : k.kind === 'icmp' ? '127.0.0.1' : '127.0.0.1:4000',
      url: k.kind === 'http' ? 'http://127.0.0.1:4001/' : undefined,
      labels: {},
    });
  });
  return store;
}

function seriesOf(samples: Sample[], target: string): Sample[] {
  return samples.filter((s) => s.labels.target === target);
}

test("the README's series-per-target table is what the text exposition writes, fresh and after an answered probe", () => {
  const table = readmeTable();
  assert.deepEqual([...table.keys()].sort(), KINDS.map((k) => k.kind).sort(), 'one row per kind');

  const store = storeWithOneTargetPerKind();
  const fresh = parsePrometheusText(renderExpositionText(store.snapshot())).samples;

  const w = new BatchWriter(64);
  KINDS.forEach((k, slot) => {
    w.push(slot, ProbeEvent.Sent);
    w.push(slot, ProbeEvent.Reply, 0, 0, 0.0004);
    if (k.kind === 'tcp_echo') {
      w.push(slot, ProbeEvent.Connect, 0, 0, 0.0002);
      w.push(slot, ProbeEvent.Connected, 0, 1);
    }
    if (k.kind === 'http') {
      for (let p = 0; p < HTTP_PHASE_NAMES.length; p++) w.push(slot, ProbeEvent.Phase, 0, p, 0.0001);
      w.push(slot, ProbeEvent.Status, 0, 200);
    }
  });
  store.applyBatch(w.take(0, 1));
  const answered = parsePrometheusText(renderExpositionText(store.snapshot())).samples;

  for (const k of KINDS) {
    const row = table.get(k.kind)!;
    for (const [when, samples] of [
      ['fresh', fresh],
      ['answered', answered],
    ] as const) {
      const mine = seriesOf(samples, k.kind);
      assert.equal(mine.length, row.series, `${k.kind} ${when}: series`);
      assert.equal(mine.filter((s) => s.name.startsWith('fleetprobe_probe_rtt_seconds')).length, row.histogram, `${k.kind} ${when}: RTT histogram series`);
      const zero = mine.filter((s) => s.name === 'fleetprobe_probe_errors_total').map((s) => s.labels.reason);
      assert.deepEqual(zero.sort(), [...row.zero].sort(), `${k.kind} ${when}: errors at 0`);
      assert.deepEqual([...k.zeroReasons].sort(), [...row.zero].sort(), `${k.kind}: the kind's zeroReasons`);
    }
  }
});

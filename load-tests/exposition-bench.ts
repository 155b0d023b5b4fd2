/**
 * Micro-benchmark of the per-target exposition: fills a TargetStore with N
 * targets (mixed kinds, realistic label sets), merges a few batches so counters
 * and histograms are nonzero, then times snapshot + serialization and reports
 * the size: the text format (what curl and Prometheus without native histograms get)
 * and the protobuf exposition (classic + native RTT buckets, then native only).
 * Timing is printed, never asserted.
 *
 * Each size is measured in both metrics.series_labels modes, back to back on the same
 * store (full, then compact: the same counters, only the label bytes differ), with the
 * bytes per target of each format.
 *
 *   node dist/load-tests/exposition-bench.js [targets...]   (default: 10000 50000)
 *   node dist/load-tests/exposition-bench.js --group-by rack 10000 100000
 *
 * With `--group-by LABEL[,LABEL]` each size is measured twice, back to back: the
 * per-target exposition alone, then with the group rollups (metrics.group_by) attached
 * and written after it, as /metrics does; plus the rollups alone (collect + serialize).
 * The fleet's labels: region (3 values), rack (40 values).
 *
 * Pure in-memory: sends no traffic.
 */
import { gzipSync } from 'node:zlib';
import { BatchWriter } from '../src/protocol/batch.js';
import { ProbeEvent } from '../src/protocol/events.js';
import { PROBE_KINDS, type ProbeKind } from '../src/targets/model.js';
import { TargetStore } from '../src/aggregate/store.js';
import { expositionChunks } from '../src/metrics/exposition.js';
import { GroupRollupExports } from '../src/metrics/group-rollups.js';
import { SCRAPE_CHUNK_BYTES } from '../src/metrics/scrape.js';
import { DEFAULT_GROUP_LIMIT } from '../src/aggregate/groups.js';
import { protobufChunks } from '../src/metrics/protobuf-exposition.js';
import { SERIES_LABELS } from '../src/aggregate/label-arena.js';

function fill(n: number, groupBy: readonly string[] = []): { store: TargetStore; rollups: GroupRollupExports | null } {
  const store = new TargetStore({ initialSlots: 16 });
  // Attached before any slot is defined, as the exporter does.
  const rollups = groupBy.length > 0 ? new GroupRollupExports(store, { groupBy, limit: DEFAULT_GROUP_LIMIT }, () => null) : null;
  for (let s = 0; s < n; s++) {
    // Mostly icmp, like a real fleet; a few of every other kind.
    const kind: ProbeKind = s % 10 < 7 ? 'icmp' : PROBE_KINDS[s % PROBE_KINDS.length];
    store.defineSlot(s, {
      name: `host-${s}.dc${s % 7}.example.internal`,
      kind,
      address: kind === 'icmp' ? `10.${(s >> 16) & 255}.${(s >> 8) & 255}.${s & 255}` : `10.0.${(s >> 8) & 255}.${s & 255}:7`,
      url: kind === 'http' ? `http://10.0.0.${s & 255}:8080/ping` : undefined,
      labels: { region: `eu-${s % 3}`, rack: `r${s % 40}` },
    });
  }
  const w = new BatchWriter(n * 4);
  for (let round = 0; round < 5; round++) {
    for (let s = 0; s < n; s++) {
      w.push(s, ProbeEvent.Sent);
      if ((s + round) % 50 === 0) w.push(s, ProbeEvent.Timeout);
      else w.push(s, ProbeEvent.Reply, 0, 0, 0.0002 + (s % 1000) * 1e-5);
      if (s % 97 === 0) w.push(s, ProbeEvent.Error, 9);
      if (s % 10 >= 7 && PROBE_KINDS[s % PROBE_KINDS.length] === 'http') w.push(s, ProbeEvent.Phase, 0, 4, 0.003);
    }
    store.applyBatch(w.take(0, round + 1));
  }
  return { store, rollups };
}

/** Best-of-`runs` ms of `render`, and the bytes and lines of its last output. */
function timeBest(render: () => Buffer[], runs: number): { ms: number; bytes: number; lines: number } {
  render(); // warm up the JIT
  let best = Infinity;
  let last: Buffer[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    last = render();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  let bytes = 0;
  let lines = 0;
  for (const c of last) {
    bytes += c.length;
    for (let i = c.indexOf('\n'); i !== -1; i = c.indexOf('\n', i + 1)) lines++;
  }
  return { ms: best, bytes, lines };
}

/** The same fleet without and with group rollups: what group_by adds to a scrape's serialization. */
function benchGroups(n: number, groupBy: readonly string[]): void {
  const runs = 7;
  const fmt = (r: { ms: number; bytes: number; lines: number }): string => `${r.ms.toFixed(1)} ms, ${r.lines} lines, ${(r.bytes / 1e6).toFixed(2)} MB`;
  const plain = fill(n).store;
  const without = timeBest(() => [...expositionChunks(plain.snapshot(), SCRAPE_CHUNK_BYTES)], runs);
  const { store, rollups } = fill(n, groupBy);
  const withGroups = timeBest(() => {
    const snap = store.snapshot();
    return [...expositionChunks(snap, SCRAPE_CHUNK_BYTES), ...rollups!.textFamilies(snap, SCRAPE_CHUNK_BYTES)];
  }, runs);
  // The snapshot is the scrape's own (shared with the per-target families): not timed here.
  const snap = store.snapshot();
  const alone = timeBest(() => [...rollups!.textFamilies(snap, SCRAPE_CHUNK_BYTES)], runs);
  console.log(
    `${n} targets, group_by [${groupBy.join(', ')}] (${rollups!.rollups.stats().groups} groups), best of ${runs}: ` +
      `without ${fmt(without)}; with ${fmt(withGroups)}; the rollups alone (collect over every slot, serialize) ${fmt(alone)}`,
  );
}

function bench(n: number): void {
  const { store } = fill(n);
  for (const mode of SERIES_LABELS) {
    store.setSeriesLabels(mode);
    benchMode(n, store, mode);
  }
}

function benchMode(n: number, store: TargetStore, mode: string): void {
  const perTarget = (bytes: number): string => `${Math.round(bytes / n)} B/target`;
  // Warm up once so the JIT has seen the serializer.
  for (const _ of expositionChunks(store.snapshot({ native: false }))) void _;
  const runs = 5;
  let best = Infinity;
  let bytes = 0;
  let lines = 0;
  let last: Buffer[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const snap = store.snapshot({ native: false });
    const out: Buffer[] = [];
    for (const c of expositionChunks(snap)) out.push(c);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms < best) best = ms;
    last = out;
  }
  const chunks = last.length;
  for (const c of last) {
    bytes += c.length;
    for (let i = c.indexOf('\n'); i !== -1; i = c.indexOf('\n', i + 1)) lines++;
  }
  const t1 = process.hrtime.bigint();
  const gz = gzipSync(Buffer.concat(last), { level: 1 });
  const gzMs = Number(process.hrtime.bigint() - t1) / 1e6;
  console.log(
    `${n} targets, series_labels ${mode}: serialize best of ${runs} ${best.toFixed(1)} ms, ${lines} lines, ` +
      `${(bytes / 1048576).toFixed(1)} MiB (${perTarget(bytes)}) in ${chunks} chunks; ` +
      `gzip level 1 ${gzMs.toFixed(0)} ms -> ${(gz.length / 1048576).toFixed(2)} MiB (${perTarget(gz.length)})`,
  );
  for (const classicHistograms of [true, false]) {
    for (const _ of protobufChunks(store.snapshot(), { classicHistograms })) void _;
    let pbBest = Infinity;
    let pbBytes = 0;
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      const snap = store.snapshot();
      let size = 0;
      for (const c of protobufChunks(snap, { classicHistograms })) size += c.length;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (ms < pbBest) pbBest = ms;
      pbBytes = size;
    }
    console.log(
      `${n} targets, series_labels ${mode}: protobuf (${classicHistograms ? 'classic + native' : 'native only'} RTT buckets) ` +
        `best of ${runs} ${pbBest.toFixed(1)} ms, ${(pbBytes / 1048576).toFixed(1)} MiB (${perTarget(pbBytes)})`,
    );
  }
}

const args = process.argv.slice(2);
const g = args.indexOf('--group-by');
const groupBy = g >= 0 ? (args.splice(g, 2)[1] ?? '').split(',').filter((l) => l !== '') : [];
if (g >= 0 && groupBy.length === 0) throw new Error('--group-by needs a label list, e.g. --group-by rack');
const sizes = args.map(Number).filter((x) => x > 0);
for (const n of sizes.length > 0 ? sizes : [10_000, 50_000]) {
  if (groupBy.length > 0) benchGroups(n, groupBy);
  else bench(n);
}

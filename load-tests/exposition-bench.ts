/**
 * Micro-benchmark of the per-target exposition: fills a TargetStore with N
 * targets (mixed kinds, realistic label sets), merges a few batches so counters
 * and histograms are nonzero, then times snapshot + serialization and reports
 * the size. Timing is printed, never asserted.
 *
 *   node dist/load-tests/exposition-bench.js [targets...]   (default: 10000 50000)
 *
 * Pure in-memory: sends no traffic.
 */
import { gzipSync } from 'node:zlib';
import { BatchWriter } from '../src/protocol/batch.js';
import { ProbeEvent } from '../src/protocol/events.js';
import { PROBE_KINDS, type ProbeKind } from '../src/targets/model.js';
import { TargetStore } from '../src/aggregate/store.js';
import { expositionChunks } from '../src/metrics/exposition.js';

function fill(n: number): TargetStore {
  const store = new TargetStore({ initialSlots: 16 });
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
  return store;
}

function bench(n: number): void {
  const store = fill(n);
  // Warm up once so the JIT has seen the serializer.
  for (const _ of expositionChunks(store.snapshot())) void _;
  const runs = 5;
  let best = Infinity;
  let bytes = 0;
  let lines = 0;
  let last: Buffer[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const snap = store.snapshot();
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
    `${n} targets: serialize best of ${runs} ${best.toFixed(1)} ms, ${lines} lines, ${(bytes / 1048576).toFixed(1)} MiB in ${chunks} chunks; ` +
      `gzip level 1 ${gzMs.toFixed(0)} ms -> ${(gz.length / 1048576).toFixed(2)} MiB`,
  );
}

const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0);
for (const n of sizes.length > 0 ? sizes : [10_000, 50_000]) bench(n);

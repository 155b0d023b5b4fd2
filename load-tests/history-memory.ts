/**
 * What the history rings and the console's API cost at 10k and 100k targets, in this
 * process (no probing: the store is fed synthetic batches, which is exactly what the
 * rings read):
 *
 *   - memory: heap + ArrayBuffer bytes (process.memoryUsage, after a full GC) held by
 *     the rings once every period of the ring has been closed, per target;
 *   - CPU: closing one period over every target (what each batch after a boundary
 *     costs the main thread), the live columns of every target (the Targets view's
 *     poll), the overview and one matrix row.
 *
 *   npm run bench:history                                   # 10,000 and 100,000 targets, defaults (1h at 30s)
 *   npm run bench:history -- --targets 10000 --retention 1h --resolution 10s
 *
 * Bounded: a fixed number of closes per size; exits by itself.
 */
import { parseArgs } from 'node:util';
import { TargetStore } from '../src/aggregate/store.js';
import { History } from '../src/aggregate/history.js';
import { BatchWriter } from '../src/protocol/batch.js';
import { ProbeEvent } from '../src/protocol/events.js';
import { parseDuration } from '../src/values/duration.js';
import { ConsoleModel, type ConsoleSource } from '../src/http/console/model.js';
import type { ConsoleEntry } from '../src/http/console/catalog.js';
import { consoleFleet } from './console-fleet.js';
import { cpuModel } from './proc-stats.js';

const gc = (globalThis as { gc?: () => void }).gc;

function heapBytes(): number {
  for (let i = 0; i < 3; i++) gc?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** One batch: every target sent 2 probes, answered 2 (RTT spread over 20 µs..2 ms), except every 50th which lost one. */
function batch(n: number, round: number): ArrayBuffer {
  const w = new BatchWriter(n * 4 + 16);
  for (let s = 0; s < n; s++) {
    w.push(s, ProbeEvent.Sent, 0, 0, 0);
    w.push(s, ProbeEvent.Reply, 0, 0, 20e-6 * (1 + ((s * 7 + round) % 100)));
    w.push(s, ProbeEvent.Sent, 0, 0, 0);
    if (s % 50 === 0) w.push(s, ProbeEvent.Timeout, 0, 0, 0);
    else w.push(s, ProbeEvent.Reply, 0, 0, 30e-6);
  }
  return w.take(0, round);
}

function measure(n: number, retentionMs: number, resolutionMs: number): void {
  const store = new TargetStore({ initialSlots: n });
  const fleet = consoleFleet(n);
  const entries: ConsoleEntry[] = fleet.map((t, slot) => ({ slot, name: t.name, kind: 'icmp', address: t.address, labels: t.labels, state: 'ok' }));
  fleet.forEach((t, slot) => store.defineSlot(slot, { name: t.name, kind: 'icmp', address: t.address, labels: t.labels }));
  const before = heapBytes();
  const start = 1_800_000_000_000;
  const history = new History(store, { retentionMs, resolutionMs, startMs: start });
  const closes: number[] = [];
  // Fill every period of the ring (plus one, so the ring has wrapped).
  for (let k = 1; k <= history.points + 1; k++) {
    store.applyBatch(batch(n, k));
    const t0 = performance.now();
    history.observe(start + k * resolutionMs);
    closes.push(performance.now() - t0);
  }
  const after = heapBytes();
  const perTarget = (after - before) / n;

  // The console's per-poll work on this store (no cache between calls: a new model each time).
  const source: ConsoleSource = {
    store,
    history,
    generation: () => 1,
    entries: () => entries,
    status: () => ({}),
    workers: () => [],
    node: () => ({ name: 'bench', labels: {}, mesh: false }),
    peers: () => [],
  };
  const now = start + (history.points + 1) * resolutionMs + 1000;
  const times = { live: [] as number[], p99: [] as number[], overview: [] as number[], row: [] as number[], list: [] as number[], target: [] as number[] };
  for (let i = 0; i < 5; i++) {
    let clock = now;
    const model = new ConsoleModel(source, () => clock);
    let t0 = performance.now();
    const json = model.catalog().toJson();
    times.list.push(performance.now() - t0);
    t0 = performance.now();
    model.live(); // the first one also computes the p99 column (once per period close)
    times.p99.push(performance.now() - t0);
    clock += 2000; // past the 1 s cache, same period
    t0 = performance.now();
    model.live();
    times.live.push(performance.now() - t0);
    t0 = performance.now();
    model.overview();
    times.overview.push(performance.now() - t0);
    t0 = performance.now();
    model.target(fleet[Math.floor(n / 2)].name);
    times.target.push(performance.now() - t0);
    model.localRow('rack', 15 * 60_000); // groups the targets by rack once per target set
    t0 = performance.now();
    model.localRow('rack', 5 * 60_000);
    times.row.push(performance.now() - t0);
    if (i === 0) console.log(`  target list JSON: ${(json.length / 1e6).toFixed(2)} MB; live columns: ${((8 + n * 12) / 1e6).toFixed(2)} MB`);
  }
  console.log(
    [
      `  ${n.toLocaleString('en-US')} targets, ${history.points} periods of ${resolutionMs / 1000} s:`,
      `    history memory: ${(after - before).toLocaleString('en-US')} bytes measured = ${perTarget.toFixed(0)} B/target` +
        ` (typed arrays: ${history.memoryBytes().toLocaleString('en-US')} B for ${history.slotCapacity.toLocaleString('en-US')} slots; ${history.bytesPerTarget()} B per slot)`,
      `    closing one period over every target: median ${median(closes).toFixed(1)} ms, max ${Math.max(...closes).toFixed(1)} ms`,
      `    console API work (median of 5): target list ${median(times.list).toFixed(0)} ms (once per target-set change);` +
        ` live columns ${median(times.live).toFixed(1)} ms per poll, ${median(times.p99).toFixed(1)} ms with the 5-minute p99 column (once per period close);` +
        ` overview ${median(times.overview).toFixed(1)} ms; one target's detail ${median(times.target).toFixed(2)} ms; matrix row by rack over 5 min ${median(times.row).toFixed(1)} ms`,
    ].join('\n'),
  );
}

function main(): void {
  const { values } = parseArgs({
    options: {
      targets: { type: 'string', default: '10000,100000' },
      retention: { type: 'string', default: '1h' },
      resolution: { type: 'string', default: '30s' },
    },
  });
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:history does)');
  const retention = parseDuration(values.retention);
  const resolution = parseDuration(values.resolution);
  console.log(`history memory and console API cost (${cpuModel()}, Node ${process.version}); retention ${values.retention}, resolution ${values.resolution}`);
  for (const n of values.targets.split(',').map(Number)) {
    if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new Error(`bad --targets ${n}`);
    measure(n, retention, resolution);
  }
}

main();

/**
 * A TargetStore of N ICMP targets filled in memory with reproducible RTTs (a seeded
 * PRNG), for the in-memory OTLP benchmarks: half the fleet LAN-like (median 0.2–2 ms,
 * jitter up to +50%), half WAN-like (median 10–150 ms, a tail up to 4× the median).
 * Sends no traffic.
 */
import { TargetStore } from '../src/aggregate/store.js';
import { BatchWriter } from '../src/protocol/batch.js';
import { ProbeEvent } from '../src/protocol/events.js';

export function fill(n: number, replies: number): TargetStore {
  const store = new TargetStore({ initialSlots: 16 });
  let x = 12345;
  const rnd = (): number => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x / 0x7fffffff);
  for (let s = 0; s < n; s++) {
    store.defineSlot(s, {
      name: `host-${s}.dc${s % 7}.example.internal`,
      kind: 'icmp',
      address: `10.${(s >> 16) & 255}.${(s >> 8) & 255}.${s & 255}`,
      labels: { region: ['eu', 'us', 'ap'][s % 3], rack: `r${s % 40}` },
    });
  }
  const perBatch = 4096;
  const w = new BatchWriter(perBatch);
  let k = 0;
  const push = (slot: number, event: ProbeEvent, v = 0): void => {
    w.push(slot, event, 0, 0, v);
    if (++k === perBatch) {
      store.applyBatch(w.take(0, 1));
      k = 0;
    }
  };
  for (let s = 0; s < n; s++) {
    const wan = s % 2 === 1;
    const median = wan ? 0.01 + rnd() * 0.14 : 0.0002 + rnd() * 0.0018;
    for (let r = 0; r < replies; r++) {
      push(s, ProbeEvent.Sent);
      const u = rnd();
      const v = wan ? median * (u < 0.95 ? 0.9 + rnd() * 0.3 : 1.2 + rnd() * 2.8) : median * (1 + rnd() * 0.5);
      push(s, ProbeEvent.Reply, v);
    }
  }
  if (k > 0) store.applyBatch(w.take(0, 1));
  return store;
}

/**
 * A TargetStore filled deterministically with every kind, every event type, every
 * error reason and HTTP phase, label values that need escaping, an empty slot in the
 * middle, a redefined slot and invalid values: the state the golden exposition and
 * OTLP files are rendered from.
 */
import { BatchWriter } from '../../src/protocol/batch.js';
import { ERROR_REASON_NAMES, HTTP_PHASE_NAMES, ProbeEvent } from '../../src/protocol/events.js';
import { TargetStore } from '../../src/aggregate/store.js';
import type { SeriesLabels } from '../../src/aggregate/label-arena.js';

type Kind = 'icmp' | 'tcp' | 'tcp_echo' | 'udp' | 'http';
const KINDS: readonly Kind[] = ['icmp', 'tcp', 'tcp_echo', 'udp', 'http'];

export function populatedStore(buckets?: number[], seriesLabels: SeriesLabels = 'full'): TargetStore {
  const store = new TargetStore(buckets === undefined ? { initialSlots: 16, seriesLabels } : { buckets, initialSlots: 16, seriesLabels });
  const slots = 23;
  for (let s = 0; s < slots; s++) {
    const kind = KINDS[s % KINDS.length];
    const labels: Record<string, string> = s % 3 === 0 ? {} : { rack: `r${s % 4}`, note: s === 4 ? 'quote " back \\ nl \n ünï' : `n${s}` };
    store.defineSlot(s, {
      name: `t${s}-${kind}`,
      kind,
      address: kind === 'http' ? undefined : kind === 'icmp' ? `127.0.0.${s + 1}` : `127.0.0.${s + 1}:4000`,
      url: kind === 'http' ? `http://127.0.0.${s + 1}:4001/v1/ping` : undefined,
      labels,
      lossWindow: 1 + (s % 7) * 3,
    });
  }
  const w = new BatchWriter(64);
  for (let round = 0; round < 40; round++) {
    for (let s = 0; s < slots; s++) {
      const kind = KINDS[s % KINDS.length];
      const k = round * 31 + s * 7;
      w.push(s, ProbeEvent.Sent);
      switch (k % 9) {
        case 0:
          w.push(s, ProbeEvent.Timeout);
          break;
        case 1:
          w.push(s, ProbeEvent.Error, (k >> 3) % (ERROR_REASON_NAMES.length + 2), 0, 0.001);
          break;
        default:
          w.push(s, ProbeEvent.Reply, 0, 0, ((k * 7919) % 100_000) * 1e-6 * (1 + (s % 5)));
      }
      if (k % 13 === 0) w.push(s, ProbeEvent.Duplicate);
      if (k % 17 === 0) w.push(s, ProbeEvent.Late, 0, 0, 2.5);
      if (kind === 'tcp_echo') {
        if (k % 11 === 0) w.push(s, ProbeEvent.Connect);
        w.push(s, ProbeEvent.Connected, 0, k % 5 === 0 ? 0 : 1);
      }
      if (kind === 'http') {
        for (let p = 0; p < HTTP_PHASE_NAMES.length; p++) if ((k + p) % 4 !== 0) w.push(s, ProbeEvent.Phase, 0, p, ((k + p * 13) % 500) * 1e-4);
        w.push(s, ProbeEvent.Status, 0, [200, 204, 404, 503][k % 4]);
      }
      if (k % 29 === 0) w.push(s, ProbeEvent.TargetInvalid, 20);
    }
    // Malformed and invalid records are dropped or observed as 0, never counted elsewhere.
    w.push(1, ProbeEvent.Reply, 0, 0, NaN);
    w.push(2, ProbeEvent.Reply, 0, 0, -1);
    w.push(4, ProbeEvent.Phase, 0, 99, 0.1);
    w.push(3, 200);
    w.push(slots + 5, ProbeEvent.Sent);
    store.applyBatch(w.take(0, round + 1));
  }
  // A slot released (its series gone) and one redefined as another target (from zero).
  store.releaseSlot(7);
  store.defineSlot(11, { name: 'redefined', kind: 'udp', address: '[::1]:4000', labels: { rack: 'r9' } });
  store.applyBatch(
    (() => {
      w.push(11, ProbeEvent.Sent);
      w.push(11, ProbeEvent.Reply, 0, 0, 0.000123);
      w.push(7, ProbeEvent.Sent);
      return w.take(0, 99);
    })(),
  );
  return store;
}

/** Collects what a shard posts (batches decoded into per-slot counts) for integration tests. */
import { BatchReader, Header } from '../../src/protocol/batch.js';
import { DROP_REASON_NAMES, ProbeEvent } from '../../src/protocol/events.js';
import type { FromWorker } from '../../src/protocol/messages.js';
import type { ShardTarget } from '../../src/targets/model.js';

export interface Tally {
  sent: Map<number, number>;
  reply: Map<number, number>;
  timeout: Map<number, number>;
  error: Map<string, number>;
  other: number;
  rtts: number[];
  drops: number[];
  batches: number;
  started: number;
  schedLagMax: number;
  messages: FromWorker[];
}

export function newTally(): Tally {
  return {
    sent: new Map(),
    reply: new Map(),
    timeout: new Map(),
    error: new Map(),
    other: 0,
    rtts: [],
    drops: new Array(DROP_REASON_NAMES.length).fill(0),
    batches: 0,
    started: 0,
    schedLagMax: 0,
    messages: [],
  };
}

const inc = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);

export function absorb(t: Tally, msg: FromWorker): void {
  if (msg.type !== 'batch') {
    t.messages.push(msg);
    return;
  }
  const r = new BatchReader(msg.buf);
  t.batches++;
  t.started += r.header[Header.ProbesStarted];
  t.schedLagMax = Math.max(t.schedLagMax, r.header[Header.SchedLagMax]);
  for (let d = 0; d < DROP_REASON_NAMES.length; d++) t.drops[d] += r.header[Header.DropsStart + d];
  for (let i = 0; i < r.count; i++) {
    const slot = r.slot(i);
    switch (r.event(i) as ProbeEvent) {
      case ProbeEvent.Sent:
        inc(t.sent, slot);
        break;
      case ProbeEvent.Reply:
        inc(t.reply, slot);
        t.rtts.push(r.value(i));
        break;
      case ProbeEvent.Timeout:
        inc(t.timeout, slot);
        break;
      case ProbeEvent.Error:
        inc(t.error, `${slot}:${r.reason(i)}`);
        break;
      default:
        t.other++;
    }
  }
}

export function icmpTarget(slot: number, ip: string, intervalMs: number, timeoutMs = 500): ShardTarget {
  return {
    slot,
    name: `icmp-${slot}`,
    kind: 'icmp',
    ip,
    family: ip.includes(':') ? 6 : 4,
    port: 0,
    intervalMs,
    phaseMs: (slot * 7) % intervalMs,
    timeoutMs,
    payloadSize: 56,
    options: { kind: 'icmp' },
  };
}

/**
 * fleetprobe.v1.SubscribeResponse encoding. Each event is serialized once, with the
 * serializer proto-loader derived from the shipped .proto, and the same bytes are
 * written to every gRPC subscriber of that event (the service passes Buffers through
 * unchanged: see server.ts).
 */
import type { SlotState } from '../aggregate/store.js';
import { ERROR_REASON_NAMES } from '../protocol/events.js';
import { Outcome, outcomeHasRtt } from '../stream/outcome.js';
import type { Catalog } from '../stream/selection.js';
import type { EventTime, StreamFormat } from '../stream/types.js';

export type Serialize = (value: object) => Buffer;

export class GrpcFormat implements StreamFormat<Buffer> {
  private names: string[] = [];
  private kinds: string[] = [];
  private addresses: string[] = [];
  /** Label pairs per slot, sorted by name (built once per target set). */
  private labels: { name: string; value: string }[][] = [];
  private readonly syncBytes: Buffer;

  constructor(private readonly serialize: Serialize) {
    this.syncBytes = serialize({ sync_response: true });
  }

  setCatalog(catalog: Catalog): void {
    const names: string[] = [];
    const kinds: string[] = [];
    const addresses: string[] = [];
    const labels: { name: string; value: string }[][] = [];
    for (const e of catalog.entries) {
      names[e.slot] = e.name;
      kinds[e.slot] = e.kind;
      addresses[e.slot] = e.address;
      labels[e.slot] = Object.keys(e.labels)
        .sort()
        .map((name) => ({ name, value: e.labels[name] }));
    }
    this.names = names;
    this.kinds = kinds;
    this.addresses = addresses;
    this.labels = labels;
  }

  result(slot: number, outcome: Outcome, rttSeconds: number, reason: number, time: EventTime): Buffer {
    return this.serialize({
      target: this.names[slot],
      result: {
        kind: this.kinds[slot],
        outcome,
        rtt_seconds: outcomeHasRtt(outcome, rttSeconds) ? rttSeconds : 0,
        reason: outcome === Outcome.Error ? (ERROR_REASON_NAMES[reason] ?? 'unknown') : '',
        time_unix_nano: time.unixNano,
      },
    });
  }

  state(slot: number, s: SlotState, time: EventTime): Buffer {
    return this.serialize({
      target: this.names[slot],
      state: {
        kind: this.kinds[slot],
        address: this.addresses[slot],
        labels: this.labels[slot],
        sent: s.sent,
        received: s.received,
        timeouts: s.timeouts,
        errors: Object.keys(s.errors).map((reason) => ({ reason, count: s.errors[reason] })),
        late: s.late,
        duplicates: s.duplicates,
        loss_ratio: s.lossRatio,
        last_rtt_seconds: s.lastRtt,
        rtt_avg_seconds: s.received > 0 ? s.rttSum / s.received : NaN,
        time_unix_nano: time.unixNano,
      },
    });
  }

  sync(): Buffer {
    return this.syncBytes;
  }

  size(chunk: Buffer): number {
    return chunk.length;
  }
}

/**
 * The ProbeSink every prober of a shard writes to: outcomes of scheduled targets go
 * to the batch (as before), outcomes of on-demand slots (>= ONDEMAND_SLOT_BASE) go to
 * the on-demand runner. One comparison per outcome; the probers stay unaware of tests,
 * so a test uses the very code path (sockets, matching, timeouts) of the scheduled
 * probes of its kind.
 */
import { ONDEMAND_SLOT_BASE } from '../src/protocol/messages.js';
import type { ProbeSink } from './probes/prober.js';

export class ProbeSinkRouter implements ProbeSink {
  constructor(
    private readonly batch: ProbeSink,
    private readonly ondemand: ProbeSink,
  ) {}

  sent(slot: number): void {
    if (slot >= ONDEMAND_SLOT_BASE) this.ondemand.sent(slot);
    else this.batch.sent(slot);
  }
  reply(slot: number, rttSeconds: number, seq?: number): void {
    if (slot >= ONDEMAND_SLOT_BASE) this.ondemand.reply(slot, rttSeconds, seq);
    else this.batch.reply(slot, rttSeconds);
  }
  timeout(slot: number): void {
    if (slot >= ONDEMAND_SLOT_BASE) this.ondemand.timeout(slot);
    else this.batch.timeout(slot);
  }
  error(slot: number, reason: number): void {
    if (slot >= ONDEMAND_SLOT_BASE) this.ondemand.error(slot, reason);
    else this.batch.error(slot, reason);
  }
  duplicate(slot: number): void {
    if (slot >= ONDEMAND_SLOT_BASE) this.ondemand.duplicate(slot);
    else this.batch.duplicate(slot);
  }
  late(slot: number, rttSeconds: number): void {
    if (slot >= ONDEMAND_SLOT_BASE) this.ondemand.late(slot, rttSeconds);
    else this.batch.late(slot, rttSeconds);
  }
  dropped(reason: number): void {
    this.batch.dropped(reason);
  }
  record(slot: number, event: number, reason: number, aux: number, value: number): void {
    if (slot >= ONDEMAND_SLOT_BASE) this.ondemand.record(slot, event, reason, aux, value);
    else this.batch.record(slot, event, reason, aux, value);
  }
  transferred(slot: number, bytes: number, seconds: number): void {
    if (slot >= ONDEMAND_SLOT_BASE) this.ondemand.transferred?.(slot, bytes, seconds);
  }
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    this.batch.log?.(level, msg, fields);
  }
}

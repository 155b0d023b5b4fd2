/**
 * The shard's ProbeSink: probe outcomes become 16-byte records in a BatchWriter,
 * drop counters go straight into the batch header. `take()` finishes a batch for
 * transfer to the main thread.
 *
 * The writer replaces its header array after every take() (the old buffer is
 * transferred and detached), so the header is always read through the writer.
 */
import { BatchWriter, Header } from '../src/protocol/batch.js';
import { DROP_REASON_NAMES } from '../src/protocol/events.js';
import { ProbeEvent } from '../src/protocol/events.js';
import type { ProbeSink } from './probes/prober.js';

export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export class Batcher implements ProbeSink {
  private readonly writer: BatchWriter;
  private batchSeq = 0;

  constructor(
    private readonly workerIndex: number,
    initialRecords = 4096,
    private readonly logFn?: LogFn,
  ) {
    this.writer = new BatchWriter(initialRecords);
  }

  /** Header of the batch being filled (valid until the next take()). */
  get header(): Float64Array {
    return this.writer.header;
  }

  /** Records in the batch being filled. */
  get length(): number {
    return this.writer.length;
  }

  sent(slot: number): void {
    this.writer.push(slot, ProbeEvent.Sent);
  }
  reply(slot: number, rttSeconds: number): void {
    this.writer.push(slot, ProbeEvent.Reply, 0, 0, rttSeconds);
  }
  timeout(slot: number): void {
    this.writer.push(slot, ProbeEvent.Timeout);
  }
  error(slot: number, reason: number): void {
    this.writer.push(slot, ProbeEvent.Error, reason);
  }
  duplicate(slot: number): void {
    this.writer.push(slot, ProbeEvent.Duplicate);
  }
  late(slot: number, rttSeconds: number): void {
    this.writer.push(slot, ProbeEvent.Late, 0, 0, rttSeconds);
  }
  dropped(reason: number): void {
    // Unknown codes are folded into the last counter rather than writing past the block.
    const r = reason >= 0 && reason < DROP_REASON_NAMES.length ? reason | 0 : DROP_REASON_NAMES.length - 1;
    this.writer.header[Header.DropsStart + r] += 1;
  }
  record(slot: number, event: number, reason: number, aux: number, value: number): void {
    this.writer.push(slot, event, reason, aux, value);
  }
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    this.logFn?.(level, msg, fields);
  }

  /**
   * Finish the current batch (header version/worker/count/seq/generation filled) for
   * transfer. `generation`: the target update applied while its records were written.
   */
  take(generation = 0): ArrayBuffer {
    return this.writer.take(this.workerIndex, ++this.batchSeq, generation);
  }
}

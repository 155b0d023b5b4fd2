/**
 * Server-Sent Events encoding of the live stream (text/event-stream):
 *
 *   event: result
 *   data: {"target":"lo4","kind":"icmp","outcome":"reply","rtt_seconds":0.000041,"reason":null,"time":"…"}
 *
 *   event: state
 *   data: {"target":"lo4","kind":"icmp","address":"127.0.0.1","labels":{},"sent":12,…}
 *
 * Every data line is one JSON object (JSON never contains a raw newline, so one
 * `data:` line per event is always valid SSE). The per-target head of each object
 * (name, kind, address, labels: escaped once) is built when the target set changes,
 * so an event costs one short concatenation.
 */
import { ERROR_REASON_NAMES } from '../protocol/events.js';
import type { SlotState } from '../aggregate/store.js';
import { OUTCOME_NAMES, Outcome, outcomeHasRtt } from './outcome.js';
import type { Catalog } from './selection.js';
import type { DropReason, EventTime, StreamFormat } from './types.js';

/** JSON number, with NaN/Infinity (no JSON form) as null. */
function num(v: number): string {
  return Number.isFinite(v) ? String(v) : 'null';
}

export class SseFormat implements StreamFormat<string> {
  /** `event: result\ndata: {"target":…,"kind":…,` per slot. */
  private resultHead: string[] = [];
  /** `event: state\ndata: {"target":…,"kind":…,"address":…,"labels":{…},` per slot. */
  private stateHead: string[] = [];

  setCatalog(catalog: Catalog): void {
    const rh: string[] = [];
    const sh: string[] = [];
    for (const e of catalog.entries) {
      const id = `"target":${JSON.stringify(e.name)},"kind":${JSON.stringify(e.kind)}`;
      rh[e.slot] = `event: result\ndata: {${id},`;
      sh[e.slot] = `event: state\ndata: {${id},"address":${JSON.stringify(e.address)},"labels":${JSON.stringify(e.labels)},`;
    }
    this.resultHead = rh;
    this.stateHead = sh;
  }

  result(slot: number, outcome: Outcome, rttSeconds: number, reason: number, time: EventTime): string {
    const rtt = outcomeHasRtt(outcome, rttSeconds) ? num(rttSeconds) : 'null';
    const why = outcome === Outcome.Error ? `"${ERROR_REASON_NAMES[reason] ?? 'unknown'}"` : 'null';
    return `${this.resultHead[slot]}"outcome":"${OUTCOME_NAMES[outcome]}","rtt_seconds":${rtt},"reason":${why},"time":"${time.iso}"}\n\n`;
  }

  state(slot: number, s: SlotState, time: EventTime): string {
    const mean = s.received > 0 ? s.rttSum / s.received : NaN;
    return (
      `${this.stateHead[slot]}"sent":${s.sent},"received":${s.received},"timeouts":${s.timeouts},"errors":${JSON.stringify(s.errors)},` +
      `"late":${s.late},"duplicates":${s.duplicates},"loss_ratio":${num(s.lossRatio)},"last_rtt_seconds":${num(s.lastRtt)},` +
      `"rtt_avg_seconds":${num(mean)},"time":"${time.iso}"}\n\n`
    );
  }

  sync(): string {
    return 'event: sync\ndata: {}\n\n';
  }

  size(chunk: string): number {
    // Names are mostly ASCII; a multi-byte name only makes this an underestimate by its extra bytes.
    return chunk.length;
  }
}

/** The last event of a dropped client. */
export function sseDropped(reason: DropReason): string {
  return `event: dropped\ndata: {"reason":"${reason}"}\n\n`;
}

/** The last event of a ONCE stream, or of any stream when the server stops. */
export function sseEnd(reason: 'done' | 'shutdown'): string {
  return `event: end\ndata: {"reason":"${reason}"}\n\n`;
}

/** A comment line: keeps idle connections (and proxies) from timing out. */
export const SSE_HEARTBEAT = ': keep-alive\n\n';

/**
 * What a burst's records say, counted: the figures GET /probe renders. Pure.
 *
 * Books as the store keeps them for scheduled targets: every Sent ends in exactly one
 * Reply, Timeout or Error; a Late reply does not undo its Timeout; loss is
 * (sent - received) / sent over the probes that have an outcome, so a burst cut short
 * does not count its unanswered last probes as lost.
 */
import { BatchReader } from '../protocol/batch.js';
import { ERROR_REASON_NAMES, HTTP_PHASE_NAMES, ProbeEvent, type ErrorReasonName, type HttpPhaseName } from '../protocol/events.js';

export interface RttStats {
  min: number;
  avg: number;
  max: number;
  /** Population standard deviation (as ping's mdev). */
  stddev: number;
}

export interface BurstSummary {
  sent: number;
  received: number;
  timeouts: number;
  /** Failed probes by reason (only reasons that occurred). */
  errors: Partial<Record<ErrorReasonName, number>>;
  duplicates: number;
  late: number;
  /** Probes with an outcome (received + timeouts + errors). */
  completed: number;
  /** (completed - received) / completed; NaN when nothing completed. */
  lossRatio: number;
  /** RTTs of the replies in time (seconds), in arrival order. */
  rtts: number[];
  /** null when nothing was answered. */
  rtt: RttStats | null;
  /** http: mean of each phase over the probes that reported it (seconds). */
  httpPhases: Partial<Record<HttpPhaseName, number>>;
  /** http: status code of the last complete response, or null. */
  httpStatus: number | null;
}

export function rttStats(rtts: readonly number[]): RttStats | null {
  const n = rtts.length;
  if (n === 0) return null;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const r of rtts) {
    if (r < min) min = r;
    if (r > max) max = r;
    sum += r;
  }
  const avg = sum / n;
  let sq = 0;
  for (const r of rtts) sq += (r - avg) * (r - avg);
  return { min, avg, max, stddev: Math.sqrt(sq / n) };
}

/** Count a burst's records (a batch-codec buffer, as BurstResult.records). Throws on a malformed buffer. */
export function summarizeBurst(records: ArrayBuffer): BurstSummary {
  const r = new BatchReader(records);
  const s: BurstSummary = {
    sent: 0,
    received: 0,
    timeouts: 0,
    errors: {},
    duplicates: 0,
    late: 0,
    completed: 0,
    lossRatio: Number.NaN,
    rtts: [],
    rtt: null,
    httpPhases: {},
    httpStatus: null,
  };
  const phaseSum = new Float64Array(HTTP_PHASE_NAMES.length);
  const phaseCount = new Uint32Array(HTTP_PHASE_NAMES.length);
  for (let i = 0; i < r.count; i++) {
    switch (r.event(i)) {
      case ProbeEvent.Sent:
        s.sent++;
        break;
      case ProbeEvent.Reply:
        s.received++;
        s.rtts.push(r.value(i));
        break;
      case ProbeEvent.Timeout:
        s.timeouts++;
        break;
      case ProbeEvent.Error: {
        const name = ERROR_REASON_NAMES[r.reason(i)] ?? 'unknown';
        s.errors[name] = (s.errors[name] ?? 0) + 1;
        break;
      }
      case ProbeEvent.Duplicate:
        s.duplicates++;
        break;
      case ProbeEvent.Late:
        s.late++;
        break;
      case ProbeEvent.Phase: {
        const p = r.aux(i);
        if (p < HTTP_PHASE_NAMES.length) {
          phaseSum[p] += r.value(i);
          phaseCount[p]++;
        }
        break;
      }
      case ProbeEvent.Status:
        s.httpStatus = r.aux(i);
        break;
    }
  }
  let errors = 0;
  for (const n of Object.values(s.errors)) errors += n ?? 0;
  s.completed = s.received + s.timeouts + errors;
  s.lossRatio = s.completed > 0 ? (s.completed - s.received) / s.completed : Number.NaN;
  s.rtt = rttStats(s.rtts);
  HTTP_PHASE_NAMES.forEach((name, i) => {
    if (phaseCount[i] > 0) s.httpPhases[name] = phaseSum[i] / phaseCount[i];
  });
  return s;
}

/** Failed probes in all. */
export function errorCount(s: BurstSummary): number {
  let n = 0;
  for (const v of Object.values(s.errors)) n += v ?? 0;
  return n;
}

/**
 * What a worker records while it runs one on-demand test (Tally), and the result the
 * API shows (TestResult), derived from it by summarize(). The tally crosses the
 * thread boundary once, when the test ends; the summary is computed on the worker.
 */
import { HTTP_PHASE_NAMES, type HttpPhaseName } from '../events.js';
import { interarrivalJitter, lossRatio, reorderedCount, summarizeRtts, type RttSummary } from './stats.js';

export interface Tally {
  sent: number;
  /** Answered in time. */
  received: number;
  timeouts: number;
  duplicates: number;
  late: number;
  /** Failed probes by reason (ERROR_REASON_NAMES). */
  errors: Record<string, number>;
  /** RTT of each answered probe, in arrival order (seconds). */
  rtts: number[];
  /** udp: the sequence number of each answered probe, in arrival order; else empty. */
  seqs: number[];
  /** http: body bytes of the answered probes, and their request-to-end-of-body time (seconds). */
  bodyBytes: number;
  transferSeconds: number;
  /** http: sum and count of each phase's durations (index: HttpPhase), and the last response's status (0: none yet). */
  phaseSums: number[];
  phaseCounts: number[];
  httpStatus: number;
}

export function newTally(): Tally {
  return {
    sent: 0,
    received: 0,
    timeouts: 0,
    duplicates: 0,
    late: 0,
    errors: {},
    rtts: [],
    seqs: [],
    bodyBytes: 0,
    transferSeconds: 0,
    phaseSums: HTTP_PHASE_NAMES.map(() => 0),
    phaseCounts: HTTP_PHASE_NAMES.map(() => 0),
    httpStatus: 0,
  };
}

export interface TestResult {
  sent: number;
  received: number;
  loss_ratio: number;
  /** null when no probe was answered. */
  rtt_seconds: RttSummary | null;
  errors: Record<string, number>;
  timeouts: number;
  duplicates: number;
  late: number;
  /** RFC 3550 interarrival jitter over the answered probes (seconds). */
  jitter_seconds: number;
  /** udp: replies that arrived after one sent later (RFC 4737). */
  reordered?: number;
  /** http: body bytes received and their rate over the answered requests' total time. */
  bytes_received?: number;
  throughput_bytes_per_second?: number;
  /** http: mean duration of each phase over the requests that reached it (seconds; a phase none reached is absent). */
  http_phase_seconds?: Partial<Record<HttpPhaseName, number>>;
  /** http: status code of the last complete response, null when none completed. */
  http_status?: number | null;
}

export function summarize(kind: string, t: Tally): TestResult {
  const r: TestResult = {
    sent: t.sent,
    received: t.received,
    loss_ratio: lossRatio(t.sent, t.received),
    rtt_seconds: summarizeRtts(t.rtts),
    errors: { ...t.errors },
    timeouts: t.timeouts,
    duplicates: t.duplicates,
    late: t.late,
    jitter_seconds: interarrivalJitter(t.rtts),
  };
  if (kind === 'udp') r.reordered = reorderedCount(t.seqs);
  if (kind === 'http') {
    r.bytes_received = t.bodyBytes;
    r.throughput_bytes_per_second = t.transferSeconds > 0 ? t.bodyBytes / t.transferSeconds : 0;
    const phases: Partial<Record<HttpPhaseName, number>> = {};
    HTTP_PHASE_NAMES.forEach((name, i) => {
      if (t.phaseCounts[i] > 0) phases[name] = t.phaseSums[i] / t.phaseCounts[i];
    });
    r.http_phase_seconds = phases;
    r.http_status = t.httpStatus > 0 ? t.httpStatus : null;
  }
  return r;
}

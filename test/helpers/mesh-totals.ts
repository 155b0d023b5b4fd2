/**
 * Per-target probe counters from a scrape, and their growth between two scrapes.
 *
 * "Zero loss after warm-up" is checked on deltas: a process probing peers that start
 * a moment later (or a tcp_echo connection still being made) may count a few refused
 * probes first; what matters is that once everyone is up, nothing more is lost.
 */
import type { Metrics } from './exporter-process.js';

export interface ProbeTotals {
  sent: number;
  received: number;
  timeouts: number;
  /** Sum over every reason. */
  errors: number;
}

export function probeTotals(m: Metrics, target: string): ProbeTotals {
  return {
    sent: m.value('fleetprobe_probe_sent_total', { target }) ?? NaN,
    received: m.value('fleetprobe_probe_received_total', { target }) ?? NaN,
    timeouts: m.value('fleetprobe_probe_timeouts_total', { target }) ?? NaN,
    errors: m.sum('fleetprobe_probe_errors_total', { target }),
  };
}

export function totalsDelta(before: ProbeTotals, after: ProbeTotals): ProbeTotals {
  return {
    sent: after.sent - before.sent,
    received: after.received - before.received,
    timeouts: after.timeouts - before.timeouts,
    errors: after.errors - before.errors,
  };
}

/** Totals of every target of `names`, by name. */
export function snapshot(m: Metrics, names: readonly string[]): Map<string, ProbeTotals> {
  return new Map(names.map((n) => [n, probeTotals(m, n)]));
}

/** Error counters of `target` that are not zero, as "reason=N" (for assertion messages). */
export function nonZeroErrors(m: Metrics, target: string): string[] {
  return m
    .find('fleetprobe_probe_errors_total', { target })
    .filter((s) => s.value !== 0)
    .map((s) => `${s.labels.reason}=${s.value}`);
}

/** One line per target: "name: sent S received R timeouts T errors E [reasons]". */
export function describeTargets(m: Metrics, names: readonly string[]): string {
  return names
    .map((n) => {
      const t = probeTotals(m, n);
      const why = nonZeroErrors(m, n);
      return `${n}: sent ${t.sent} received ${t.received} timeouts ${t.timeouts} errors ${t.errors}${why.length ? ` [${why.join(' ')}]` : ''}`;
    })
    .join('\n');
}

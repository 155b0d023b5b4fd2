/**
 * The outcome of one probe as the live streams report it, derived from the batch
 * record's event (src/protocol/events.ts). Index == the gRPC enum value
 * (fleetprobe.v1.ProbeResult.Outcome), so both transports share one table.
 * Other events (Sent, Connect, Phase, ...) are not probe results: outcome 0, skipped.
 */
import { ProbeEvent } from '../protocol/events.js';

export const OUTCOME_NAMES = ['unspecified', 'reply', 'timeout', 'error', 'late', 'duplicate'] as const;
export type OutcomeName = (typeof OUTCOME_NAMES)[number];

export const enum Outcome {
  None = 0,
  Reply = 1,
  Timeout = 2,
  Error = 3,
  Late = 4,
  Duplicate = 5,
}

/** Outcome code per batch event code (0: not a probe result). */
export const OUTCOME_OF_EVENT: Uint8Array = (() => {
  const t = new Uint8Array(256);
  t[ProbeEvent.Reply] = Outcome.Reply;
  t[ProbeEvent.Timeout] = Outcome.Timeout;
  t[ProbeEvent.Error] = Outcome.Error;
  t[ProbeEvent.Late] = Outcome.Late;
  t[ProbeEvent.Duplicate] = Outcome.Duplicate;
  return t;
})();

/** Whether a result of this outcome carries an RTT (its record's value): replies and late replies do. */
export function outcomeHasRtt(outcome: Outcome, value: number): boolean {
  return (outcome === Outcome.Reply || outcome === Outcome.Late) && value >= 0 && value < Infinity;
}

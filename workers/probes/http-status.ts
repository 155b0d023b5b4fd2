/**
 * The http prober's status check: expect_status (parsed once by the main thread,
 * src/kinds/http-expect-status.ts, into inclusive ranges) as a lookup table indexed by
 * status code (100..599), so checking a response costs one array read. Pure.
 */
import { ErrorReason } from '../../src/protocol/events.js';
import type { StatusRanges } from '../../src/kinds/http-expect-status.js';

export const STATUS_TABLE_SIZE = 600;

/** The lookup table of accepted statuses (ranges outside 0..599 are clipped: the parser never yields them). */
export function statusTable(ranges: StatusRanges): Uint8Array {
  const table = new Uint8Array(STATUS_TABLE_SIZE);
  for (const [from, to] of ranges) table.fill(1, Math.max(0, from), Math.min(STATUS_TABLE_SIZE, to + 1));
  return table;
}

export function statusAccepted(table: Uint8Array, status: number): boolean {
  return status >= 0 && status < STATUS_TABLE_SIZE && table[status] === 1;
}

/** The error reason of a status that was not accepted. */
export function statusErrorReason(status: number): number {
  if (status >= 400 && status <= 499) return ErrorReason.status_4xx;
  if (status >= 500 && status <= 599) return ErrorReason.status_5xx;
  return ErrorReason.status_other;
}

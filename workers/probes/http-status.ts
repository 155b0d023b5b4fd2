/**
 * options.expect_status: which HTTP status codes count as success. Pure.
 *
 * Accepted spellings: "2xx" (default), "2xx,3xx", "200,204", "200-299", a number (200),
 * or a list of any of these ([200, 204] or ["2xx", 301]). The result is a lookup table
 * indexed by status code (100..599), so checking a response costs one array read.
 */
import { ErrorReason } from '../../src/protocol/events.js';

export const STATUS_TABLE_SIZE = 600;

export function parseExpectStatus(v: unknown): Uint8Array {
  const table = new Uint8Array(STATUS_TABLE_SIZE);
  const items: unknown[] = v === undefined || v === null ? ['2xx'] : Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : [v];
  if (items.length === 0) throw new Error('option expect_status: empty');
  for (const raw of items) {
    const item = typeof raw === 'string' ? raw.trim().toLowerCase() : raw;
    if (typeof item === 'number') {
      setRange(table, item, item, raw);
    } else if (typeof item === 'string' && /^[1-5]xx$/.test(item)) {
      const c = Number(item[0]) * 100;
      setRange(table, c, c + 99, raw);
    } else if (typeof item === 'string' && /^\d{3}$/.test(item)) {
      setRange(table, Number(item), Number(item), raw);
    } else if (typeof item === 'string' && /^\d{3}-\d{3}$/.test(item)) {
      setRange(table, Number(item.slice(0, 3)), Number(item.slice(4)), raw);
    } else {
      throw new Error(`option expect_status: cannot read ${JSON.stringify(raw)} (use "2xx", "200,204", "200-299" or [200, 204])`);
    }
  }
  return table;
}

function setRange(table: Uint8Array, from: number, to: number, raw: unknown): void {
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 100 || to > 599 || from > to) {
    throw new Error(`option expect_status: ${JSON.stringify(raw)} is not a status code or range within 100..599`);
  }
  table.fill(1, from, to + 1);
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

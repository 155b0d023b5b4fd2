/**
 * Durations as operators write them: "250ms", "1s", "1.5s", "2m", "1h30m", "500us".
 *
 * A bare number is refused on purpose: `interval: 1` could mean a second or a
 * millisecond, and guessing wrong probes 1000x too often. Internally every
 * duration is a number of milliseconds (fractions allowed for µs/ns inputs).
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const PART = /(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h|d)/y;

export const DURATION_HINT = 'a duration with a unit, e.g. 500us, 250ms, 1s, 1.5s, 2m, 1h30m';

/** Thrown by parseDuration; the message is written to be shown to the operator as-is. */
export class DurationError extends Error {
  override name = 'DurationError';
}

/**
 * Parse a duration string into milliseconds. Accepts a sequence of <number><unit>
 * parts ("1m30s"); units ns, us (or µs), ms, s, m, h, d. Throws DurationError.
 */
export function parseDuration(input: unknown): number {
  if (typeof input === 'number') {
    throw new DurationError(`a bare number (${input}) has no unit; write ${DURATION_HINT}`);
  }
  if (typeof input !== 'string') {
    throw new DurationError(`must be ${DURATION_HINT}`);
  }
  const text = input.trim();
  if (text === '') throw new DurationError(`is empty; must be ${DURATION_HINT}`);
  if (/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(text)) {
    throw new DurationError(`"${text}" has no unit; write ${DURATION_HINT}`);
  }
  if (text.startsWith('-')) throw new DurationError(`"${text}" is negative; durations must be >= 0`);
  let total = 0;
  let pos = 0;
  PART.lastIndex = 0;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (m === null) throw new DurationError(`"${text}" is not ${DURATION_HINT}`);
    total += Number(m[1]) * UNIT_MS[m[2]];
    pos = PART.lastIndex;
  }
  if (!Number.isFinite(total)) throw new DurationError(`"${text}" is too large`);
  return total;
}

/** True when parseDuration would accept the value. */
export function isDuration(input: unknown): boolean {
  try {
    parseDuration(input);
    return true;
  } catch {
    return false;
  }
}

/** The shortest exact rendering of a millisecond count, for docs and logs ("1m30s", "250ms", "500us"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (!Number.isInteger(ms)) return `${Math.round(ms * 1000)}us`;
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return parts.join('');
}

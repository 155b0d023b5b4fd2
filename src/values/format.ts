/**
 * Value formats: how one configured value is checked. Each is a pure check returning
 * the reason a value is wrong (or null), plus an optional coercion for strings that
 * arrive from the environment or the command line (which are always strings).
 * Coercions never throw: a string that cannot be converted stays a string and fails
 * its check, so the operator sees the value they actually wrote.
 *
 * The configuration registers these with convict (config/formats.ts) and calls them
 * itself to collect every problem; target entries and the probe kinds' options use
 * the same objects, so a key and the same field on a target accept the same values.
 */
import { formatDuration, parseDuration } from './duration.js';
import { describeCountRange, describeDurationRange, type Range } from './range.js';

export type Check = (value: unknown) => string | null;

/** One bad element of a list or mapping value: `at` is "[2]" or ".name", appended to the key. */
export interface ElementProblem {
  at: string;
  value: unknown;
  message: string;
}

export interface Format {
  /** Why the whole value is wrong (every reason, joined), or null. */
  check: Check;
  coerce?: (s: string) => unknown;
  /** The bounds as documented ("1ms to 1h"); shown by `fleetprobe help` and the README. */
  range?: string;
  /**
   * Lists and mappings: one problem per bad element with its index or key, so the
   * config names every bad element in one pass (check() joins the same messages).
   */
  elements?: (value: unknown) => ElementProblem[];
}

export const toInt = (s: string): unknown => (/^\s*-?\d+\s*$/.test(s) ? Number(s) : s);
export const toNumber = (s: string): unknown => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : s);
export const toBool = (s: string): unknown => {
  const t = s.trim().toLowerCase();
  if (t === 'true' || t === '1' || t === 'yes') return true;
  if (t === 'false' || t === '0' || t === 'no') return false;
  return s;
};
/** Lists from env/flags: a JSON array, or comma separated. */
export const toList = (s: string): unknown => {
  const t = s.trim();
  if (t.startsWith('[')) {
    try {
      return JSON.parse(t);
    } catch {
      return s;
    }
  }
  return t === '' ? [] : t.split(',').map((x) => x.trim());
};
export const toNumberList = (s: string): unknown => {
  const l = toList(s);
  return Array.isArray(l) ? (l as unknown[]).map((x) => (typeof x === 'string' ? toNumber(x) : x)) : l;
};

export function intFormat(r: Range): Format {
  return {
    check: (v) => {
      if (typeof v !== 'number' || !Number.isInteger(v)) return `must be an integer between ${r.min} and ${r.max}`;
      if (v < r.min || v > r.max) return `must be between ${r.min} and ${r.max}`;
      return null;
    },
    coerce: toInt,
    range: describeCountRange(r),
  };
}

export function durationFormat(r: Range): Format {
  return {
    check: (v) => {
      let ms: number;
      try {
        ms = parseDuration(v);
      } catch (e) {
        return (e as Error).message;
      }
      if (ms < r.min || ms > r.max) return `must be between ${formatDuration(r.min)} and ${formatDuration(r.max)}`;
      return null;
    },
    range: describeDurationRange(r),
  };
}

export function oneOf(values: readonly string[]): Check {
  return (v) => (typeof v === 'string' && values.includes(v) ? null : `must be one of ${values.join(', ')}`);
}

export const boolFormat: Format = { check: (v) => (typeof v === 'boolean' ? null : 'must be true or false'), coerce: toBool };
export const stringFormat: Format = { check: (v) => (typeof v === 'string' && v !== '' ? null : 'must be a non-empty string') };

/** Joined element problems, for callers that want one message (convict, target entries). */
export function joined(problems: ElementProblem[]): string | null {
  if (problems.length === 0) return null;
  const shown = problems.slice(0, 10).map((p) => (p.at ? `${p.at}: ${p.message}` : p.message));
  if (problems.length > 10) shown.push(`and ${problems.length - 10} more`);
  return shown.join('; ');
}

/**
 * A list format: the list itself (type, length) and then every element on its own,
 * so each bad element is named with its index.
 */
export function listFormat(o: {
  what: string;
  max: number;
  element: (v: unknown, i: number, all: unknown[]) => string | null;
  whole?: (v: unknown[]) => string | null;
  coerce?: (s: string) => unknown;
  range?: string;
}): Format {
  const elements = (v: unknown): ElementProblem[] => {
    if (!Array.isArray(v)) return [{ at: '', value: v, message: `must be a list of ${o.what}` }];
    const out: ElementProblem[] = [];
    if (v.length > o.max) out.push({ at: '', value: `(${v.length} entries)`, message: `has ${v.length} entries; at most ${o.max}` });
    for (let i = 0; i < v.length; i++) {
      const bad = o.element(v[i], i, v);
      if (bad) out.push({ at: `[${i}]`, value: v[i], message: bad });
    }
    const whole = o.whole?.(v);
    if (whole) out.push({ at: '', value: v, message: whole });
    return out;
  };
  return { check: (v) => joined(elements(v)), elements, coerce: o.coerce, range: o.range };
}

/** A mapping format from its element problems (labels, headers). */
export function mappingFormat(elements: (v: unknown) => ElementProblem[], range?: string): Format {
  return { check: (v) => joined(elements(v)), elements, range };
}

/**
 * logfmt lines (key=value pairs, as Prometheus exporters log through go-kit/promslog)
 * from pino's JSON lines. Pure.
 *
 * Encoding follows go-logfmt, the encoder those exporters use: a value is quoted when
 * it is empty or holds a space, "=", '"' or a control character; inside quotes '\' and
 * '"' are escaped and newline, carriage return and tab are written \n, \r, \t (other
 * control characters \u00XX), so a stack trace or a hostile target name can never
 * start a new log line. Keys lose every character that would break the pair.
 *
 * Order: time, level, msg first (what a reader scans for), then the rest as pino wrote
 * them. Nested objects are flattened with dots (err.message, err.stack); arrays are
 * written as JSON inside one quoted value.
 */

/** pino's numeric levels and their names. */
const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const FIRST_KEYS = ['time', 'level', 'msg'] as const;
/** Nested objects deeper than this are written as JSON. */
const MAX_DEPTH = 4;

// eslint-disable-next-line no-control-regex -- control characters are what these patterns find
const NEEDS_QUOTES = /[\s="\u0000-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex -- control characters are what these patterns find
const ESCAPED = /["\\\u0000-\u001f\u007f]/g;
// eslint-disable-next-line no-control-regex -- control characters are what these patterns find
const BAD_KEY_CHARS = /[\s="\u0000-\u001f\u007f]/g;

function escapeChar(c: string): string {
  switch (c) {
    case '"':
      return '\\"';
    case '\\':
      return '\\\\';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    default:
      return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  }
}

/** One value as logfmt writes it. */
export function encodeValue(s: string): string {
  if (s === '') return '""';
  if (!NEEDS_QUOTES.test(s)) return s;
  return `"${s.replace(ESCAPED, escapeChar)}"`;
}

function encodeKey(k: string): string {
  const clean = k.replace(BAD_KEY_CHARS, '_');
  return clean === '' ? '_' : clean;
}

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

function pairs(prefix: string, v: unknown, depth: number, out: string[]): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && depth < MAX_DEPTH) {
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length === 0) out.push(`${encodeKey(prefix)}=${encodeValue('{}')}`);
    for (const [k, inner] of entries) pairs(`${prefix}.${k}`, inner, depth + 1, out);
    return;
  }
  out.push(`${encodeKey(prefix)}=${encodeValue(scalar(v))}`);
}

/** One log record (pino's JSON object) as a logfmt line, without the newline. */
export function toLogfmt(record: Readonly<Record<string, unknown>>): string {
  const out: string[] = [];
  for (const k of FIRST_KEYS) {
    if (!(k in record)) continue;
    const v = record[k];
    pairs(k, k === 'level' && typeof v === 'number' ? (LEVEL_NAMES[v] ?? String(v)) : v, 0, out);
  }
  for (const [k, v] of Object.entries(record)) {
    if ((FIRST_KEYS as readonly string[]).includes(k)) continue;
    pairs(k, v, 0, out);
  }
  return out.join(' ');
}

/** A pino JSON line (with its newline) as a logfmt line; a line that is not JSON passes unchanged. */
export function jsonLineToLogfmt(line: string): string {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return line;
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return line;
  return `${toLogfmt(record as Record<string, unknown>)}\n`;
}

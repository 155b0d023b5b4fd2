/**
 * Value formats of the config schema. Each is a pure check returning the reason a
 * value is wrong (or null), plus an optional coercion for strings that arrive from
 * the environment or the command line (which are always strings). Coercions never
 * throw: a string that cannot be converted stays a string and fails its check, so
 * the operator sees the value they actually wrote.
 *
 * The same checks are registered with convict (so `convict().validate()` agrees)
 * and called directly by our own validator, which collects every problem.
 */
import convict from 'convict';
import { parseDuration } from './duration.js';
import { isIP } from 'node:net';
import { parseHostPort } from '../targets/address.js';
import { checkLabels } from '../targets/labels.js';
import { PROBE_KINDS } from '../targets/model.js';

export type Check = (value: unknown) => string | null;

export interface Format {
  check: Check;
  coerce?: (s: string) => unknown;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS'] as const;
export const DNS_PREFERENCES = ['system', 'ipv4', 'ipv6'] as const;

const toInt = (s: string): unknown => (/^\s*-?\d+\s*$/.test(s) ? Number(s) : s);
const toNumber = (s: string): unknown => (s.trim() !== '' && Number.isFinite(Number(s)) ? Number(s) : s);
const toBool = (s: string): unknown => {
  const t = s.trim().toLowerCase();
  if (t === 'true' || t === '1' || t === 'yes') return true;
  if (t === 'false' || t === '0' || t === 'no') return false;
  return s;
};
/** Lists from env/flags: a JSON array, or comma separated. */
const toList = (s: string): unknown => {
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
const toNumberList = (s: string): unknown => {
  const l = toList(s);
  return Array.isArray(l) ? l.map((x) => (typeof x === 'string' ? toNumber(x) : x)) : l;
};

function intCheck(min: number, max = Number.MAX_SAFE_INTEGER): Check {
  return (v) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) return `must be an integer`;
    if (v < min || v > max) return max === Number.MAX_SAFE_INTEGER ? `must be >= ${min}` : `must be between ${min} and ${max}`;
    return null;
  };
}

function durationCheck(minMs: number): Check {
  return (v) => {
    try {
      const ms = parseDuration(v);
      if (ms < minMs) return minMs === 0 ? 'must be >= 0' : `must be at least ${minMs}ms`;
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  };
}

function oneOf(values: readonly string[]): Check {
  return (v) => (typeof v === 'string' && values.includes(v) ? null : `must be one of ${values.join(', ')}`);
}

const listenCheck: Check = (v) => {
  const r = parseHostPort(v, { allowEmptyHost: true, allowPortZero: true });
  return typeof r === 'string' ? r : null;
};

/** "2xx", "200", "200-299", or a comma list of those. */
export function parseExpectStatus(v: unknown): Array<[number, number]> | string {
  if (typeof v === 'number') v = String(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'number' || typeof x === 'string')) v = v.join(',');
  if (typeof v !== 'string' || v.trim() === '') return 'must be like "2xx", "200", "200-399" or a comma list of those';
  const ranges: Array<[number, number]> = [];
  for (const part of v.split(',').map((p) => p.trim())) {
    let m: RegExpExecArray | null;
    if ((m = /^([1-5])xx$/i.exec(part))) ranges.push([Number(m[1]) * 100, Number(m[1]) * 100 + 99]);
    else if ((m = /^(\d{3})$/.exec(part))) ranges.push([Number(m[1]), Number(m[1])]);
    else if ((m = /^(\d{3})-(\d{3})$/.exec(part)) && Number(m[1]) <= Number(m[2])) ranges.push([Number(m[1]), Number(m[2])]);
    else return `"${part}" is not a status ("200"), class ("2xx") or range ("200-299")`;
    const last = ranges[ranges.length - 1];
    if (last[0] < 100 || last[1] > 599) return `"${part}" is outside 100-599`;
  }
  return ranges;
}

function checkCidr(s: unknown): string | null {
  if (typeof s !== 'string') return 'must be a CIDR string like "127.0.0.0/8" or "::1/128"';
  const [addr, bits, extra] = s.split('/');
  const fam = isIP(addr);
  if (fam === 0 || extra !== undefined) return `"${s}" is not an IP address or CIDR`;
  if (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > (fam === 4 ? 32 : 128))) {
    return `"${s}" has a bad prefix length`;
  }
  return null;
}

export const FORMATS: Record<string, Format> = {
  'fp-int-min0': { check: intCheck(0), coerce: toInt },
  'fp-int-min1': { check: intCheck(1), coerce: toInt },
  'fp-workers': { check: intCheck(1, 1024), coerce: toInt },
  'fp-loss-window': { check: intCheck(1, 100_000), coerce: toInt },
  'fp-payload-size': { check: intCheck(0, 65_000), coerce: toInt },
  'fp-source-ports': { check: intCheck(1, 1024), coerce: toInt },
  'fp-duration': { check: durationCheck(0) },
  'fp-duration-pos': { check: durationCheck(1) },
  'fp-bool': { check: (v) => (typeof v === 'boolean' ? null : 'must be true or false'), coerce: toBool },
  'fp-string': { check: (v) => (typeof v === 'string' && v !== '' ? null : 'must be a non-empty string') },
  'fp-log-level': { check: oneOf(LOG_LEVELS) },
  'fp-kind': { check: oneOf(PROBE_KINDS) },
  'fp-http-method': { check: oneOf(HTTP_METHODS), coerce: (s) => s.toUpperCase() },
  'fp-dns-prefer': { check: oneOf(DNS_PREFERENCES) },
  'fp-tcp-close': { check: oneOf(['reset', 'fin']) },
  'fp-listen': { check: listenCheck },
  'fp-url-path': {
    check: (v) => (typeof v === 'string' && /^\/[^\s?#]*$/.test(v) ? null : 'must be a URL path starting with "/"'),
  },
  'fp-expect-status': {
    check: (v) => {
      const r = parseExpectStatus(v);
      return typeof r === 'string' ? r : null;
    },
  },
  'fp-kinds': {
    check: (v) => {
      if (!Array.isArray(v)) return `must be a list of probe kinds (${PROBE_KINDS.join(', ')})`;
      const bad = v.filter((k) => !(PROBE_KINDS as readonly unknown[]).includes(k));
      if (bad.length) return `unknown probe kind(s) ${bad.map((b) => JSON.stringify(b)).join(', ')}; kinds are ${PROBE_KINDS.join(', ')}`;
      if (new Set(v).size !== v.length) return 'lists a kind twice';
      return null;
    },
    coerce: toList,
  },
  'fp-buckets': {
    check: (v) => {
      if (!Array.isArray(v) || v.length === 0) return 'must be a non-empty list of upper bounds in seconds';
      for (let i = 0; i < v.length; i++) {
        if (typeof v[i] !== 'number' || !Number.isFinite(v[i]) || v[i] <= 0) return `bucket ${i} (${JSON.stringify(v[i])}) must be a positive number of seconds`;
        if (i > 0 && v[i] <= v[i - 1]) return `buckets must be strictly increasing (bucket ${i}: ${v[i]} <= ${v[i - 1]})`;
      }
      return null;
    },
    coerce: toNumberList,
  },
  'fp-cidrs': {
    check: (v) => {
      if (!Array.isArray(v)) return 'must be a list of CIDRs';
      for (const c of v) {
        const bad = checkCidr(c);
        if (bad) return bad;
      }
      return null;
    },
    coerce: toList,
  },
  'fp-paths': {
    check: (v) =>
      Array.isArray(v) && v.every((p) => typeof p === 'string' && p !== '') ? null : 'must be a list of file paths',
    coerce: toList,
  },
  /** Entries are checked one by one elsewhere, so each bad entry is named. */
  'fp-list': { check: (v) => (Array.isArray(v) ? null : 'must be a list') },
  'fp-labels': {
    check: (v) => {
      const p = checkLabels(v);
      return p.length ? p.join('; ') : null;
    },
  },
  'fp-headers': {
    check: (v) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'must be a mapping of header name to string';
      for (const [k, val] of Object.entries(v)) {
        if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)) return `"${k}" is not a valid header name`;
        if (typeof val !== 'string' || /[\r\n]/.test(val)) return `header "${k}" must be a single-line string`;
      }
      return null;
    },
  },
  /** web.*_timeout: from 100ms (anything shorter cuts real clients) to 1h (a timer, far below 2^31 ms). */
  'fp-web-timeout': {
    check: (v) => durationCheck(100)(v) ?? (parseDuration(v) > 3_600_000 ? 'must be at most 1h' : null),
  },
  /** web.max_requests / web.max_connections: 0 (no limit) up to the kernel's default fs.nr_open. */
  'fp-web-count': { check: intCheck(0, 1_048_576), coerce: toInt },
};


let registered = false;
/** Register every format with convict once (convict's format table is global). */
export function registerFormats(): void {
  if (registered) return;
  registered = true;
  for (const [name, f] of Object.entries(FORMATS)) {
    convict.addFormat({
      name,
      validate: (v: unknown) => {
        const bad = f.check(v);
        if (bad) throw new Error(bad);
      },
      coerce: f.coerce,
    });
  }
}

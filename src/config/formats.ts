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
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { formatDuration, parseDuration } from './duration.js';
import { clip } from './errors.js';
import { isHostName, parseHostPort } from '../targets/address.js';
import { checkLabelEntries } from '../targets/labels.js';
import { PROBE_KINDS } from '../targets/model.js';
import { parseCidr } from '../responder/cidr.js';
import { RESPONDER_LIMIT_RULES, type LimitRule } from '../responder/limits.js';
import { HTTP_FRAMING_HEADERS, HTTP_HEADER_NAME, HTTP_HEADER_VALUE } from '../targets/http-headers.js';
import {
  API_BOUNDS,
  COUNT_BOUNDS,
  STREAM_BOUNDS,
  DURATION_BOUNDS,
  HTTP_BOUNDS,
  LABEL_BOUNDS,
  RTT_BUCKET_MAX_SECONDS,
  describeCountRange,
  describeDurationRange,
  type Range,
} from './bounds.js';

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

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** log.format: JSON lines (pino's own) or logfmt (key=value, as Prometheus exporters log). */
export const LOG_FORMATS = ['json', 'logfmt'] as const;
/**
 * Values that turn a responder listener off. A file can write null; a flag or an
 * environment variable is always a string, so "off" (documented), "null" (what the
 * file says) and "" (an empty variable) mean off too.
 */
export const LISTENER_OFF_VALUES: readonly string[] = ['off', 'null', ''];

/** A responder listen setting with every "off" spelling folded to null. */
export function listenerSetting(v: unknown): unknown {
  return typeof v === 'string' && LISTENER_OFF_VALUES.includes(v.trim().toLowerCase()) ? null : v;
}
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

function intFormat(r: Range): Format {
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

/** "auto" or a duration within r (workers_stall_timeout). */
function stallTimeoutFormat(r: Range): Format {
  const duration = durationFormat(r);
  return {
    check: (v) => {
      if (v === 'auto') return null;
      const bad = duration.check(v);
      return bad ? `must be "auto" or a duration: ${bad}` : null;
    },
    range: `"auto", or ${duration.range}`,
  };
}

function durationFormat(r: Range): Format {
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

/** A responder limit: bounds from the responder's own rule table (declared there once). */
function responderFormat(rule: LimitRule): Format {
  if (rule.unit !== 'ms') return intFormat(rule);
  return durationFormat(rule);
}

function oneOf(values: readonly string[]): Check {
  return (v) => (typeof v === 'string' && values.includes(v) ? null : `must be one of ${values.join(', ')}`);
}

const listenCheck: Check = (v) => {
  const r = parseHostPort(v, { allowEmptyHost: true, allowPortZero: true });
  return typeof r === 'string' ? r : null;
};

/** The responder binds IP literals only (validateResponderOptions): no host names. */
const responderListenCheck: Check = (v) => {
  if (listenerSetting(v) === null) return null;
  const r = parseHostPort(v, { allowEmptyHost: true, allowPortZero: true });
  if (typeof r === 'string') return r;
  if (r.host !== '' && isIP(r.host) === 0) return `"${r.host}" is a host name; the responder listens on an IP address (or ":port" for every address)`;
  return null;
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

/** The responder's own parser decides (host bits set, zone ids, ...), so config and responder agree. */
function checkCidr(s: unknown): string | null {
  if (typeof s !== 'string') return 'must be a CIDR string like "127.0.0.0/8" or "::1/128"';
  try {
    parseCidr(s);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Joined element problems, for callers that want one message (convict, target entries). */
function joined(problems: ElementProblem[]): string | null {
  if (problems.length === 0) return null;
  const shown = problems.slice(0, 10).map((p) => (p.at ? `${p.at}: ${p.message}` : p.message));
  if (problems.length > 10) shown.push(`and ${problems.length - 10} more`);
  return shown.join('; ');
}

/**
 * A list format: the list itself (type, length) and then every element on its own,
 * so each bad element is named with its index.
 */
function listFormat(o: {
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

function headerProblems(v: unknown): ElementProblem[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [{ at: '', value: v, message: 'must be a mapping of header name to string' }];
  const out: ElementProblem[] = [];
  const entries = Object.entries(v);
  if (entries.length > HTTP_BOUNDS.headers) out.push({ at: '', value: `(${entries.length} headers)`, message: `has ${entries.length} headers; at most ${HTTP_BOUNDS.headers}` });
  for (const [k, val] of entries) {
    const at = `.${clip(k)}`;
    if (!HTTP_HEADER_NAME.test(k)) out.push({ at, value: clip(k), message: `"${clip(k)}" is not a valid header name` });
    else if (HTTP_FRAMING_HEADERS.has(k.toLowerCase())) out.push({ at, value: k, message: `header "${k}" is set by the prober (use keep_alive for Connection)` });
    if (typeof val !== 'string' || !HTTP_HEADER_VALUE.test(val)) out.push({ at, value: val, message: `header "${clip(k)}" must be a single-line string without control characters` });
    else if (Buffer.byteLength(val, 'utf8') > HTTP_BOUNDS.headerValueBytes) {
      out.push({ at, value: `(${Buffer.byteLength(val, 'utf8')} bytes)`, message: `header "${clip(k)}" value is ${Buffer.byteLength(val, 'utf8')} bytes; at most ${HTTP_BOUNDS.headerValueBytes}` });
    }
  }
  return out;
}

function labelProblems(v: unknown): ElementProblem[] {
  return checkLabelEntries(v).map((p) => ({ at: p.name === undefined ? '' : `.${clip(p.name)}`, value: p.value, message: p.message }));
}

/** ca_file: the http prober reads it when the target starts, so an unreadable file is caught here. */
function checkCaFile(v: unknown): string | null {
  if (typeof v !== 'string' || v === '') return 'must be a non-empty string';
  try {
    if (!statSync(v).isFile()) return `${v} is not a file`;
    accessSync(v, fsConstants.R_OK);
  } catch (e) {
    return `${v} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  return null;
}

const R = RESPONDER_LIMIT_RULES;

export const FORMATS: Record<string, Format> = {
  'fp-workers': intFormat(COUNT_BOUNDS.workers),
  'fp-shard-index': intFormat({ min: 0, max: COUNT_BOUNDS.shardCount.max - 1 }),
  'fp-shard-count': intFormat(COUNT_BOUNDS.shardCount),
  'fp-loss-window': intFormat(COUNT_BOUNDS.lossWindow),
  'fp-payload-size': intFormat(COUNT_BOUNDS.payloadSize),
  'fp-source-ports': intFormat(COUNT_BOUNDS.sourcePorts),
  'fp-http-probe-max-body': intFormat(COUNT_BOUNDS.httpProbeMaxBodyBytes),
  'fp-interval': durationFormat(DURATION_BOUNDS.interval),
  'fp-timeout': durationFormat(DURATION_BOUNDS.timeout),
  'fp-flush-interval': durationFormat(DURATION_BOUNDS.flushInterval),
  'fp-dns-refresh': durationFormat(DURATION_BOUNDS.dnsRefresh),
  'fp-file-check-interval': durationFormat(DURATION_BOUNDS.fileCheckInterval),
  'fp-backoff': durationFormat(DURATION_BOUNDS.reconnectBackoff),
  'fp-connect-timeout': durationFormat(DURATION_BOUNDS.connectTimeout),
  'fp-max-connections': responderFormat(R.maxConnections),
  'fp-max-frame-bytes': responderFormat(R.maxFrameBytes),
  'fp-max-datagram-bytes': responderFormat(R.maxDatagramBytes),
  'fp-idle-timeout': responderFormat(R.idleTimeoutMs),
  'fp-http-body-bytes': responderFormat(R.httpBodyBytes),
  'fp-http-max-body-bytes': responderFormat(R.httpMaxBodyBytes),
  'fp-udp-rate': responderFormat(R.udpRatePerSource),
  'fp-udp-burst': responderFormat(R.udpBurstPerSource),
  'fp-tcp-connect-rate': responderFormat(R.tcpConnectRatePerSource),
  'fp-tcp-connect-burst': responderFormat(R.tcpConnectBurstPerSource),
  'fp-rate-limit-sources': responderFormat(R.rateLimitSources),
  'fp-heap-limit-mb': intFormat(COUNT_BOUNDS.workerHeapLimitMb),
  'fp-stall-timeout': stallTimeoutFormat(DURATION_BOUNDS.stallTimeout),
  'fp-stream-max-clients': intFormat(STREAM_BOUNDS.maxClients),
  'fp-stream-buffer-bytes': intFormat(STREAM_BOUNDS.maxBufferBytes),
  'fp-stream-state-interval': durationFormat(STREAM_BOUNDS.stateInterval),
  'fp-stream-stall-timeout': durationFormat(STREAM_BOUNDS.stallTimeout),
  'fp-api-max-targets': intFormat(API_BOUNDS.maxTargets),
  'fp-bool': { check: (v) => (typeof v === 'boolean' ? null : 'must be true or false'), coerce: toBool },
  'fp-string': { check: (v) => (typeof v === 'string' && v !== '' ? null : 'must be a non-empty string') },
  /** A secret: only its type is checked here, so an error never prints it (see config/build-api.ts). */
  'fp-secret': { check: (v) => (typeof v === 'string' ? null : 'must be a string') },
  'fp-dns-name': {
    check: (v) => {
      if (typeof v !== 'string' || v === '') return 'must be a DNS name';
      if (isIP(v) !== 0) return 'must be a DNS name, not an IP address (list addresses in mesh.peers)';
      return isHostName(v) ? null : 'is not a valid DNS name (letters, digits, "-" and dots)';
    },
  },
  'fp-ca-file': { check: checkCaFile },
  'fp-log-level': { check: oneOf(LOG_LEVELS) },
  'fp-log-format': { check: oneOf(LOG_FORMATS) },
  'fp-kind': { check: oneOf(PROBE_KINDS) },
  'fp-http-method': { check: oneOf(HTTP_METHODS), coerce: (s) => s.toUpperCase() },
  'fp-dns-prefer': { check: oneOf(DNS_PREFERENCES) },
  'fp-tcp-close': { check: oneOf(['reset', 'fin']) },
  'fp-listen': { check: listenCheck },
  'fp-responder-listen': { check: responderListenCheck, coerce: (s) => listenerSetting(s) },
  'fp-url-path': {
    check: (v) => (typeof v === 'string' && /^\/[^\s?#]*$/.test(v) ? null : 'must be a URL path starting with "/"'),
  },
  'fp-expect-status': {
    check: (v) => {
      const r = parseExpectStatus(v);
      return typeof r === 'string' ? r : null;
    },
  },
  'fp-kinds': listFormat({
    what: `probe kinds (${PROBE_KINDS.join(', ')})`,
    max: PROBE_KINDS.length,
    element: (k, i, all) => {
      if (!(PROBE_KINDS as readonly unknown[]).includes(k)) return `unknown probe kind ${JSON.stringify(k)}; kinds are ${PROBE_KINDS.join(', ')}`;
      return all.indexOf(k) < i ? `lists ${String(k)} twice` : null;
    },
    coerce: toList,
  }),
  'fp-buckets': listFormat({
    what: 'upper bounds in seconds',
    max: COUNT_BOUNDS.rttBuckets.max,
    element: (b, i, all) => {
      if (typeof b !== 'number' || !Number.isFinite(b) || b <= 0 || b > RTT_BUCKET_MAX_SECONDS) {
        return `bucket ${JSON.stringify(b)} must be a number of seconds in (0, ${RTT_BUCKET_MAX_SECONDS}]`;
      }
      const prev = all[i - 1];
      if (i > 0 && typeof prev === 'number' && b <= prev) return `buckets must be strictly increasing (${b} <= ${prev})`;
      return null;
    },
    whole: (v) => (v.length === 0 ? 'must be a non-empty list of upper bounds in seconds' : null),
    coerce: toNumberList,
    range: `${COUNT_BOUNDS.rttBuckets.min} to ${COUNT_BOUNDS.rttBuckets.max} bounds, each in (0, ${RTT_BUCKET_MAX_SECONDS}] seconds`,
  }),
  'fp-cidrs': listFormat({
    what: 'CIDRs',
    max: COUNT_BOUNDS.allowCidrs.max,
    element: checkCidr,
    coerce: toList,
    range: `0 to ${COUNT_BOUNDS.allowCidrs.max} entries`,
  }),
  'fp-paths': listFormat({
    what: 'file paths',
    max: COUNT_BOUNDS.targetFiles.max,
    element: (p, i, all) => {
      if (typeof p !== 'string' || p === '') return 'must be a non-empty file path';
      return all.indexOf(p) < i ? `lists ${p} twice` : null;
    },
    coerce: toList,
    range: `0 to ${COUNT_BOUNDS.targetFiles.max} files`,
  }),
  /** Entries are checked one by one elsewhere, so each bad entry is named. */
  'fp-list': { check: (v) => (Array.isArray(v) ? null : 'must be a list') },
  'fp-labels': {
    check: (v) => joined(labelProblems(v)),
    elements: labelProblems,
    range: `at most ${LABEL_BOUNDS.perTarget} labels; names up to ${LABEL_BOUNDS.nameBytes} bytes, values up to ${LABEL_BOUNDS.valueBytes} bytes`,
  },
  'fp-headers': {
    check: (v) => joined(headerProblems(v)),
    elements: headerProblems,
    range: `at most ${HTTP_BOUNDS.headers} headers; values up to ${HTTP_BOUNDS.headerValueBytes} bytes`,
  },
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

/**
 * The value formats of the config schema, by name (what a schema leaf's `format`
 * says). Each is a Format (values/format.ts): a pure check returning the reason a
 * value is wrong (or null), plus an optional coercion for strings from the
 * environment or the command line.
 *
 * Formats of keys that mirror a target's fields (probe_defaults.interval, ...) are the
 * targets' own (targets/fields.ts), and those of probe_defaults.<kind>.<option> are
 * the kinds' (kinds/<kind>.ts), registered here under derived names
 * (kindOptionFormatName): declared once, so a key and the same field on a target
 * accept exactly the same values.
 *
 * The same checks are registered with convict (so `convict().validate()` agrees)
 * and called directly by our own validator, which collects every problem.
 */
import convict from 'convict';
import { isIP } from 'node:net';
import { isHostName, parseHostPort } from '../targets/address.js';
import { checkLabelEntries, checkLabelName } from '../targets/labels.js';
import { LABEL_BOUNDS, TARGET_FIELD_FORMATS } from '../targets/fields.js';
import { DNS_PREFERENCES } from '../targets/resolve.js';
import { SERIES_LABELS } from '../aggregate/label-arena.js';
import { KINDS, PROBE_KINDS, type OptionDecl } from '../kinds/index.js';
import { parseCidr } from '../responder/cidr.js';
import { RESPONDER_LIMIT_RULES, type LimitRule } from '../responder/limits.js';
import { clip } from '../values/clip.js';
import {
  boolFormat,
  durationFormat,
  intFormat,
  listFormat,
  mappingFormat,
  oneOf,
  stringFormat,
  toList,
  toNumberList,
  type ElementProblem,
  type Format,
} from '../values/format.js';
import type { Range } from '../values/range.js';
import { PROBE_ENDPOINT_FORMATS } from './schema-probe.js';
import { API_BOUNDS, COUNT_BOUNDS, DURATION_BOUNDS, RTT_BUCKET_MAX_SECONDS, STREAM_BOUNDS, TESTS_BOUNDS } from './bounds.js';

export type { Check, ElementProblem, Format } from '../values/format.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** log.format: JSON lines (pino's own) or logfmt (key=value, as Prometheus exporters log). */
export const LOG_FORMATS = ['json', 'logfmt'] as const;
export { ICMP_SOCKET_MODES } from '../protocol/icmp-socket-mode.js';
import { ICMP_SOCKET_MODES } from '../protocol/icmp-socket-mode.js';
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
export { DNS_PREFERENCES };

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

/** A responder limit: bounds from the responder's own rule table (declared there once). */
function responderFormat(rule: LimitRule): Format {
  if (rule.unit !== 'ms') return intFormat(rule);
  return durationFormat(rule);
}

const listenCheck: Format['check'] = (v) => {
  const r = parseHostPort(v, { allowEmptyHost: true, allowPortZero: true });
  return typeof r === 'string' ? r : null;
};

/** The responder binds IP literals only (validateResponderOptions): no host names. */
const responderListenCheck: Format['check'] = (v) => {
  if (listenerSetting(v) === null) return null;
  const r = parseHostPort(v, { allowEmptyHost: true, allowPortZero: true });
  if (typeof r === 'string') return r;
  if (r.host !== '' && isIP(r.host) === 0) return `"${r.host}" is a host name; the responder listens on an IP address (or ":port" for every address)`;
  return null;
};

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

function labelProblems(v: unknown): ElementProblem[] {
  return checkLabelEntries(v).map((p) => ({ at: p.name === undefined ? '' : `.${clip(p.name)}`, value: p.value, message: p.message }));
}

const R = RESPONDER_LIMIT_RULES;

/** Name of the registered format of a kind's option (a schema leaf's `format`). */
export function kindOptionFormatName(kind: string, key: string): string {
  return `fp-${kind}.${key}`;
}

/** probe_defaults.<kind>.<option>: the kinds' own formats, under derived names. */
function kindOptionFormats(): Record<string, Format> {
  const out: Record<string, Format> = {};
  for (const k of KINDS) for (const [key, decl] of Object.entries<OptionDecl>(k.options)) out[kindOptionFormatName(k.kind, key)] = decl.format;
  return out;
}

export const FORMATS: Record<string, Format> = {
  'fp-workers': intFormat(COUNT_BOUNDS.workers),
  'fp-shard-index': intFormat({ min: 0, max: COUNT_BOUNDS.shardCount.max - 1 }),
  'fp-shard-count': intFormat(COUNT_BOUNDS.shardCount),
  'fp-loss-window': TARGET_FIELD_FORMATS.loss_window,
  'fp-payload-size': TARGET_FIELD_FORMATS.payload_size,
  'fp-interval': TARGET_FIELD_FORMATS.interval,
  'fp-timeout': TARGET_FIELD_FORMATS.timeout,
  'fp-flush-interval': durationFormat(DURATION_BOUNDS.flushInterval),
  'fp-dns-refresh': durationFormat(DURATION_BOUNDS.dnsRefresh),
  'fp-file-check-interval': durationFormat(DURATION_BOUNDS.fileCheckInterval),
  'fp-history-retention': durationFormat(DURATION_BOUNDS.historyRetention),
  'fp-history-resolution': durationFormat(DURATION_BOUNDS.historyResolution),
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
  'fp-web-timeout': durationFormat(DURATION_BOUNDS.webTimeout),
  'fp-web-count': intFormat(COUNT_BOUNDS.webCount),
  'fp-api-max-targets': intFormat(API_BOUNDS.maxTargets),
  'fp-tests-max-count': intFormat(TESTS_BOUNDS.maxCount),
  'fp-tests-max-rate': intFormat(TESTS_BOUNDS.maxRate),
  'fp-tests-max-duration': durationFormat(TESTS_BOUNDS.maxDuration),
  'fp-tests-max-concurrent': intFormat(TESTS_BOUNDS.maxConcurrent),
  'fp-tests-results-kept': intFormat(TESTS_BOUNDS.resultsKept),
  'fp-tests-max-http-size': intFormat(TESTS_BOUNDS.maxHttpSize),
  'fp-bool': boolFormat,
  'fp-string': stringFormat,
  /** A secret: only its type is checked here, so an error never prints it (see config/build-api.ts). */
  'fp-secret': { check: (v) => (typeof v === 'string' ? null : 'must be a string') },
  'fp-dns-name': {
    check: (v) => {
      if (typeof v !== 'string' || v === '') return 'must be a DNS name';
      if (isIP(v) !== 0) return 'must be a DNS name, not an IP address (list addresses in mesh.peers)';
      return isHostName(v) ? null : 'is not a valid DNS name (letters, digits, "-" and dots)';
    },
  },
  'fp-log-level': { check: oneOf(LOG_LEVELS) },
  'fp-log-format': { check: oneOf(LOG_FORMATS) },
  'fp-icmp-socket': { check: oneOf(ICMP_SOCKET_MODES) },
  'fp-kind': { check: oneOf(PROBE_KINDS) },
  'fp-dns-prefer': { check: oneOf(DNS_PREFERENCES) },
  'fp-series-label-mode': { check: oneOf(SERIES_LABELS) },
  'fp-listen': { check: listenCheck },
  'fp-responder-listen': { check: responderListenCheck, coerce: (s) => listenerSetting(s) },
  'fp-url-path': {
    check: (v) => (typeof v === 'string' && /^\/[^\s?#]*$/.test(v) ? null : 'must be a URL path starting with "/"'),
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
  'fp-group-by': listFormat({
    what: 'label names',
    max: COUNT_BOUNDS.groupBy.max,
    element: (l, i, all) => {
      if (typeof l !== 'string') return 'must be a label name';
      // Every rollup series has its kind; target and address would make a group per target.
      if (l === 'kind') return 'kind is always a label of the rollups; group by labels of the targets';
      const bad = checkLabelName(l);
      if (bad) return bad;
      return all.indexOf(l) < i ? `lists ${l} twice` : null;
    },
    coerce: toList,
    range: `${COUNT_BOUNDS.groupBy.min} to ${COUNT_BOUNDS.groupBy.max} label names`,
  }),
  'fp-group-limit': intFormat(COUNT_BOUNDS.groupLimit),
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
  'fp-labels': mappingFormat(
    labelProblems,
    `at most ${LABEL_BOUNDS.perTarget} labels; names up to ${LABEL_BOUNDS.nameBytes} bytes, values up to ${LABEL_BOUNDS.valueBytes} bytes`,
  ),
  ...kindOptionFormats(),
  ...PROBE_ENDPOINT_FORMATS,
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

/**
 * One raw target entry (inline, or from a tcp_ping_prometheus style file) ->
 * TargetSpec, or the list of everything wrong with it. Pure.
 */
import { PROBE_KINDS, type ProbeKind, type TargetSpec } from './model.js';
import { checkHost, checkHostPort, parseHttpUrl } from './address.js';
import { checkLabels } from './labels.js';
import { KIND_OPTION_FIELDS, kindOptions } from './options.js';
import { FORMATS } from '../config/formats.js';
import { parseDuration } from '../config/duration.js';
import type { ProbeDefaults } from '../config/types.js';

export interface FieldProblem {
  /** Field of the entry ("address"), or "" for the entry as a whole. */
  field: string;
  value: unknown;
  message: string;
}

export type ParsedTarget = { ok: true; spec: TargetSpec } | { ok: false; name?: string; problems: FieldProblem[] };

const COMMON_FIELDS = ['name', 'kind', 'address', 'url', 'labels', 'interval', 'timeout', 'loss_window', 'payload_size'];
const COMMON_FORMATS: Record<string, string> = {
  interval: 'fp-duration-pos',
  timeout: 'fp-duration-pos',
  loss_window: 'fp-loss-window',
  payload_size: 'fp-payload-size',
};

/** Why a string cannot be a target name, or null. Names are label values and placement keys. */
export function checkTargetName(v: unknown): string | null {
  if (typeof v !== 'string' || v.trim() === '') return 'name must be a non-empty string';
  if (v !== v.trim()) return 'name must not have leading or trailing spaces';
  if (v.length > 256) return 'name is longer than 256 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) return 'name must not contain control characters';
  return null;
}

/** Validate one raw entry against the defaults; every problem is reported, not just the first. */
export function parseTargetEntry(raw: unknown, source: string, defaults: ProbeDefaults): ParsedTarget {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, problems: [{ field: '', value: raw, message: 'a target must be a mapping with at least name and address (or url)' }] };
  }
  const r = raw as Record<string, unknown>;
  const problems: FieldProblem[] = [];
  const bad = (field: string, message: string) => problems.push({ field, value: r[field], message });

  const nameProblem = checkTargetName(r.name);
  if (nameProblem) bad('name', nameProblem);

  let kind: ProbeKind = defaults.kind;
  if (r.kind !== undefined) {
    if ((PROBE_KINDS as readonly unknown[]).includes(r.kind)) kind = r.kind as ProbeKind;
    else bad('kind', `kind must be one of ${PROBE_KINDS.join(', ')}`);
  }
  const kindKnown = !problems.some((p) => p.field === 'kind');
  const optionFields = KIND_OPTION_FIELDS[kind];

  for (const key of Object.keys(r)) {
    if (COMMON_FIELDS.includes(key) || key in optionFields) continue;
    const owner = PROBE_KINDS.find((k) => key in KIND_OPTION_FIELDS[k]);
    if (!kindKnown) continue; // cannot tell which options are allowed
    bad(key, owner ? `option "${key}" belongs to kind ${owner}, not ${kind}` : `unknown target field "${key}"`);
  }

  let address = '';
  let url: string | undefined;
  if (kind === 'http') {
    if (r.address !== undefined) bad('address', 'an http target takes url, not address');
    const u = parseHttpUrl(r.url);
    if (typeof u === 'string') bad('url', r.url === undefined ? 'an http target needs url' : `url ${u}`);
    else {
      url = u.url;
      address = new URL(u.url).host;
    }
  } else {
    if (r.url !== undefined) bad('url', `url is only for kind http (this target is ${kind})`);
    const why = kind === 'icmp' ? checkHost(r.address) : checkHostPort(r.address);
    if (r.address === undefined) bad('address', `a ${kind} target needs address`);
    else if (why) bad('address', `address ${why}`);
    else address = r.address as string;
  }

  for (const msg of checkLabels(r.labels)) bad('labels', msg);

  for (const [field, format] of Object.entries(COMMON_FORMATS)) {
    if (r[field] === undefined) continue;
    const why = FORMATS[format].check(r[field]);
    if (why) bad(field, `${field} ${why}`);
  }
  for (const [field, def] of Object.entries(optionFields)) {
    if (r[field] === undefined || (def.nullable && r[field] === null)) continue;
    const why = FORMATS[def.format].check(r[field]);
    if (why) bad(field, `${field} ${why}`);
  }

  if (problems.length > 0) return { ok: false, name: typeof r.name === 'string' ? r.name : undefined, problems };

  const spec: TargetSpec = {
    name: r.name as string,
    kind,
    address,
    labels: { ...defaults.labels, ...((r.labels as Record<string, string> | undefined) ?? {}) },
    intervalMs: r.interval !== undefined ? parseDuration(r.interval) : defaults.intervalMs,
    timeoutMs: r.timeout !== undefined ? parseDuration(r.timeout) : defaults.timeoutMs,
    payloadSize: r.payload_size !== undefined ? (r.payload_size as number) : defaults.payloadSize,
    lossWindow: r.loss_window !== undefined ? (r.loss_window as number) : defaults.lossWindow,
    options: kindOptions(kind, defaults, r),
    source,
  };
  if (url !== undefined) spec.url = url;
  return { ok: true, spec };
}

/** "address must ...; interval ..." — one line for a rejected file entry. */
export function describeProblems(problems: FieldProblem[]): string {
  return problems.map((p) => p.message).join('; ');
}

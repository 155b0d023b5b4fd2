/**
 * One raw target entry (inline, or from a tcp_ping_prometheus style file) ->
 * TargetSpec, or the list of everything wrong with it. Pure.
 */
import type { ProbeDefaults, TargetSpec } from './model.js';
import { checkHost, checkHostPort, parseHttpUrl } from './address.js';
import { checkLabels, checkMergedLabelCount } from './labels.js';
import { targetOptions } from './options.js';
import { TARGET_FIELD_FORMATS, TARGET_NAME_MAX_CHARS } from './fields.js';
import { PROBE_KINDS, isProbeKind, kindModule, kindOfOption, type ProbeKind } from '../kinds/index.js';
import { HTTP_BOUNDS } from '../kinds/http.js';
import { checkTimeoutSpan } from '../kinds/timing.js';
import { parseDuration } from '../values/duration.js';
import { clip } from '../values/clip.js';

export interface FieldProblem {
  /** Field of the entry ("address"), or "" for the entry as a whole. */
  field: string;
  value: unknown;
  message: string;
}

export type ParsedTarget = { ok: true; spec: TargetSpec } | { ok: false; name?: string; problems: FieldProblem[] };

const COMMON_FIELDS: ReadonlySet<string> = new Set(['name', 'kind', 'address', 'url', 'labels', 'interval', 'timeout', 'loss_window', 'payload_size']);
const COMMON_FORMATS = Object.entries(TARGET_FIELD_FORMATS);

// Own keys only: "constructor" or "__proto__" in a file entry is an unknown field, not an option.
const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/** Why a string cannot be a target name, or null. Names are label values and placement keys. */
export function checkTargetName(v: unknown): string | null {
  if (typeof v !== 'string' || v.trim() === '') return 'name must be a non-empty string';
  if (v !== v.trim()) return 'name must not have leading or trailing spaces';
  if (v.length > TARGET_NAME_MAX_CHARS) return `name is longer than ${TARGET_NAME_MAX_CHARS} characters`;
  // eslint-disable-next-line no-control-regex -- control characters are what this pattern rejects
  if (/[\u0000-\u001f\u007f]/.test(v)) return 'name must not contain control characters';
  return null;
}

export interface ParseTargetOptions {
  /**
   * probe_defaults.interval or .timeout is itself invalid (and replaced by its default
   * while the rest is checked): skip the timeout span rule unless the entry sets both.
   */
  inheritedTimingUnknown?: boolean;
}

/**
 * Validate one raw entry against the defaults; every problem is reported, not just
 * the first. Every rule a worker would apply to the target is checked here, so a
 * target the workers would refuse is a config error (inline) or a rejected entry
 * (files) with its reason, never a silent refusal later.
 */
export function parseTargetEntry(raw: unknown, source: string, defaults: ProbeDefaults, opts: ParseTargetOptions = {}): ParsedTarget {
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
    if (isProbeKind(r.kind)) kind = r.kind;
    else bad('kind', `kind must be one of ${PROBE_KINDS.join(', ')}`);
  }
  const kindKnown = problems.length === 0 || !problems.some((p) => p.field === 'kind');
  const km = kindModule(kind);
  const optionDecls = km.options;

  // The target's own option values (keys its kind declares), or null when it sets none.
  let own: Record<string, unknown> | null = null;
  for (const key in r) {
    if (COMMON_FIELDS.has(key)) continue;
    if (hasOwn(optionDecls, key)) {
      (own ??= {})[key] = r[key];
      continue;
    }
    const owner = kindOfOption(key);
    if (!kindKnown) continue; // cannot tell which options are allowed
    bad(key, owner ? `option "${key}" belongs to kind ${owner}, not ${kind}` : `unknown target field "${key}"`);
  }

  let address = '';
  let url: string | undefined;
  if (km.addressing === 'url') {
    if (r.address !== undefined) bad('address', 'an http target takes url, not address');
    const u = parseHttpUrl(r.url);
    if (typeof u === 'string') bad('url', r.url === undefined ? 'an http target needs url' : `url ${u}`);
    else if (Buffer.byteLength(u.url, 'utf8') > HTTP_BOUNDS.urlBytes)
      bad('url', `url is ${Buffer.byteLength(u.url, 'utf8')} bytes; at most ${HTTP_BOUNDS.urlBytes}`);
    else {
      url = u.url;
      address = new URL(u.url).host;
    }
  } else {
    if (r.url !== undefined) bad('url', `url is only for kind http (this target is ${kind})`);
    const why = km.addressing === 'host' ? checkHost(r.address) : checkHostPort(r.address);
    if (r.address === undefined) bad('address', `a ${kind} target needs address`);
    else if (why) bad('address', `address ${why}`);
    else address = r.address as string;
  }

  const labelProblems = checkLabels(r.labels);
  for (const msg of labelProblems) bad('labels', msg);
  if (labelProblems.length === 0) {
    const tooMany = checkMergedLabelCount(defaults.labels, r.labels as Record<string, unknown> | undefined);
    if (tooMany) bad('labels', tooMany);
  }

  for (const [field, format] of COMMON_FORMATS) {
    if (r[field] === undefined) continue;
    const why = format.check(r[field]);
    if (why) bad(field, `${field} ${why}`);
  }
  if (own !== null) {
    for (const [field, decl] of Object.entries(optionDecls)) {
      if (r[field] === undefined || (decl.nullable && r[field] === null)) continue;
      const why = decl.format.check(r[field]);
      if (why) bad(field, `${field} ${why}`);
    }
  }

  // An entry that sets neither inherits the probe_defaults pair, which is checked once there.
  const setsTiming = r.interval !== undefined || r.timeout !== undefined;
  if (setsTiming && (problems.length === 0 || !problems.some((p) => p.field === 'interval' || p.field === 'timeout'))) {
    const ownTiming = r.interval !== undefined && r.timeout !== undefined;
    if (ownTiming || !opts.inheritedTimingUnknown) {
      const intervalMs = r.interval !== undefined ? parseDuration(r.interval) : defaults.intervalMs;
      const timeoutMs = r.timeout !== undefined ? parseDuration(r.timeout) : defaults.timeoutMs;
      const span = checkTimeoutSpan(intervalMs, timeoutMs);
      if (span)
        problems.push({ field: r.timeout !== undefined || r.interval === undefined ? 'timeout' : 'interval', value: r.timeout ?? r.interval, message: span });
    }
  }

  if (problems.length > 0) return { ok: false, name: typeof r.name === 'string' ? clip(r.name, TARGET_NAME_MAX_CHARS) : undefined, problems };

  const timeoutMs = r.timeout !== undefined ? parseDuration(r.timeout) : defaults.timeoutMs;
  const spec: TargetSpec = {
    name: r.name as string,
    kind,
    address,
    // Shared with the defaults when the entry has none of its own: one object, not one per target (500k-target files).
    labels: r.labels === undefined || r.labels === null ? defaults.labels : { ...defaults.labels, ...(r.labels as Record<string, string>) },
    intervalMs: r.interval !== undefined ? parseDuration(r.interval) : defaults.intervalMs,
    timeoutMs,
    payloadSize: r.payload_size !== undefined ? (r.payload_size as number) : defaults.payloadSize,
    lossWindow: r.loss_window !== undefined ? (r.loss_window as number) : defaults.lossWindow,
    // One shared object per kind and timeout when the entry sets no option (see labels).
    options: targetOptions(kind, defaults, own, timeoutMs),
    source,
  };
  if (url !== undefined) spec.url = url;
  return { ok: true, spec };
}

/** "address must ...; interval ..." — one line for a rejected file entry. */
export function describeProblems(problems: FieldProblem[]): string {
  return problems.map((p) => p.message).join('; ');
}

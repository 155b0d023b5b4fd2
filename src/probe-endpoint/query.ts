/**
 * GET /probe's query -> the burst to run, or every problem with it. Pure.
 *
 *   target=ADDRESS   required, once: written like a config target's address for the
 *                    kind (icmp: host; tcp/tcp_echo/udp: host:port or [v6]:port;
 *                    http: a URL, "http://" assumed without a scheme, as blackbox does)
 *   kind=K           icmp | tcp | tcp_echo | udp | http (default: probe_defaults.kind)
 *   module=NAME      a probe_modules entry (kind, count, interval, timeout and options,
 *                    like a blackbox module; the query's own parameters override it), or a
 *                    kind name; must agree with kind when both are given
 *   count=N          probes in the burst (default probe_endpoint.count, 1..max_count)
 *   interval=D       gap between probe starts (default probe_endpoint.interval)
 *   timeout=D        per-probe timeout (default probe_defaults.timeout, cut to fit the budget)
 *   payload_size=N and the kind's own options (probe_defaults.<kind>.*), as on a target,
 *                    except those naming a file of the exporter's host (http ca_file)
 *
 * The target is checked by the very function that checks a configured target
 * (targets/spec.ts), with the configured probe_defaults, so /probe accepts exactly
 * what a config file would.
 *
 * Time budget, as blackbox_exporter computes it: the X-Prometheus-Scrape-Timeout-Seconds
 * header minus probe_endpoint.timeout_offset, at most probe_endpoint.max_duration (the
 * budget without the header). The burst must end within it: the last probe starts
 * (count-1) x interval after the first and waits at most its timeout, so the timeout
 * is cut to budget - (count-1) x interval; when that leaves nothing, the request is a 400.
 * A timeout taken from probe_defaults is also cut to 15 x interval (the in-flight rule
 * of every target, kinds/timing.ts); one given in the query must satisfy it.
 */
import { PROBE_KINDS, isProbeKind, kindModule, type ProbeKind } from '../kinds/index.js';
import { TIMEOUT_MAX_INTERVALS, TIMING_BOUNDS } from '../kinds/timing.js';
import { parseTargetEntry } from '../targets/spec.js';
import type { ProbeDefaults, TargetSpec } from '../targets/model.js';
import type { ProbeEndpointConfig } from '../config/schema-probe.js';
import { PROBE_ENDPOINT_BOUNDS } from '../config/schema-probe.js';
import { formatDuration, parseDuration } from '../values/duration.js';
import { clip } from '../values/clip.js';

/** The name every /probe target carries (the `target` label is not exported: Prometheus adds `instance`). */
export const PROBE_TARGET_NAME = 'probe';

/** Query parameters that are not kind options. */
const OWN_PARAMS: ReadonlySet<string> = new Set(['target', 'kind', 'module', 'count', 'interval', 'timeout', 'payload_size']);

export interface ProbeRequest {
  /** The target, validated like a configured one (name PROBE_TARGET_NAME). */
  spec: TargetSpec;
  count: number;
  intervalMs: number;
  /** Time the whole request may take (ms). */
  budgetMs: number;
}

export type ParsedProbeQuery = { ok: true; request: ProbeRequest } | { ok: false; problems: string[] };

export interface ProbeQueryContext {
  defaults: ProbeDefaults;
  config: ProbeEndpointConfig;
  /** The X-Prometheus-Scrape-Timeout-Seconds header, if any. */
  scrapeTimeoutHeader?: string | string[];
}

/** Problems quote what the client sent, clipped. */
const show = (v: string): string => JSON.stringify(clip(v, 120));

function single(params: URLSearchParams, name: string, problems: string[]): string | undefined {
  const all = params.getAll(name);
  if (all.length > 1) problems.push(`${name} is given ${all.length} times; give it once`);
  return all[0];
}

function durationParam(name: string, text: string | undefined, range: { min: number; max: number }, problems: string[]): number | undefined {
  if (text === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch {
    problems.push(`${name} ${show(text)} is not a duration (e.g. "100ms", "1s")`);
    return undefined;
  }
  if (ms < range.min || ms > range.max) {
    problems.push(`${name} must be between ${formatDuration(range.min)} and ${formatDuration(range.max)}, got ${show(text)}`);
    return undefined;
  }
  return ms;
}

/** The budget from the scrape-timeout header (ms), or the problem with the header. */
export function probeBudgetMs(header: string | string[] | undefined, config: ProbeEndpointConfig): number | string {
  if (header === undefined) return config.maxDurationMs;
  const text = Array.isArray(header) ? header[0] : header;
  const seconds = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(seconds) || seconds <= 0) {
    return `X-Prometheus-Scrape-Timeout-Seconds ${show(String(text))} is not a positive number of seconds`;
  }
  const budget = Math.min(config.maxDurationMs, seconds * 1000 - config.timeoutOffsetMs);
  if (budget <= 0) {
    return `the scrape timeout (${seconds}s) is not longer than probe_endpoint.timeout_offset (${formatDuration(config.timeoutOffsetMs)}): no time is left to probe`;
  }
  return budget;
}

export function parseProbeQuery(params: URLSearchParams, ctx: ProbeQueryContext): ParsedProbeQuery {
  const { defaults, config } = ctx;
  const problems: string[] = [];

  const target = single(params, 'target', problems);
  if (target === undefined || target === '') problems.push('target is required (target=ADDRESS)');

  const kindText = single(params, 'kind', problems);
  const moduleText = single(params, 'module', problems);
  let kind: ProbeKind = defaults.kind;
  const kindOf = (name: string, text: string): ProbeKind | null => {
    if (isProbeKind(text)) return text;
    problems.push(`${name} ${show(text)} is not a probe kind; kinds are ${PROBE_KINDS.join(', ')}`);
    return null;
  };
  const mod = moduleText !== undefined && Object.prototype.hasOwnProperty.call(config.modules, moduleText) ? config.modules[moduleText] : undefined;
  const k1 = kindText !== undefined ? kindOf('kind', kindText) : undefined;
  let k2: ProbeKind | null | undefined;
  if (mod) k2 = mod.kind;
  else if (moduleText !== undefined) {
    k2 = isProbeKind(moduleText) ? moduleText : null;
    if (k2 === null) {
      const names = Object.keys(config.modules);
      problems.push(
        `module ${show(moduleText)} is neither a probe_modules entry (${names.length > 0 ? names.join(', ') : 'none configured'}) nor a probe kind (${PROBE_KINDS.join(', ')})`,
      );
    }
  }
  if (k1 && k2 && k1 !== k2) problems.push(`kind ${show(k1)} and module ${show(k2)} disagree; give one`);
  kind = k1 ?? k2 ?? kind;
  const kindKnown = k1 !== null && k2 !== null;

  let count = mod?.count ?? config.count;
  const countText = single(params, 'count', problems);
  if (countText !== undefined) {
    if (!/^\d{1,7}$/.test(countText) || Number(countText) < 1 || Number(countText) > config.maxCount) {
      problems.push(`count must be an integer from 1 to probe_endpoint.max_count (${config.maxCount}), got ${show(countText)}`);
    } else count = Number(countText);
  }
  const modInterval = typeof mod?.values.interval === 'string' ? parseDuration(mod.values.interval) : undefined;
  const modTimeout = typeof mod?.values.timeout === 'string' ? parseDuration(mod.values.timeout) : undefined;
  const intervalMs =
    durationParam('interval', single(params, 'interval', problems), PROBE_ENDPOINT_BOUNDS.interval, problems) ?? modInterval ?? config.intervalMs;
  const timeoutAsked = durationParam('timeout', single(params, 'timeout', problems), TIMING_BOUNDS.timeout, problems) ?? modTimeout;

  const budget = probeBudgetMs(ctx.scrapeTimeoutHeader, config);
  if (typeof budget === 'string') problems.push(budget);

  // The raw entry, as a target in a config file would be written.
  const raw: Record<string, unknown> = { name: PROBE_TARGET_NAME, kind };
  // A module's settings first (checked at load), the query's own on top.
  if (mod && mod.kind === kind) for (const [k, v] of Object.entries(mod.values)) if (k !== 'interval' && k !== 'timeout') raw[k] = v;
  const optionDecls = kindModule(kind).options;
  for (const key of new Set(params.keys())) {
    if (OWN_PARAMS.has(key)) continue;
    if (!kindKnown) continue;
    if (!Object.prototype.hasOwnProperty.call(optionDecls, key)) {
      problems.push(
        `unknown parameter ${show(key)}: /probe takes target, kind (or module), count, interval, timeout, payload_size and the options of kind ${kind}${optionList(kind)}`,
      );
      continue;
    }
    if (key.endsWith('_file')) {
      // A URL must not make the exporter open files of its host (an existence oracle at least).
      problems.push(`option ${show(key)} names a file on the exporter's host and cannot be given in a /probe URL`);
      continue;
    }
    const text = single(params, key, problems) as string;
    const decl = optionDecls[key];
    raw[key] = decl.format.coerce ? decl.format.coerce(text) : text;
  }
  const payload = single(params, 'payload_size', problems);
  if (payload !== undefined) raw.payload_size = /^\d{1,9}$/.test(payload) ? Number(payload) : payload;

  // The last probe starts (count-1) x interval after the first and must end in the budget.
  // (With a bad header the target is still checked, against max_duration, so every problem is named at once.)
  const budgetMs = typeof budget === 'number' ? budget : config.maxDurationMs;
  const room = budgetMs - (count - 1) * intervalMs;
  let timeoutMs = timeoutAsked ?? Math.min(defaults.timeoutMs, TIMEOUT_MAX_INTERVALS * intervalMs);
  timeoutMs = Math.floor(Math.min(timeoutMs, room));
  if (timeoutMs < 1 && typeof budget === 'number') {
    problems.push(
      `${count} probes ${formatDuration(intervalMs)} apart do not fit in the time this request may take (${formatDuration(budgetMs)}): ` +
        'lower count or interval, or raise the scrape timeout',
    );
  }
  if (target === undefined || target === '' || !kindKnown) return { ok: false, problems };
  raw.interval = `${intervalMs}ms`;
  raw.timeout = `${Math.max(1, timeoutMs)}ms`;
  const addressing = kindModule(kind).addressing;
  if (addressing === 'url') raw.url = /^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? target : `http://${target}`;
  else raw.address = target;

  const parsed = parseTargetEntry(raw, 'GET /probe', defaults);
  if (!parsed.ok) {
    for (const p of parsed.problems)
      problems.push(p.field === 'address' || p.field === 'url' ? `target ${p.message.replace(/^(address|url) /, '')}` : p.message);
  }
  if (!parsed.ok || problems.length > 0) return { ok: false, problems };
  return { ok: true, request: { spec: parsed.spec, count, intervalMs, budgetMs } };
}

function optionList(kind: ProbeKind): string {
  const keys = Object.keys(kindModule(kind).options);
  return keys.length > 0 ? ` (${keys.join(', ')})` : '';
}

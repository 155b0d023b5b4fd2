/**
 * probe_modules: named probe settings for GET /probe, like blackbox_exporter's modules
 * (`module=http_2xx` in a scrape URL). Each entry is written like a target without an
 * address: `kind`, `count`, `interval`, `timeout`, `payload_size` and the kind's options,
 * and is checked by the function that checks targets (targets/spec.ts) against a
 * placeholder loopback address, so check-config names every bad field of every module.
 */
import { isProbeKind, kindModule, PROBE_KINDS, type ProbeKind } from '../kinds/index.js';
import { parseTargetEntry } from '../targets/spec.js';
import type { ProbeDefaults } from '../targets/model.js';
import type { ConfigProblem } from './errors.js';
import { TIMEOUT_MAX_INTERVALS } from '../kinds/timing.js';
import { isDuration, parseDuration } from '../values/duration.js';
import { PROBE_ENDPOINT_BOUNDS } from './schema-probe.js';

const PROBE_INTERVAL_MAX_MS = PROBE_ENDPOINT_BOUNDS.interval.max;

export interface ProbeModule {
  kind: ProbeKind;
  count?: number;
  /** interval, timeout, payload_size and kind options, as written (durations as strings). */
  values: Record<string, unknown>;
}

export const PROBE_MODULE_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
const MODULE_FIELDS: ReadonlySet<string> = new Set(['kind', 'count', 'interval', 'timeout', 'payload_size']);
const PLACEHOLDER = { host: '127.0.0.1', host_port: '127.0.0.1:1', url: 'http://127.0.0.1/' } as const;

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function buildProbeModules(raw: unknown, defaults: ProbeDefaults, maxCount: number, problems: ConfigProblem[]): Record<string, ProbeModule> {
  const out: Record<string, ProbeModule> = {};
  if (!isMapping(raw)) {
    problems.push({ key: 'probe_modules', value: raw, message: 'must be a mapping of module name to {kind, count?, interval?, timeout?, payload_size?, options…}' });
    return out;
  }
  for (const [name, entry] of Object.entries(raw)) {
    const at = `probe_modules.${name}`;
    const bad = (field: string, value: unknown, message: string) => problems.push({ key: field ? `${at}.${field}` : at, value, message });
    if (!PROBE_MODULE_NAME.test(name)) bad('', name, 'a module name must be letters, digits, "_", ".", "-" (at most 64, not starting with a digit)');
    if (!isMapping(entry)) {
      bad('', entry, 'must be a mapping {kind, count?, interval?, timeout?, payload_size?, options…}');
      continue;
    }
    let kind = defaults.kind;
    if (entry.kind !== undefined) {
      if (isProbeKind(entry.kind)) kind = entry.kind;
      else {
        bad('kind', entry.kind, `kind must be one of ${PROBE_KINDS.join(', ')}`);
        continue;
      }
    }
    const km = kindModule(kind);
    let count: number | undefined;
    if (entry.count !== undefined) {
      if (typeof entry.count === 'number' && Number.isInteger(entry.count) && entry.count >= 1 && entry.count <= maxCount) count = entry.count;
      else bad('count', entry.count, `count must be an integer from 1 to probe_endpoint.max_count (${maxCount})`);
    }
    const values: Record<string, unknown> = {};
    let fieldsOk = true;
    for (const [k, v] of Object.entries(entry)) {
      if (k === 'kind' || k === 'count') continue;
      if (!MODULE_FIELDS.has(k) && !Object.prototype.hasOwnProperty.call(km.options, k)) {
        bad(k, v, `unknown field "${k}" for a module of kind ${kind} (modules take kind, count, interval, timeout, payload_size and the kind's options; the address comes from the scrape URL)`);
        fieldsOk = false;
        continue;
      }
      values[k] = v;
    }
    if (!fieldsOk) continue;
    const target: Record<string, unknown> = { name: 'module', kind, ...values };
    // Without its own timeout a module's probes wait probe_defaults.timeout cut to 15 x its interval (as /probe does).
    if (values.interval !== undefined && values.timeout === undefined && isDuration(values.interval)) {
      target.timeout = `${Math.max(1, Math.min(defaults.timeoutMs, TIMEOUT_MAX_INTERVALS * parseDuration(values.interval)))}ms`;
    }
    if (values.interval !== undefined && isDuration(values.interval) && parseDuration(values.interval) > PROBE_INTERVAL_MAX_MS) {
      bad('interval', values.interval, `interval of a /probe burst must be at most ${PROBE_INTERVAL_MAX_MS / 1000}s`);
      continue;
    }
    if (km.addressing === 'url') target.url = PLACEHOLDER.url;
    else target.address = PLACEHOLDER[km.addressing];
    const parsed = parseTargetEntry(target, at, defaults);
    if (!parsed.ok) {
      for (const p of parsed.problems) bad(p.field, p.value, p.message);
      continue;
    }
    out[name] = count === undefined ? { kind, values } : { kind, count, values };
  }
  return out;
}

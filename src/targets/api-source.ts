/**
 * Targets added over the HTTP API (POST /api/v1/targets): a target source of its own,
 * held in memory (and, with api.state_file, on disk: src/targets/state-file.ts).
 *
 * An API target is kept as the entry it was posted as (the JSON object, exactly the
 * fields of a config target) and parsed by the same parseTargetEntry as inline and
 * file targets, against the probe_defaults in effect: a reload that changes
 * probe_defaults applies to API targets as it does to file targets, and an entry the
 * new defaults make invalid is a rejected target (source "api"), kept so a later
 * reload or a DELETE can deal with it.
 *
 * Sources in order: inline, mesh, target files, then the API. A name is kept by its
 * first definition, so the API can neither shadow nor change a target of the
 * configuration or of a file (the request is refused with 409; a file that later
 * defines an API target's name wins, and the API target is reported as a duplicate).
 *
 * Everything here is pure: planning a change returns the next set of entries or the
 * reason it is refused; the caller writes the state file and applies it.
 */
import type { ProbeDefaults } from './model.js';
import { clip } from '../values/clip.js';
import { showValue } from '../values/show-value.js';
import { formatDuration } from '../values/duration.js';
import type { TargetSpec } from './model.js';
import { checkTargetName, describeProblems, parseTargetEntry } from './spec.js';
import { sameSpec } from './registry.js';
import type { RejectedTarget, TargetLoad } from './files.js';

/** TargetSpec.source of every API target (GET /api/v1/targets shows it). */
export const API_SOURCE = 'api';

/** A target as posted: a JSON object with the fields of a config target. */
export type ApiEntry = Readonly<Record<string, unknown>>;

/** API targets by name, in the order they were first added. */
export type ApiEntries = ReadonlyMap<string, ApiEntry>;

/** One problem of a request, in the format of the reload answer and of config errors. */
export interface ApiProblem {
  /** The field ("address"), "[2].address" in a list, or "body". */
  key: string;
  message: string;
  /** The offending value as JSON, cut short. */
  value?: string;
}

export type AddResult = 'created' | 'replaced' | 'unchanged';

/** Why a change is refused: the HTTP status, a fixed code, and every problem. */
export interface Refusal {
  ok: false;
  status: 400 | 404 | 409;
  error: 'invalid_target' | 'target_exists' | 'too_many_targets' | 'defined_by_config' | 'not_found' | 'bad_request';
  message: string;
  problems: ApiProblem[];
}

export interface AddPlan {
  ok: true;
  /** The API targets after the change. */
  next: Map<string, ApiEntry>;
  /** One per posted target, in the order posted. */
  results: Array<{ name: string; spec: TargetSpec; result: AddResult }>;
  /** The body was a list (the answer is a list too). */
  list: boolean;
  /** Anything created or replaced (else nothing needs writing or applying). */
  changed: boolean;
}

export interface AddOptions {
  /** ?replace=1: a posted target replaces an API target of the same name that differs. */
  replace: boolean;
  /** api.max_targets. */
  maxTargets: number;
}

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function refuse(status: Refusal['status'], error: Refusal['error'], problems: ApiProblem[], summary?: string): Refusal {
  const message = summary ?? `${problems.length} problem${problems.length === 1 ? '' : 's'}: ${problems.map((p) => `${p.key}: ${p.message}`).join('; ')}`;
  return { ok: false, status, error, message, problems };
}

/** Parse every API entry against `defaults`: the API's contribution to the target set. */
export function loadApiEntries(entries: ApiEntries, defaults: ProbeDefaults): TargetLoad {
  const out: TargetLoad = { targets: [], rejected: [] };
  for (const [name, raw] of entries) {
    const parsed = parseTargetEntry(raw, API_SOURCE, defaults);
    if (parsed.ok) {
      out.targets.push(parsed.spec);
      continue;
    }
    // Its kind and address as written, as for a rejected file entry.
    const r: RejectedTarget = {
      source: API_SOURCE,
      name,
      kind: typeof raw.kind === 'string' ? clip(raw.kind, 64) : defaults.kind,
      reason: describeProblems(parsed.problems),
    };
    const address = raw.address ?? raw.url;
    if (typeof address === 'string') r.address = clip(address, 256);
    out.rejected.push(r);
  }
  return out;
}

/**
 * Plan POST /api/v1/targets: `body` is one target or a list of them (all or nothing).
 * Checks, in order, each answering with every problem of its kind: the body and each
 * entry (400), API targets of the same name defined otherwise without ?replace (409
 * target_exists), api.max_targets (409 too_many_targets). Names of the configuration
 * and the target files are checked by the caller against the target set (409
 * defined_by_config), with the same rule that dedupes every source.
 */
export function planAdd(body: unknown, current: ApiEntries, defaults: ProbeDefaults, opts: AddOptions): AddPlan | Refusal {
  const list = Array.isArray(body);
  if (!list && !isMapping(body)) {
    return refuse(400, 'invalid_target', [
      { key: 'body', value: showValue(body), message: 'must be a target ({"name", "address", ...}) or a list of targets' },
    ]);
  }
  const entries: unknown[] = list ? body : [body];
  if (entries.length === 0) return refuse(400, 'invalid_target', [{ key: 'body', value: '[]', message: 'the list holds no target' }]);
  if (entries.length > opts.maxTargets) {
    return refuse(409, 'too_many_targets', [
      { key: 'body', value: `(${entries.length} targets)`, message: `holds ${entries.length} targets; api.max_targets is ${opts.maxTargets}` },
    ]);
  }
  const at = (i: number, field: string): string => (list ? `[${i}]${field ? '.' + field : ''}` : field || 'body');

  const problems: ApiProblem[] = [];
  const parsed: Array<{ raw: ApiEntry; spec: TargetSpec }> = [];
  const firstIndex = new Map<string, number>();
  entries.forEach((entry, i) => {
    const p = parseTargetEntry(entry, API_SOURCE, defaults);
    if (!p.ok) {
      for (const fp of p.problems) problems.push({ key: at(i, fp.field), value: showValue(fp.value), message: fp.message });
      return;
    }
    const first = firstIndex.get(p.spec.name);
    if (first !== undefined) {
      problems.push({ key: at(i, 'name'), value: showValue(p.spec.name), message: `names the same target as [${first}]` });
      return;
    }
    firstIndex.set(p.spec.name, i);
    parsed.push({ raw: entry as ApiEntry, spec: p.spec });
  });
  if (problems.length > 0) return refuse(400, 'invalid_target', problems);

  const results: AddPlan['results'] = [];
  const conflicts: ApiProblem[] = [];
  for (const { spec } of parsed) {
    const existing = current.get(spec.name);
    if (existing === undefined) {
      results.push({ name: spec.name, spec, result: 'created' });
      continue;
    }
    const before = parseTargetEntry(existing, API_SOURCE, defaults);
    if (before.ok && sameSpec(before.spec, spec)) results.push({ name: spec.name, spec, result: 'unchanged' });
    else if (opts.replace) results.push({ name: spec.name, spec, result: 'replaced' });
    else {
      conflicts.push({
        key: at(firstIndex.get(spec.name) ?? 0, 'name'),
        value: showValue(spec.name),
        message: `an API target named "${clip(spec.name, 256)}" exists with another definition; add ?replace=1 to replace it (its counters carry on)`,
      });
    }
  }
  if (conflicts.length > 0) return refuse(409, 'target_exists', conflicts);

  const created = results.filter((r) => r.result === 'created').length;
  if (current.size + created > opts.maxTargets) {
    return refuse(409, 'too_many_targets', [
      {
        key: 'body',
        message: `api.max_targets (${opts.maxTargets}) would be exceeded: ${current.size} API targets exist and this request adds ${created}; delete some first`,
      },
    ]);
  }

  const next = new Map(current);
  for (let i = 0; i < parsed.length; i++) {
    // An unchanged target keeps the entry it was first posted as.
    if (results[i].result !== 'unchanged') next.set(parsed[i].spec.name, parsed[i].raw);
  }
  return { ok: true, next, results, list, changed: results.some((r) => r.result !== 'unchanged') };
}

export interface RemovePlan {
  ok: true;
  next: Map<string, ApiEntry>;
}

/** Plan DELETE /api/v1/targets/NAME; `definedBy(name)`: the source of a non-API target of that name, or null. */
export function planRemove(name: string, current: ApiEntries, definedBy: (name: string) => string | null): RemovePlan | Refusal {
  const bad = checkTargetName(name);
  if (bad) return refuse(400, 'bad_request', [{ key: 'name', value: showValue(name), message: bad }]);
  if (current.has(name)) {
    const next = new Map(current);
    next.delete(name);
    return { ok: true, next };
  }
  const other = definedBy(name);
  if (other !== null) {
    return refuse(409, 'defined_by_config', [
      {
        key: 'name',
        value: showValue(name),
        message: `"${clip(name, 256)}" is defined by ${other}, not by the API; change it there (the API deletes only targets it added)`,
      },
    ]);
  }
  return refuse(404, 'not_found', [{ key: 'name', value: showValue(name), message: `no API target named "${clip(name, 256)}"` }]);
}

/** The 409 for posted names that the configuration or a target file defines (from the dedupe's rejections). */
export function configConflicts(posted: ReadonlySet<string>, nextRejected: readonly RejectedTarget[]): Refusal | null {
  const problems: ApiProblem[] = [];
  for (const r of nextRejected) {
    if (r.source !== API_SOURCE || r.name === undefined || !posted.has(r.name)) continue;
    problems.push({ key: 'name', value: showValue(r.name), message: `${r.reason}; the API cannot replace a target of the configuration or of a target file` });
  }
  return problems.length > 0 ? refuse(409, 'defined_by_config', problems) : null;
}

/**
 * A target as the answer of a POST shows it: the fields of a config target with every
 * default applied (durations as strings), the kind's options in the probers' form,
 * and its source.
 */
export function describeTarget(spec: TargetSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { name: spec.name, kind: spec.kind };
  if (spec.url !== undefined) out.url = spec.url;
  else out.address = spec.address;
  out.labels = spec.labels;
  out.interval = formatDuration(spec.intervalMs);
  out.timeout = formatDuration(spec.timeoutMs);
  out.loss_window = spec.lossWindow;
  out.payload_size = spec.payloadSize;
  // The kind's options as its prober receives them (every default applied; the union's
  // `kind` tag is already the target's kind).
  const { kind: _kind, ...options } = spec.options as unknown as Record<string, unknown>;
  out.options = options;
  out.source = spec.source;
  return out;
}

/** Format version of the state file (api.state_file). */
export const STATE_FILE_VERSION = 1;

/** The state file's document: `{"version": 1, "targets": [entry, ...]}` in the order the targets were added. */
export function stateDocument(entries: ApiEntries): { version: number; targets: ApiEntry[] } {
  return { version: STATE_FILE_VERSION, targets: [...entries.values()] };
}

/**
 * A state file's document -> entries, or every structural problem (not an object, another
 * version, an entry that is not a mapping or has no valid name, a name twice). Whether
 * each entry is a valid target is decided later against the probe_defaults in effect,
 * as for every other source.
 */
export function parseStateDocument(doc: unknown): { ok: true; entries: Map<string, ApiEntry> } | { ok: false; problems: string[] } {
  if (!isMapping(doc)) return { ok: false, problems: [`must be an object {"version": ${STATE_FILE_VERSION}, "targets": [...]}`] };
  const problems: string[] = [];
  if (doc.version !== STATE_FILE_VERSION) problems.push(`version is ${showValue(doc.version)}; this fleetprobe reads version ${STATE_FILE_VERSION}`);
  for (const key of Object.keys(doc)) if (key !== 'version' && key !== 'targets') problems.push(`unknown field "${clip(key)}"`);
  if (!Array.isArray(doc.targets)) {
    problems.push('targets must be a list');
    return { ok: false, problems };
  }
  const entries = new Map<string, ApiEntry>();
  doc.targets.forEach((t: unknown, i: number) => {
    if (!isMapping(t)) {
      problems.push(`targets[${i}] must be a target object`);
      return;
    }
    const bad = checkTargetName(t.name);
    if (bad) problems.push(`targets[${i}].name: ${bad}`);
    else if (entries.has(t.name as string)) problems.push(`targets[${i}].name: "${clip(t.name as string)}" appears twice`);
    else entries.set(t.name as string, t);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, entries };
}

/** The committed API targets, with their parse cached per probe_defaults (reloads and DNS changes read it often). */
export class ApiTargetSource {
  #entries: Map<string, ApiEntry> = new Map();
  #cache: { entries: ApiEntries; defaults: ProbeDefaults; load: TargetLoad } | null = null;

  get size(): number {
    return this.#entries.size;
  }

  get entries(): ApiEntries {
    return this.#entries;
  }

  /** Make `next` the API targets (after it was written to the state file, if any). */
  commit(next: Map<string, ApiEntry>): void {
    this.#entries = next;
  }

  /** The API's contribution to the target set under `defaults`. */
  load(defaults: ProbeDefaults): TargetLoad {
    const c = this.#cache;
    if (c !== null && c.entries === this.#entries && c.defaults === defaults) return c.load;
    const load = loadApiEntries(this.#entries, defaults);
    this.#cache = { entries: this.#entries, defaults, load };
    return load;
  }
}

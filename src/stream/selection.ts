/**
 * Which targets a live-stream subscriber wants, and their store slots.
 *
 * A selection is a list of target names and a list of label matchers, the same for
 * SSE (`?target=NAME&label=key=value`) and gRPC (SubscriptionList.targets/labels):
 *  - names: the target must be one of them (none given: any target);
 *  - label matchers: matchers with the same label name are alternatives (rack=r1 or
 *    rack=r2), matchers with different names must all hold (rack=r1 and zone=z2);
 *    besides the target's own labels, `kind` and `address` can be matched;
 *  - both given: a target must satisfy both.
 * A name that is not a target is an error (NOT_FOUND / 404) naming it, and so is a
 * selection that matches no target. Resolved once per subscription and again when
 * the target set changes (then unknown names are simply skipped: they may come back).
 *
 * Pure: no I/O, no store access. Slots come out sorted and unique.
 */
import { checkLabelName } from '../targets/labels.js';

export interface LabelMatcher {
  name: string;
  value: string;
}

export interface Selection {
  readonly targets: readonly string[];
  readonly labels: readonly LabelMatcher[];
}

/** What selection needs to know of a target (a registry entry fits after mapping). */
export interface CatalogEntry {
  slot: number;
  name: string;
  kind: string;
  /** As configured: address, or the url of an http target. */
  address: string;
  labels: Readonly<Record<string, string>>;
}

/** Label names that match a target's own attributes rather than a user label. */
export const ATTRIBUTE_LABELS: readonly string[] = ['kind', 'address'];

/** The target set at one generation, indexed for selection and for encoders. */
export class Catalog {
  readonly byName: ReadonlyMap<string, CatalogEntry>;
  /** Entry by slot (sparse). */
  readonly bySlot: readonly (CatalogEntry | undefined)[];
  /** One past the highest slot. */
  readonly highWater: number;

  constructor(readonly entries: readonly CatalogEntry[]) {
    const byName = new Map<string, CatalogEntry>();
    const bySlot: (CatalogEntry | undefined)[] = [];
    let high = 0;
    for (const e of entries) {
      byName.set(e.name, e);
      bySlot[e.slot] = e;
      if (e.slot + 1 > high) high = e.slot + 1;
    }
    this.byName = byName;
    this.bySlot = bySlot;
    this.highWater = high;
  }
}

/** Why a label matcher is malformed, or null. */
export function labelMatcherProblem(m: LabelMatcher): string | null {
  if (ATTRIBUTE_LABELS.includes(m.name)) return m.value === '' ? `label "${m.name}" needs a value` : null;
  const bad = checkLabelName(m.name);
  // A reserved name other than kind/address (target, reason, ...) can never match a target.
  if (bad) return bad.replace(/ is reserved by fleetprobe.*/, ` cannot be matched (use target= for names; kind and address can be matched)`);
  return null;
}

/** "key=value" (the value may contain "=") -> matcher, or the reason it is not one. */
export function parseLabelArg(arg: string): LabelMatcher | string {
  const eq = arg.indexOf('=');
  if (eq <= 0) return `label "${arg}" must be written key=value`;
  const m = { name: arg.slice(0, eq), value: arg.slice(eq + 1) };
  return labelMatcherProblem(m) ?? m;
}

/** Matchers grouped by label name: each group needs one of its values. */
function groupMatchers(labels: readonly LabelMatcher[]): Map<string, Set<string>> {
  const groups = new Map<string, Set<string>>();
  for (const m of labels) {
    let g = groups.get(m.name);
    if (g === undefined) groups.set(m.name, (g = new Set()));
    g.add(m.value);
  }
  return groups;
}

function labelValue(e: CatalogEntry, name: string): string | undefined {
  if (name === 'kind') return e.kind;
  if (name === 'address') return e.address;
  return Object.prototype.hasOwnProperty.call(e.labels, name) ? e.labels[name] : undefined;
}

function matchesGroups(e: CatalogEntry, groups: ReadonlyMap<string, ReadonlySet<string>>): boolean {
  for (const [name, values] of groups) {
    const v = labelValue(e, name);
    if (v === undefined || !values.has(v)) return false;
  }
  return true;
}

export type Resolution = { ok: true; slots: Uint32Array } | { ok: false; code: 'not_found'; message: string; unknown: string[] };

/** Human form of a selection for messages: `targets a, b; labels rack=r1`. */
export function describeSelection(sel: Selection): string {
  const parts: string[] = [];
  if (sel.targets.length > 0) parts.push(`targets ${sel.targets.join(', ')}`);
  if (sel.labels.length > 0) parts.push(`labels ${sel.labels.map((m) => `${m.name}=${m.value}`).join(', ')}`);
  return parts.length > 0 ? parts.join('; ') : 'all targets';
}

/**
 * Slots of the targets a selection picks. Strict (a new subscription): unknown names
 * or an empty result are errors. Lenient (re-resolution after a reload): unknown
 * names are skipped and an empty result is an empty set.
 */
export function resolveSelection(sel: Selection, catalog: Catalog, strict = true): Resolution {
  const groups = groupMatchers(sel.labels);
  const out: number[] = [];
  if (sel.targets.length > 0) {
    const unknown: string[] = [];
    const seen = new Set<string>();
    for (const name of sel.targets) {
      if (seen.has(name)) continue;
      seen.add(name);
      const e = catalog.byName.get(name);
      if (e === undefined) unknown.push(name);
      else if (matchesGroups(e, groups)) out.push(e.slot);
    }
    if (strict && unknown.length > 0) {
      return { ok: false, code: 'not_found', message: `unknown target${unknown.length === 1 ? '' : 's'}: ${unknown.join(', ')}`, unknown };
    }
  } else {
    for (const e of catalog.entries) if (matchesGroups(e, groups)) out.push(e.slot);
  }
  if (strict && out.length === 0) {
    return { ok: false, code: 'not_found', message: `no target matches ${describeSelection(sel)}`, unknown: [] };
  }
  const slots = Uint32Array.from(out);
  slots.sort();
  return { ok: true, slots };
}

/**
 * Our own walk over the schema, so that every problem is collected with its key and
 * value (convict's validate() stops at one joined string). Two passes:
 *  - prune(): before merging a file, drop (and report) unknown keys and sections that
 *    are not mappings, so convict's merge never sees a shape it cannot handle;
 *  - checkLeaves(): after merging file, env and flags, check every leaf's final value.
 */
import { isLeaf, type SchemaLeaf, type SchemaSection } from './schema.js';
import { FORMATS } from './formats.js';
import type { ConfigProblem } from './errors.js';

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A copy of `raw` holding only known keys; everything else becomes a problem. */
export function prune(raw: unknown, schema: SchemaSection, problems: ConfigProblem[], prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (raw === null || raw === undefined) return out; // an empty file or section: defaults
  if (!isMapping(raw)) {
    problems.push({ key: prefix || '(top level)', value: raw, message: `must be a mapping of ${Object.keys(schema).join(', ')}` });
    return out;
  }
  for (const [key, value] of Object.entries(raw)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const node = Object.prototype.hasOwnProperty.call(schema, key) ? schema[key] : undefined;
    if (node === undefined) {
      const known = Object.keys(schema).join(', ');
      problems.push({ key: path, value, message: `unknown key (known here: ${known})` });
    } else if (isLeaf(node)) {
      out[key] = value;
    } else if (value === null) {
      // "web:" with nothing under it: keep the defaults of the section.
    } else if (!isMapping(value)) {
      problems.push({ key: path, value, message: `must be a mapping of ${Object.keys(node).join(', ')}` });
    } else {
      out[key] = prune(value, node, problems, path);
    }
  }
  return out;
}

export function checkLeaf(leaf: SchemaLeaf, value: unknown): string | null {
  if (value === null && leaf.nullable) return null;
  if (value === null || value === undefined) return 'must be set';
  const name = leaf.check ?? (leaf.format as string);
  const format = FORMATS[name];
  return format ? format.check(value) : null;
}

/** The problems of one leaf's value: every bad element of a list or mapping on its own. */
function leafProblems(leaf: SchemaLeaf, path: string, value: unknown): ConfigProblem[] {
  const format = FORMATS[leaf.check ?? (leaf.format as string)];
  if (format?.elements && value !== null && value !== undefined) {
    return format.elements(value).map((p) => ({ key: `${path}${p.at}`, value: p.value, message: p.message }));
  }
  const why = checkLeaf(leaf, value);
  return why ? [{ key: path, value, message: why }] : [];
}

/**
 * Every leaf of the merged properties that fails its format. Returns the dotted keys
 * of the bad leaves (a problem's key may name an element below its leaf).
 */
export function checkLeaves(
  props: Record<string, unknown>,
  schema: SchemaSection,
  problems: ConfigProblem[],
  prefix = '',
  bad: Set<string> = new Set(),
): Set<string> {
  for (const [key, node] of Object.entries(schema)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const value = isMapping(props) ? props[key] : undefined;
    if (isLeaf(node)) {
      const found = leafProblems(node, path, value);
      if (found.length > 0) {
        bad.add(path);
        for (const p of found) problems.push(p);
      }
    } else {
      checkLeaves((value ?? {}) as Record<string, unknown>, node, problems, path, bad);
    }
  }
  return bad;
}

/**
 * A copy of the properties with every bad leaf replaced by its schema default, so the
 * builders can still check what depends on it (inline targets, peers, cross-key rules)
 * and one run names every problem. Rules that compare a replaced leaf are skipped by
 * the builders (they get the set of bad keys), so a default never causes a problem.
 */
export function withDefaultsFor(props: Record<string, unknown>, schema: SchemaSection, bad: ReadonlySet<string>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = { ...props };
  for (const [key, node] of Object.entries(schema)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isLeaf(node)) {
      if (bad.has(path)) out[key] = structuredClone(node.default);
    } else {
      const sub = isMapping(props[key]) ? props[key] : {};
      out[key] = withDefaultsFor(sub, node, bad, path);
    }
  }
  return out;
}

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

/** Every leaf of the merged properties that fails its format. */
export function checkLeaves(props: Record<string, unknown>, schema: SchemaSection, problems: ConfigProblem[], prefix = ''): void {
  for (const [key, node] of Object.entries(schema)) {
    const path = prefix ? `${prefix}.${key}` : key;
    const value = isMapping(props) ? props[key] : undefined;
    if (isLeaf(node)) {
      const why = checkLeaf(node, value);
      if (why) problems.push({ key: path, value, message: why });
    } else {
      checkLeaves((value ?? {}) as Record<string, unknown>, node, problems, path);
    }
  }
}

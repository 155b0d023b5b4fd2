/** User labels that become Prometheus labels on every series of a target. */
import { LABEL_BOUNDS } from './fields.js';
import { clip } from '../values/clip.js';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Names fleetprobe itself puts on its series (or Prometheus does: `le`); a user label
 * with one of these names would collide and make the series ambiguous.
 */
export const RESERVED_LABEL_NAMES: readonly string[] = ['target', 'address', 'kind', 'reason', 'phase', 'le'];

/** Why `name` cannot be a user label name, or null. */
export function checkLabelName(name: string): string | null {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > LABEL_BOUNDS.nameBytes) return `label name "${clip(name)}" is ${bytes} bytes; at most ${LABEL_BOUNDS.nameBytes}`;
  if (!LABEL_NAME.test(name)) return `label name "${clip(name)}" is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)`;
  if (name.startsWith('__')) return `label name "${name}" starts with "__", which Prometheus reserves`;
  if (RESERVED_LABEL_NAMES.includes(name)) return `label name "${name}" is reserved by fleetprobe (${RESERVED_LABEL_NAMES.join(', ')})`;
  return null;
}

/** Why `value` cannot be the value of label `name`, or null. */
export function checkLabelValue(name: string, value: unknown): string | null {
  if (typeof value !== 'string') {
    const shown = JSON.stringify(value) ?? String(value);
    return `label "${clip(name)}" value must be a string (quote it), got ${clip(shown)}`;
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > LABEL_BOUNDS.valueBytes) return `label "${clip(name)}" value is ${bytes} bytes; at most ${LABEL_BOUNDS.valueBytes}`;
  return null;
}

export interface LabelProblem {
  /** The label concerned, or undefined for the mapping as a whole. */
  name?: string;
  /** What to show as the bad value (never a huge string: sizes are shown instead). */
  value: unknown;
  message: string;
}

/** Every problem of a labels mapping, each with its label (empty when valid). */
export function checkLabelEntries(labels: unknown): LabelProblem[] {
  if (labels === undefined || labels === null) return [];
  if (typeof labels !== 'object' || Array.isArray(labels)) return [{ value: labels, message: 'labels must be a mapping of name to string value' }];
  const out: LabelProblem[] = [];
  const entries = Object.entries(labels);
  if (entries.length > LABEL_BOUNDS.perTarget)
    out.push({ value: `(${entries.length} labels)`, message: `${entries.length} labels; at most ${LABEL_BOUNDS.perTarget}` });
  for (const [k, v] of entries) {
    const badName = checkLabelName(k);
    if (badName) out.push({ name: k, value: clip(k), message: badName });
    const badValue = checkLabelValue(k, v);
    if (badValue) out.push({ name: k, value: typeof v === 'string' ? clip(v) : v, message: badValue });
  }
  return out;
}

/** Every problem of a labels mapping as messages (empty when valid). */
export function checkLabels(labels: unknown): string[] {
  return checkLabelEntries(labels).map((p) => p.message);
}

/**
 * The labels a target ends up with (defaults overridden by its own) exceed the
 * per-target cap: the message, or null. Both parts are valid on their own.
 */
export function checkMergedLabelCount(defaults: Readonly<Record<string, string>>, own: Readonly<Record<string, unknown>> | undefined): string | null {
  let n = Object.keys(defaults).length;
  if (own) for (const k of Object.keys(own)) if (!Object.prototype.hasOwnProperty.call(defaults, k)) n++;
  return n > LABEL_BOUNDS.perTarget ? `${n} labels with probe_defaults.labels; at most ${LABEL_BOUNDS.perTarget}` : null;
}

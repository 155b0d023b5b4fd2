/** User labels that become Prometheus labels on every series of a target. */

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Names fleetprobe itself puts on its series (or Prometheus does: `le`); a user label
 * with one of these names would collide and make the series ambiguous.
 */
export const RESERVED_LABEL_NAMES: readonly string[] = ['target', 'address', 'kind', 'reason', 'phase', 'le'];

/** Why `name` cannot be a user label name, or null. */
export function checkLabelName(name: string): string | null {
  if (!LABEL_NAME.test(name)) return `label name "${name}" is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)`;
  if (name.startsWith('__')) return `label name "${name}" starts with "__", which Prometheus reserves`;
  if (RESERVED_LABEL_NAMES.includes(name)) return `label name "${name}" is reserved by fleetprobe (${RESERVED_LABEL_NAMES.join(', ')})`;
  return null;
}

/** Every problem of a labels mapping (empty when valid). */
export function checkLabels(labels: unknown): string[] {
  if (labels === undefined || labels === null) return [];
  if (typeof labels !== 'object' || Array.isArray(labels)) return ['labels must be a mapping of name to string value'];
  const out: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    const bad = checkLabelName(k);
    if (bad) out.push(bad);
    if (typeof v !== 'string') out.push(`label "${k}" value must be a string (quote it), got ${JSON.stringify(v)}`);
  }
  return out;
}

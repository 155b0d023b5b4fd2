/**
 * Label handling for per-target series: validation of user label names and the
 * escaped, pre-joined label fragment cached per target. Pure.
 *
 * The fragment is `target="…",address="…",kind="…"` followed by the user labels
 * sorted by name; the serializer writes it between `{` and `}` verbatim (plus
 * `reason`/`phase`/`le` where a family has them), so escaping happens once per
 * target definition, never per scrape.
 */

/** Label names the per-target families set themselves; user labels may not reuse them. */
export const RESERVED_LABEL_NAMES: ReadonlySet<string> = new Set(['target', 'address', 'kind', 'reason', 'phase', 'le']);

const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NEEDS_ESCAPE_RE = /[\\"\n]/;

/**
 * Escape a label value for the Prometheus text format 0.0.4: backslash, double
 * quote and line feed are the only characters that need it (any other UTF-8 is
 * allowed verbatim).
 */
export function escapeLabelValue(value: string): string {
  if (!NEEDS_ESCAPE_RE.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Throws RangeError when a user label name is not a valid, unreserved Prometheus label name. */
export function validateUserLabelName(name: string): void {
  if (!LABEL_NAME_RE.test(name)) throw new RangeError(`invalid label name ${JSON.stringify(name)}`);
  if (name.startsWith('__')) throw new RangeError(`label name ${JSON.stringify(name)} is reserved (starts with __)`);
  if (RESERVED_LABEL_NAMES.has(name)) throw new RangeError(`label name ${JSON.stringify(name)} is reserved by fleetprobe`);
}

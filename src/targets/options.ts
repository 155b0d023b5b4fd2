/**
 * The options of one target: the kind's defaults as configured under
 * probe_defaults.<kind>, overridden by the target's own values (written flat on the
 * target), normalised by the kind (src/kinds/<kind>.ts) with the target's timing.
 *
 * A target that sets no option of its own shares one options object with every other
 * such target of its kind and timeout (a 500,000-entry target file holds a handful of
 * options objects, not 500,000).
 */
import { kindModule, type KindOptions, type ProbeKind } from '../kinds/index.js';
import type { ProbeDefaults } from './model.js';

type Values = ProbeDefaults['optionValues'];
const shared = new WeakMap<Values, Map<string, KindOptions>>();

/**
 * `own`: the target's own option values (validated; only keys the kind declares), or
 * null when it sets none. An explicit null in `own` is the option's "unset" value.
 */
export function targetOptions(kind: ProbeKind, defaults: Pick<ProbeDefaults, 'optionValues'>, own: Readonly<Record<string, unknown>> | null, timeoutMs: number): KindOptions {
  const values = defaults.optionValues;
  const timing = { timeoutMs };
  if (own !== null) return kindModule(kind).normalise({ ...values[kind], ...own }, timing);
  let byKey = shared.get(values);
  if (byKey === undefined) shared.set(values, (byKey = new Map()));
  const key = `${kind} ${timeoutMs}`;
  let o = byKey.get(key);
  if (o === undefined) byKey.set(key, (o = kindModule(kind).normalise(values[kind], timing)));
  return o;
}

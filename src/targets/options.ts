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
/** Per defaults: per kind, the shared options by timeout (a handful of entries). */
const shared = new WeakMap<Values, Map<ProbeKind, Map<number, KindOptions>>>();

/**
 * `own`: the target's own option values (validated; only keys the kind declares), or
 * null when it sets none. An explicit null in `own` is the option's "unset" value.
 */
export function targetOptions(
  kind: ProbeKind,
  defaults: Pick<ProbeDefaults, 'optionValues'>,
  own: Readonly<Record<string, unknown>> | null,
  timeoutMs: number,
): KindOptions {
  const values = defaults.optionValues;
  if (own !== null) return kindModule(kind).normalise({ ...values[kind], ...own }, { timeoutMs });
  let byKind = shared.get(values);
  if (byKind === undefined) shared.set(values, (byKind = new Map<ProbeKind, Map<number, KindOptions>>()));
  let byTimeout = byKind.get(kind);
  if (byTimeout === undefined) byKind.set(kind, (byTimeout = new Map<number, KindOptions>()));
  let o = byTimeout.get(timeoutMs);
  if (o === undefined) byTimeout.set(timeoutMs, (o = kindModule(kind).normalise(values[kind], { timeoutMs })));
  return o;
}

/**
 * Which error reasons exist at 0 from the start for each kind: declared by the kinds
 * (src/kinds/<kind>.ts zeroReasons) and applied to the `reason` label by the catalog
 * (metrics/catalog.ts), so the Prometheus exposition and the OTel producer always
 * describe the same set of series.
 */
import type { ErrorReasonName } from '../protocol/events.js';
import { KINDS, type ProbeKind } from '../kinds/index.js';

/** Error reasons exported at 0 from the start for every target of a kind (why: see exposition.ts header). */
export const ZERO_ERROR_REASONS: Readonly<Record<ProbeKind, readonly ErrorReasonName[]>> = Object.fromEntries(
  KINDS.map((k) => [k.kind, k.zeroReasons]),
) as Record<ProbeKind, readonly ErrorReasonName[]>;

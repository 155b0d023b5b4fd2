/**
 * Which per-target series exist beyond the always-present ones, shared by the
 * Prometheus exposition (exposition.ts) and the OTel producer (otel-producer.ts)
 * so that both exporters always describe the same set of series.
 */
import { ERROR_REASON_NAMES, type ErrorReasonName } from '../protocol/events.js';
import { PROBE_KINDS, type ProbeKind } from '../targets/model.js';

/** Error reasons exported at 0 from the start for every target of a kind (why: see exposition.ts header). */
export const ZERO_ERROR_REASONS: Readonly<Record<ProbeKind, readonly ErrorReasonName[]>> = {
  icmp: ['send_failed', 'host_unreachable', 'admin_prohibited'],
  tcp: ['refused', 'connect_failed'],
  tcp_echo: ['refused', 'reset', 'closed'],
  udp: ['port_unreachable', 'send_failed'],
  http: ['connect_failed', 'tls', 'status_4xx', 'status_5xx'],
};

/** ZERO_REASON_MASK[kind][reason] === 1 when that reason is exported at 0 for that kind (read only). */
export const ZERO_REASON_MASK: readonly Uint8Array[] = PROBE_KINDS.map((k) => {
  const m = new Uint8Array(ERROR_REASON_NAMES.length);
  for (const r of ZERO_ERROR_REASONS[k]) m[ERROR_REASON_NAMES.indexOf(r)] = 1;
  return m;
});

/** Kind codes (indices into PROBE_KINDS) of the kinds that have families of their own. */
export const KIND_TCP_ECHO = PROBE_KINDS.indexOf('tcp_echo');
export const KIND_HTTP = PROBE_KINDS.indexOf('http');

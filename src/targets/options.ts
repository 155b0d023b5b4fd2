/**
 * Per-kind probe options: one table gives each option's format, default and doc.
 * The schema's probe_defaults.<kind> section is generated from it, and targets accept
 * the same keys flat (a target has one kind, so nesting there would only add noise).
 *
 * TargetSpec.options / ShardTarget.options carry them in the form the probers read
 * (workers/probes/*): snake_case keys, durations converted to milliseconds under a
 * `_ms` suffix (reconnect_max_backoff: 30s -> reconnect_max_backoff_ms: 30000), and
 * unset (null) options left out so the prober's default applies.
 */
import type { ProbeKind } from './model.js';
import { parseDuration } from '../config/duration.js';

export interface OptionField {
  format: string;
  default: unknown;
  doc: string;
  nullable?: boolean;
  /** A duration string in config; `<key>_ms` in options. */
  duration?: boolean;
  /** Structured value: no env variable or flag. */
  noEnv?: boolean;
}

export const KIND_OPTION_FIELDS: Readonly<Record<ProbeKind, Readonly<Record<string, OptionField>>>> = {
  icmp: {},
  tcp: {
    close: {
      format: 'fp-tcp-close',
      default: 'reset',
      doc: 'How a tcp probe closes its connection: "reset" (RST: no TIME_WAIT left behind on the prober; default) or "fin".',
    },
  },
  udp: {
    source_ports: {
      format: 'fp-source-ports',
      default: 1,
      doc: 'Distinct UDP source ports a udp target rotates through, so probes take several ECMP paths.',
    },
  },
  tcp_echo: {
    reconnect_min_backoff: { format: 'fp-backoff', default: '100ms', duration: true, doc: 'First wait before reconnecting a broken tcp_echo connection.' },
    reconnect_max_backoff: {
      format: 'fp-backoff',
      default: '30s',
      duration: true,
      doc: 'tcp_echo keeps one connection per target; after it breaks, reconnect waits double up to this.',
    },
    connect_timeout: {
      format: 'fp-connect-timeout',
      default: null,
      nullable: true,
      duration: true,
      doc: 'Limit on establishing the tcp_echo connection (unset: the larger of timeout and 3s).',
    },
  },
  http: {
    method: { format: 'fp-http-method', default: 'GET', doc: 'HTTP method of the probe request.' },
    expect_status: {
      format: 'fp-expect-status',
      default: '2xx',
      doc: 'Status codes counted as success: "2xx", "200", "200-399", or a comma list. Others count as errors (reason status_4xx/status_5xx/status_other).',
    },
    keep_alive: {
      format: 'fp-bool',
      default: false,
      doc: 'Reuse the connection between probes. false (default): a new connection per probe, so the connect and tls phases are measured every time.',
    },
    max_body_bytes: { format: 'fp-http-probe-max-body', default: 1_048_576, doc: 'Response body bytes read (and discarded) before the probe stops reading.' },
    ca_file: { format: 'fp-ca-file', default: null, nullable: true, doc: 'PEM file of CA certificates trusted for https targets (unset: the system store).' },
    insecure_skip_verify: { format: 'fp-bool', default: false, doc: 'Accept any TLS certificate (measures latency, not identity). Off by default.' },
    server_name: { format: 'fp-string', default: null, nullable: true, doc: 'TLS server name (SNI) to send instead of the URL host.' },
    headers: { format: 'fp-headers', default: {}, noEnv: true, doc: 'Extra request headers (name: value).' },
  },
};

/** Convert validated snake_case config values of one kind into the probers' options form. */
export function toProbeOptions(kind: ProbeKind, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(KIND_OPTION_FIELDS[kind])) {
    if (!Object.prototype.hasOwnProperty.call(values, key)) continue;
    const v = values[key];
    if (v === null || v === undefined) continue;
    if (field.duration) out[`${key}_ms`] = parseDuration(v);
    else if (key === 'headers') out[key] = { ...(v as Record<string, string>) };
    else if (key === 'method') out[key] = String(v).toUpperCase();
    else if (key === 'expect_status') out[key] = Array.isArray(v) ? v.join(',') : String(v);
    else out[key] = v;
  }
  return out;
}

/**
 * Options of one target: the kind's defaults (already in probers' form) overridden by
 * the target's own (validated, snake_case) values; an explicit null restores the
 * prober's built-in default.
 */
export function kindOptions(kind: ProbeKind, defaults: { options: Readonly<Record<ProbeKind, Record<string, unknown>>> }, raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...defaults.options[kind] };
  if (out.headers) out.headers = { ...(out.headers as Record<string, string>) };
  const own = toProbeOptions(kind, raw);
  for (const [key, field] of Object.entries(KIND_OPTION_FIELDS[kind])) {
    if (Object.prototype.hasOwnProperty.call(raw, key) && raw[key] === null) delete out[field.duration ? `${key}_ms` : key];
  }
  return Object.assign(out, own);
}

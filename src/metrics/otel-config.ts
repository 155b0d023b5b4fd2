/**
 * Whether and how to push OTLP metrics, decided from the STANDARD OpenTelemetry
 * environment variables only (no fleetprobe-specific config), so a deployment
 * that already sets OTEL_* for its other services needs nothing new. Pure but for
 * one check that certificate files are readable: the environment is a parameter.
 *
 * Export starts only when asked for explicitly: an OTLP endpoint is set
 * (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT) or
 * OTEL_METRICS_EXPORTER lists `otlp` (then the spec's default endpoint applies:
 * http://localhost:4318/v1/metrics, or http://localhost:4317 for grpc). The
 * spec's default of OTEL_METRICS_EXPORTER is `otlp`, but pushing to localhost
 * from every exporter that merely serves /metrics would spam connection errors,
 * so the absence of every variable means "off".
 *
 * Once export is on, EVERY variable that shapes it is checked here, and a bad
 * one is a configuration problem keyed by the variable's name (loadConfig reports
 * them with the FLEETPROBE_* ones in one ConfigError: exit 2 from `run` and
 * `check-config`, before anything starts). The OTel SDK itself only writes a
 * diag warning (which fleetprobe does not install) and falls back to a default,
 * so without this a typo in a protocol, header or certificate path would be a
 * silent change of behaviour at run time. Every OTEL_EXPORTER_OTLP_* variable
 * that is set must be valid, the generic one too when the metrics-specific one
 * overrides it: a bad value is a mistake either way.
 *
 * Read here: OTEL_SDK_DISABLED, OTEL_METRICS_EXPORTER, the endpoint, protocol,
 * headers, timeout, compression, certificate and insecure pairs,
 * OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE,
 * OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION, OTEL_METRIC_EXPORT_INTERVAL /
 * _TIMEOUT, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES. The OTLP exporters read
 * headers, the request timeout, compression, certificates and insecure from
 * process.env themselves (as every OTel SDK does); fleetprobe passes the URL and
 * the temporality explicitly (the histogram aggregation is fleetprobe's own
 * conversion: the producer builds the data points), and the values checked here are the same ones
 * (the Exporter hands process.env to both).
 */
import { accessSync, constants, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { MAX_TIMER_MS } from '../values/range.js';

export const OTLP_PROTOCOLS = ['grpc', 'http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/**
 * OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE values (the spec's). fleetprobe's
 * sums are all Counters and its distributions Histograms, which `lowmemory` sends as
 * delta, so for fleetprobe `lowmemory` means the same as `delta`.
 */
export const TEMPORALITY_PREFERENCES = ['cumulative', 'delta', 'lowmemory'] as const;
export type TemporalityPreference = (typeof TEMPORALITY_PREFERENCES)[number];

/**
 * OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION values (the spec's): how a
 * histogram is sent. Explicit buckets are the store's configured bounds; base-2
 * exponential buckets are the store's exponential histogram (the Prometheus native
 * histogram's buckets; otel-exp-histogram.ts), for the histograms that have one.
 */
export const HISTOGRAM_AGGREGATIONS = ['explicit_bucket_histogram', 'base2_exponential_bucket_histogram'] as const;
export type HistogramAggregation = (typeof HISTOGRAM_AGGREGATIONS)[number];

/** OTEL_METRICS_EXPORTER values understood here; /metrics is served whatever it says. */
export const METRICS_EXPORTERS = ['otlp', 'prometheus', 'none'] as const;

export interface OtelExportConfig {
  /**
   * The endpoint as the exporter takes it: for http/*, the full URL of the metrics
   * endpoint (…/v1/metrics); for grpc, the endpoint as given (the service path is
   * fixed by the protocol; a path here is ignored, with a warning).
   */
  url: string;
  protocol: OtlpProtocol;
  /** OTEL_METRIC_EXPORT_INTERVAL (default 60000). */
  intervalMs: number;
  /** OTEL_METRIC_EXPORT_TIMEOUT (default 30000, lowered to the interval when only the interval is set). */
  timeoutMs: number;
  /** OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE (default cumulative). */
  temporality: TemporalityPreference;
  /** OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION (default explicit_bucket_histogram). */
  histogramAggregation: HistogramAggregation;
  /** OTEL_SERVICE_NAME, else service.name from OTEL_RESOURCE_ATTRIBUTES, else undefined. */
  serviceName: string | undefined;
  /** Parsed OTEL_RESOURCE_ATTRIBUTES (percent-decoded). */
  resourceAttributes: Record<string, string>;
  /** Things that work but are probably not meant (logged at start). */
  warnings: string[];
}

/** One bad variable: its name, its value as given (secrets redacted), and why. */
export interface OtelEnvProblem {
  variable: string;
  value: string | undefined;
  message: string;
}

export type OtelConfigDecision =
  | { readonly enabled: true; readonly config: OtelExportConfig; readonly reason?: undefined; readonly problems?: undefined }
  /** Off on purpose (nothing configured, disabled, another exporter chosen). */
  | { readonly enabled: false; readonly reason: string; readonly problems?: undefined }
  /** Asked for, but the variables are bad: a configuration error naming each. */
  | { readonly enabled: false; readonly reason?: undefined; readonly problems: readonly OtelEnvProblem[] };

export const DEFAULT_EXPORT_INTERVAL_MS = 60_000;
export const DEFAULT_EXPORT_TIMEOUT_MS = 30_000;
export const DEFAULT_OTLP_HTTP_BASE = 'http://localhost:4318';
export const DEFAULT_OTLP_GRPC_ENDPOINT = 'http://localhost:4317';
const METRICS_PATH = 'v1/metrics';

type Env = Readonly<Record<string, string | undefined>>;

/** Both names of a per-signal variable: the metrics-specific one wins over the generic one. */
function pair(suffix: string): readonly [specific: string, generic: string] {
  return [`OTEL_EXPORTER_OTLP_METRICS_${suffix}`, `OTEL_EXPORTER_OTLP_${suffix}`];
}
export const ENDPOINT_VARS = pair('ENDPOINT');
export const PROTOCOL_VARS = pair('PROTOCOL');
export const HEADERS_VARS = pair('HEADERS');
export const TIMEOUT_VARS = pair('TIMEOUT');
export const COMPRESSION_VARS = pair('COMPRESSION');
export const INSECURE_VARS = pair('INSECURE');
export const CERTIFICATE_VARS = pair('CERTIFICATE');
export const CLIENT_KEY_VARS = pair('CLIENT_KEY');
export const CLIENT_CERTIFICATE_VARS = pair('CLIENT_CERTIFICATE');
export const TEMPORALITY_VAR = 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE';
export const HISTOGRAM_AGGREGATION_VAR = 'OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION';

/** A variable's value, trimmed; undefined when unset or blank (the spec treats empty as unset). */
function read(env: Env, name: string): string | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

/** The variable of a pair that is in effect, with its value. */
function effective(env: Env, vars: readonly [string, string]): { variable: string; value: string } | undefined {
  for (const variable of vars) {
    const value = read(env, variable);
    if (value !== undefined) return { variable, value };
  }
  return undefined;
}

export interface ResolveOptions {
  /** Whether a certificate path can be read (default: a readable regular file, relative to the cwd). */
  fileReadable?: (path: string) => string | undefined;
}

/**
 * Whether the variables ask for an OTLP metrics export at all (enabled, or asked for with
 * bad values: startOtelExport then reports them). Cheap, and imports no OpenTelemetry
 * module: the exporter loads the SDK only when this is true.
 */
export function otlpExportAsked(env: Env): boolean {
  const d = resolveOtelConfig(env);
  return d.enabled || d.problems !== undefined;
}

export function resolveOtelConfig(env: Env, opts: ResolveOptions = {}): OtelConfigDecision {
  const problems: OtelEnvProblem[] = [];
  const bad = (variable: string, value: string | undefined, message: string): void => {
    problems.push({ variable, value, message });
  };

  const disabled = read(env, 'OTEL_SDK_DISABLED');
  if (disabled !== undefined && !isBoolean(disabled)) bad('OTEL_SDK_DISABLED', disabled, 'must be true or false');
  if (disabled?.toLowerCase() === 'true') return { enabled: false, reason: 'OTEL_SDK_DISABLED=true' };

  const rawExporters = read(env, 'OTEL_METRICS_EXPORTER');
  const exporters = rawExporters
    ?.split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '');
  for (const e of exporters ?? []) {
    if (!(METRICS_EXPORTERS as readonly string[]).includes(e)) {
      bad(
        'OTEL_METRICS_EXPORTER',
        rawExporters,
        `${JSON.stringify(e)} is not supported; fleetprobe understands ${METRICS_EXPORTERS.join(', ')} (Prometheus is served at /metrics regardless)`,
      );
    }
  }
  if (problems.length > 0) return { enabled: false, problems };
  if (exporters !== undefined && exporters.length > 0) {
    if (exporters.includes('none')) return { enabled: false, reason: 'OTEL_METRICS_EXPORTER=none' };
    if (!exporters.includes('otlp')) {
      return { enabled: false, reason: `OTEL_METRICS_EXPORTER=${exporters.join(',')} has no 'otlp' (Prometheus is served at /metrics regardless)` };
    }
  }
  const otlpRequested = exporters?.includes('otlp') === true;
  const endpoint = effective(env, ENDPOINT_VARS);
  if (endpoint === undefined && !otlpRequested) {
    return { enabled: false, reason: 'no OTLP endpoint configured (OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)' };
  }

  // From here on export is asked for: every variable that shapes it is checked.
  const warnings: string[] = [];
  for (const variable of PROTOCOL_VARS) {
    const v = read(env, variable);
    if (v !== undefined && parseProtocol(v) === undefined) bad(variable, v, `must be one of ${OTLP_PROTOCOLS.join(', ')}`);
  }
  const protocolSetting = effective(env, PROTOCOL_VARS);
  const protocol = (protocolSetting === undefined ? undefined : parseProtocol(protocolSetting.value)) ?? 'http/protobuf';

  for (const variable of ENDPOINT_VARS) {
    const v = read(env, variable);
    if (v === undefined) continue;
    const err = protocol === 'grpc' ? checkGrpcEndpoint(v, variable, warnings) : checkHttpUrl(v);
    if (err !== undefined) bad(variable, v, err);
  }
  let url: string;
  if (protocol === 'grpc') url = endpoint?.value ?? DEFAULT_OTLP_GRPC_ENDPOINT;
  // Spec: the signal-specific endpoint is used as is; the generic one gets v1/metrics appended.
  else if (endpoint?.variable === ENDPOINT_VARS[0]) url = endpoint.value;
  else url = appendMetricsPath(endpoint?.value ?? DEFAULT_OTLP_HTTP_BASE);

  for (const variable of HEADERS_VARS) {
    const v = read(env, variable);
    if (v === undefined) continue;
    const err = checkHeaders(v);
    if (err !== undefined) bad(variable, redactHeaders(v), err);
  }
  for (const variable of TIMEOUT_VARS) positiveMs(env, variable, 0, bad);
  for (const variable of COMPRESSION_VARS) {
    const v = read(env, variable);
    if (v !== undefined && v !== 'gzip' && v !== 'none') bad(variable, v, 'must be gzip or none');
  }
  for (const variable of INSECURE_VARS) {
    const v = read(env, variable);
    if (v !== undefined && !isBoolean(v)) bad(variable, v, 'must be true or false');
  }
  const readable = opts.fileReadable ?? fileReadable;
  for (const variable of [...CERTIFICATE_VARS, ...CLIENT_KEY_VARS, ...CLIENT_CERTIFICATE_VARS]) {
    const v = read(env, variable);
    if (v === undefined) continue;
    const err = readable(v);
    if (err !== undefined) bad(variable, v, err);
  }
  const key = effective(env, CLIENT_KEY_VARS);
  const cert = effective(env, CLIENT_CERTIFICATE_VARS);
  if (key !== undefined && cert === undefined)
    bad(key.variable, key.value, `a client key needs a client certificate (${CLIENT_CERTIFICATE_VARS.join(' or ')})`);
  if (cert !== undefined && key === undefined) bad(cert.variable, cert.value, `a client certificate needs its key (${CLIENT_KEY_VARS.join(' or ')})`);

  const rawTemporality = read(env, TEMPORALITY_VAR);
  const temporality = rawTemporality === undefined ? 'cumulative' : parseTemporality(rawTemporality);
  if (temporality === undefined) bad(TEMPORALITY_VAR, rawTemporality, `must be one of ${TEMPORALITY_PREFERENCES.join(', ')}`);

  const rawAggregation = read(env, HISTOGRAM_AGGREGATION_VAR);
  const histogramAggregation = rawAggregation === undefined ? 'explicit_bucket_histogram' : parseHistogramAggregation(rawAggregation);
  if (histogramAggregation === undefined) bad(HISTOGRAM_AGGREGATION_VAR, rawAggregation, `must be one of ${HISTOGRAM_AGGREGATIONS.join(', ')}`);

  const intervalMs = positiveMs(env, 'OTEL_METRIC_EXPORT_INTERVAL', DEFAULT_EXPORT_INTERVAL_MS, bad);
  let timeoutMs = positiveMs(env, 'OTEL_METRIC_EXPORT_TIMEOUT', DEFAULT_EXPORT_TIMEOUT_MS, bad);
  if (timeoutMs > intervalMs) {
    // An export may not outlive its interval, or exports would pile up. The SDK refuses
    // the combination when both are given and lowers a default timeout: so do we.
    const given = read(env, 'OTEL_METRIC_EXPORT_TIMEOUT');
    if (given !== undefined) bad('OTEL_METRIC_EXPORT_TIMEOUT', given, `must not exceed the export interval (${intervalMs} ms, OTEL_METRIC_EXPORT_INTERVAL)`);
    timeoutMs = intervalMs;
  }

  const resourceAttributes = parseResourceAttributes(read(env, 'OTEL_RESOURCE_ATTRIBUTES'), (message) =>
    bad('OTEL_RESOURCE_ATTRIBUTES', read(env, 'OTEL_RESOURCE_ATTRIBUTES'), message),
  );
  const serviceName = read(env, 'OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'];

  if (problems.length > 0) return { enabled: false, problems };
  return {
    enabled: true,
    config: {
      url,
      protocol,
      intervalMs,
      timeoutMs,
      temporality: temporality!,
      histogramAggregation: histogramAggregation!,
      serviceName,
      resourceAttributes,
      warnings,
    },
  };
}

function isBoolean(v: string): boolean {
  const l = v.toLowerCase();
  return l === 'true' || l === 'false';
}

function parseProtocol(v: string): OtlpProtocol | undefined {
  const l = v.toLowerCase();
  return (OTLP_PROTOCOLS as readonly string[]).includes(l) ? (l as OtlpProtocol) : undefined;
}

function parseTemporality(v: string): TemporalityPreference | undefined {
  const l = v.toLowerCase();
  return (TEMPORALITY_PREFERENCES as readonly string[]).includes(l) ? (l as TemporalityPreference) : undefined;
}

function parseHistogramAggregation(v: string): HistogramAggregation | undefined {
  const l = v.toLowerCase();
  return (HISTOGRAM_AGGREGATIONS as readonly string[]).includes(l) ? (l as HistogramAggregation) : undefined;
}

export function appendMetricsPath(base: string): string {
  return base.endsWith('/') ? base + METRICS_PATH : `${base}/${METRICS_PATH}`;
}

function checkHttpUrl(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a valid URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `must be an http:// or https:// URL for the http/protobuf and http/json protocols`;
  if (u.hostname === '') return 'has no host';
  return undefined;
}

/**
 * A gRPC endpoint: http://host:port (plaintext), https://host:port (TLS), host:port
 * (TLS unless OTEL_EXPORTER_OTLP_INSECURE=true) or unix:///path, as the OTel gRPC
 * exporter takes them.
 */
function checkGrpcEndpoint(endpoint: string, variable: string, warnings: string[]): string | undefined {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(endpoint)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https' && scheme !== 'unix') {
    return 'must be http://host:port, https://host:port, host:port or unix:///path for the grpc protocol';
  }
  let u: URL;
  try {
    u = new URL(scheme === undefined ? `https://${endpoint}` : endpoint);
  } catch {
    return 'is not a valid endpoint (expected http://host:port, https://host:port or host:port)';
  }
  if (scheme === 'unix') return u.pathname === '' || u.pathname === '/' ? 'names no socket path' : undefined;
  if (u.hostname === '') return 'has no host';
  if (u.pathname !== '' && u.pathname !== '/')
    warnings.push(`${variable}: the path ${JSON.stringify(u.pathname)} is ignored with the grpc protocol (the service path is fixed)`);
  return undefined;
}

/** RFC 9110 token: what an HTTP header name (and a gRPC metadata key) may be. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What a header value may hold once decoded: no control characters but tab (a CR or LF would split the request). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * OTEL_EXPORTER_OTLP_HEADERS: `key=value` pairs separated by commas, both
 * percent-encoded (W3C Baggage octets). The SDK silently drops a pair it cannot
 * parse; here each one is a reason to refuse the configuration.
 */
function checkHeaders(raw: string): string | undefined {
  const entries = raw.split(',');
  for (const [i, entry] of entries.entries()) {
    if (entry.trim() === '') continue;
    const eq = entry.indexOf('=');
    const rawKey = eq < 0 ? entry.trim() : entry.slice(0, eq).trim();
    const where = `entry ${i + 1}`;
    if (eq <= 0 || rawKey === '') return `${where} is not key=value`;
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(rawKey);
      value = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      return `${where} (${JSON.stringify(clipKey(rawKey))}) has bad percent-encoding`;
    }
    if (!HEADER_NAME.test(key)) return `${where}: ${JSON.stringify(clipKey(key))} is not a valid header name`;
    if (value === '') return `${where} (${key}) has an empty value`;
    if (!HEADER_VALUE.test(value)) return `${where} (${key}) has a control character in its value`;
  }
  return undefined;
}

function clipKey(k: string): string {
  return k.length > 40 ? `${k.slice(0, 40)}…` : k;
}

/** Header values are often credentials: problems show the names only. */
export function redactHeaders(raw: string): string {
  return raw
    .split(',')
    .map((e) => (e.includes('=') ? `${clipKey(e.slice(0, e.indexOf('=')).trim())}=<redacted>` : e.trim() === '' ? '' : '<redacted>'))
    .join(',');
}

function fileReadable(path: string): string | undefined {
  const full = resolve(process.cwd(), path);
  try {
    if (!statSync(full).isFile()) return 'is not a regular file';
    accessSync(full, constants.R_OK);
    return undefined;
  } catch (err) {
    return `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
}

/** A positive number of milliseconds (at most the largest timer delay), or `fallback` when unset. */
function positiveMs(env: Env, name: string, fallback: number, bad: (variable: string, value: string, message: string) => void): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !(n > 0)) {
    bad(name, raw, 'must be a positive number of milliseconds');
    return fallback;
  }
  // It becomes a timer delay: past 2^31-1 ms Node fires it after 1 ms instead.
  if (n > MAX_TIMER_MS) {
    bad(name, raw, `must be at most ${MAX_TIMER_MS} ms (the largest timer delay)`);
    return fallback;
  }
  return Math.max(1, Math.round(n));
}

/**
 * OTEL_RESOURCE_ATTRIBUTES: `key=value` pairs separated by commas, values
 * percent-encoded (W3C Baggage octets). Each malformed pair is reported through
 * `problem` and skipped.
 */
export function parseResourceAttributes(raw: string | undefined, problem: (message: string) => void = () => {}): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  for (const p of raw.split(',')) {
    if (p.trim() === '') continue;
    const eq = p.indexOf('=');
    const key = eq < 0 ? '' : p.slice(0, eq).trim();
    if (key === '') {
      problem(`${JSON.stringify(p.trim())} is not key=value`);
      continue;
    }
    try {
      out[key] = decodeURIComponent(p.slice(eq + 1).trim());
    } catch {
      problem(`the value of ${JSON.stringify(key)} has bad percent-encoding`);
    }
  }
  return out;
}

/**
 * Whether and how to push OTLP metrics, decided from the STANDARD OpenTelemetry
 * environment variables only (no fleetprobe-specific config), so a deployment
 * that already sets OTEL_* for its other services needs nothing new. Pure: the
 * environment is a parameter.
 *
 * Export starts only when asked for explicitly: an OTLP endpoint is set
 * (OTEL_EXPORTER_OTLP_METRICS_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT) or
 * OTEL_METRICS_EXPORTER lists `otlp` (then the spec's default endpoint,
 * http://localhost:4318/v1/metrics, applies). The spec's default of
 * OTEL_METRICS_EXPORTER is `otlp`, but pushing to localhost:4318 from every
 * exporter that merely serves /metrics would spam connection errors, so the
 * absence of every variable means "off".
 *
 * Read here: OTEL_SDK_DISABLED, OTEL_METRICS_EXPORTER, the endpoint pair, the
 * protocol pair, OTEL_METRIC_EXPORT_INTERVAL / _TIMEOUT, OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES. Left to the OTLP exporter itself (it reads
 * process.env): OTEL_EXPORTER_OTLP[_METRICS]_HEADERS, _TIMEOUT, _COMPRESSION,
 * _CERTIFICATE, _CLIENT_KEY, _CLIENT_CERTIFICATE.
 */
import { MAX_TIMER_MS } from '../values/range.js';

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export interface OtelExportConfig {
  /** Full URL of the metrics endpoint (…/v1/metrics). */
  url: string;
  protocol: OtlpProtocol;
  /** OTEL_METRIC_EXPORT_INTERVAL (default 60000). */
  intervalMs: number;
  /** OTEL_METRIC_EXPORT_TIMEOUT (default 30000), clamped to the interval. */
  timeoutMs: number;
  /** OTEL_SERVICE_NAME, else service.name from OTEL_RESOURCE_ATTRIBUTES, else undefined. */
  serviceName: string | undefined;
  /** Parsed OTEL_RESOURCE_ATTRIBUTES (percent-decoded). */
  resourceAttributes: Record<string, string>;
  /** Problems that did not stop the export (bad values replaced by defaults). */
  warnings: string[];
}

export type OtelConfigDecision =
  | { readonly enabled: true; readonly config: OtelExportConfig; readonly reason?: undefined; readonly error?: undefined }
  /** Off on purpose (nothing configured, disabled, another exporter chosen). */
  | { readonly enabled: false; readonly reason: string; readonly error?: undefined }
  /** Asked for, but cannot be honoured (grpc, bad URL): log it loudly. */
  | { readonly enabled: false; readonly reason?: undefined; readonly error: string };

export const DEFAULT_EXPORT_INTERVAL_MS = 60_000;
export const DEFAULT_EXPORT_TIMEOUT_MS = 30_000;
export const DEFAULT_OTLP_HTTP_BASE = 'http://localhost:4318';
const METRICS_PATH = 'v1/metrics';

type Env = Readonly<Record<string, string | undefined>>;

/** A variable's value, trimmed; undefined when unset or blank (the spec treats empty as unset). */
function read(env: Env, name: string): string | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}

export function resolveOtelConfig(env: Env): OtelConfigDecision {
  if (read(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return { enabled: false, reason: 'OTEL_SDK_DISABLED=true' };

  const exporters = read(env, 'OTEL_METRICS_EXPORTER')
    ?.split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '');
  if (exporters !== undefined && exporters.length > 0) {
    if (exporters.includes('none')) return { enabled: false, reason: 'OTEL_METRICS_EXPORTER=none' };
    if (!exporters.includes('otlp')) {
      return { enabled: false, reason: `OTEL_METRICS_EXPORTER=${exporters.join(',')} has no 'otlp' (Prometheus is served at /metrics regardless)` };
    }
  }
  const otlpRequested = exporters?.includes('otlp') === true;

  const signalEndpoint = read(env, 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT');
  const baseEndpoint = read(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (signalEndpoint === undefined && baseEndpoint === undefined && !otlpRequested) {
    return { enabled: false, reason: 'no OTLP endpoint configured (OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)' };
  }
  // Spec: the signal-specific endpoint is used as is; the base one gets v1/metrics appended.
  const url = signalEndpoint ?? appendMetricsPath(baseEndpoint ?? DEFAULT_OTLP_HTTP_BASE);
  const urlError = checkHttpUrl(url);
  if (urlError !== undefined) return { enabled: false, error: urlError };

  const rawProtocol = read(env, 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL') ?? read(env, 'OTEL_EXPORTER_OTLP_PROTOCOL') ?? 'http/protobuf';
  const protocol = rawProtocol.toLowerCase();
  if (protocol === 'grpc') {
    return { enabled: false, error: 'OTLP protocol grpc is not supported by fleetprobe (no gRPC exporter is bundled); set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf or http/json' };
  }
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    return { enabled: false, error: `unknown OTLP protocol ${JSON.stringify(rawProtocol)}; supported: http/protobuf, http/json` };
  }

  const warnings: string[] = [];
  const intervalMs = positiveMs(env, 'OTEL_METRIC_EXPORT_INTERVAL', DEFAULT_EXPORT_INTERVAL_MS, warnings);
  let timeoutMs = positiveMs(env, 'OTEL_METRIC_EXPORT_TIMEOUT', DEFAULT_EXPORT_TIMEOUT_MS, warnings);
  if (timeoutMs > intervalMs) {
    // An export may not outlive its interval, or exports would pile up.
    if (read(env, 'OTEL_METRIC_EXPORT_TIMEOUT') !== undefined) warnings.push(`OTEL_METRIC_EXPORT_TIMEOUT ${timeoutMs} ms exceeds the export interval; using ${intervalMs} ms`);
    timeoutMs = intervalMs;
  }

  const resourceAttributes = parseResourceAttributes(read(env, 'OTEL_RESOURCE_ATTRIBUTES'), warnings);
  const serviceName = read(env, 'OTEL_SERVICE_NAME') ?? resourceAttributes['service.name'];

  return { enabled: true, config: { url, protocol, intervalMs, timeoutMs, serviceName, resourceAttributes, warnings } };
}

export function appendMetricsPath(base: string): string {
  return base.endsWith('/') ? base + METRICS_PATH : `${base}/${METRICS_PATH}`;
}

function checkHttpUrl(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `OTLP endpoint ${JSON.stringify(url)} is not a valid URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `OTLP endpoint ${JSON.stringify(url)} must be http:// or https://`;
  return undefined;
}

function positiveMs(env: Env, name: string, fallback: number, warnings: string[]): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || !/^\d+(\.\d+)?$/.test(raw)) {
    warnings.push(`${name}=${JSON.stringify(raw)} is not a positive number of milliseconds; using ${fallback}`);
    return fallback;
  }
  // It becomes a timer delay: past 2^31-1 ms Node fires it after 1 ms instead (an export every millisecond).
  if (n > MAX_TIMER_MS) {
    warnings.push(`${name}=${raw} ms is above the largest timer delay; using ${MAX_TIMER_MS}`);
    return MAX_TIMER_MS;
  }
  return Math.round(n);
}

/**
 * OTEL_RESOURCE_ATTRIBUTES: `key=value` pairs separated by commas, values
 * percent-encoded (W3C Baggage octets). A malformed pair is skipped with a
 * warning; the rest still apply.
 */
export function parseResourceAttributes(raw: string | undefined, warnings: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === undefined) return out;
  for (const pair of raw.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    const key = eq < 0 ? '' : pair.slice(0, eq).trim();
    if (key === '') {
      warnings.push(`OTEL_RESOURCE_ATTRIBUTES: ignoring ${JSON.stringify(pair)} (expected key=value)`);
      continue;
    }
    const rawValue = pair.slice(eq + 1).trim();
    try {
      out[key] = decodeURIComponent(rawValue);
    } catch {
      warnings.push(`OTEL_RESOURCE_ATTRIBUTES: ignoring ${JSON.stringify(key)} (bad percent-encoding)`);
    }
  }
  return out;
}

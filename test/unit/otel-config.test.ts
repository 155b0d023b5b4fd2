import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResourceAttributes, resolveOtelConfig, type OtelExportConfig } from '../../src/metrics/otel-config.js';

function enabled(env: Record<string, string>): OtelExportConfig {
  const d = resolveOtelConfig(env);
  assert.equal(d.enabled, true, `expected enabled, got ${JSON.stringify(d)}`);
  return (d as { config: OtelExportConfig }).config;
}

test('no OTEL variables at all means no export', () => {
  const d = resolveOtelConfig({});
  assert.equal(d.enabled, false);
  assert.equal(d.error, undefined);
  assert.match(d.reason ?? '', /no OTLP endpoint/);
});

test('blank variables count as unset', () => {
  assert.equal(resolveOtelConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ', OTEL_METRICS_EXPORTER: '' }).enabled, false);
});

test('the base endpoint gets /v1/metrics appended, with or without a trailing slash', () => {
  assert.equal(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).url, 'http://collector:4318/v1/metrics');
  assert.equal(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).url, 'http://collector:4318/v1/metrics');
  assert.equal(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw.example/otlp' }).url, 'https://gw.example/otlp/v1/metrics');
});

test('the metrics-specific endpoint is used as is and wins over the base one', () => {
  const c = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://b:9000/custom' });
  assert.equal(c.url, 'http://b:9000/custom');
});

test('OTEL_METRICS_EXPORTER=otlp alone enables export to the spec default endpoint', () => {
  assert.equal(enabled({ OTEL_METRICS_EXPORTER: 'otlp' }).url, 'http://localhost:4318/v1/metrics');
  assert.equal(enabled({ OTEL_METRICS_EXPORTER: 'prometheus, OTLP' }).url, 'http://localhost:4318/v1/metrics');
});

test('OTEL_METRICS_EXPORTER without otlp, or with none, disables export even with an endpoint', () => {
  for (const v of ['none', 'prometheus', 'console', 'otlp,none']) {
    const d = resolveOtelConfig({ OTEL_METRICS_EXPORTER: v, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' });
    assert.equal(d.enabled, false, v);
    assert.equal(d.error, undefined, v);
  }
});

test('OTEL_SDK_DISABLED=true disables export', () => {
  assert.equal(resolveOtelConfig({ OTEL_SDK_DISABLED: 'TRUE', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }).enabled, false);
  assert.equal(resolveOtelConfig({ OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }).enabled, true);
});

test('protocol defaults to http/protobuf; the metrics-specific protocol wins', () => {
  assert.equal(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:1' }).protocol, 'http/protobuf');
  assert.equal(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:1', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).protocol, 'http/json');
  const c = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:1', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json' });
  assert.equal(c.protocol, 'http/json');
});

test('grpc and unknown protocols are errors, not silent fallbacks', () => {
  const g = resolveOtelConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:1', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
  assert.equal(g.enabled, false);
  assert.match(g.error ?? '', /grpc is not supported.*http\/protobuf/);
  const u = resolveOtelConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:1', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'carrier-pigeon' });
  assert.match(u.error ?? '', /unknown OTLP protocol "carrier-pigeon"/);
});

test('an endpoint that is not an http(s) URL is an error', () => {
  assert.match(resolveOtelConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }).error ?? '', /not a valid URL/);
  assert.match(resolveOtelConfig({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'ftp://h/x' }).error ?? '', /must be http/);
});

test('interval and timeout: defaults, explicit values, and the timeout clamped to the interval', () => {
  const d = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:1' });
  assert.deepEqual([d.intervalMs, d.timeoutMs, d.warnings], [60000, 30000, []]);
  const e = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:1', OTEL_METRIC_EXPORT_INTERVAL: '15000', OTEL_METRIC_EXPORT_TIMEOUT: '5000' });
  assert.deepEqual([e.intervalMs, e.timeoutMs], [15000, 5000]);
  const short = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:1', OTEL_METRIC_EXPORT_INTERVAL: '1000' });
  assert.deepEqual([short.intervalMs, short.timeoutMs, short.warnings], [1000, 1000, []]);
  const clamped = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:1', OTEL_METRIC_EXPORT_INTERVAL: '1000', OTEL_METRIC_EXPORT_TIMEOUT: '5000' });
  assert.equal(clamped.timeoutMs, 1000);
  assert.equal(clamped.warnings.length, 1);
});

test('an interval or timeout past the largest timer delay (2^31-1 ms) is capped there with a warning, not fired every millisecond', () => {
  const c = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:1', OTEL_METRIC_EXPORT_INTERVAL: '360000000000', OTEL_METRIC_EXPORT_TIMEOUT: '99999999999' });
  assert.deepEqual([c.intervalMs, c.timeoutMs], [2 ** 31 - 1, 2 ** 31 - 1]);
  assert.match(c.warnings.join('\n'), /OTEL_METRIC_EXPORT_INTERVAL=360000000000 ms is above the largest timer delay/);
});

test('a bad interval falls back to the default with a warning', () => {
  for (const bad of ['-5', '0', 'soon', '10s']) {
    const c = enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:1', OTEL_METRIC_EXPORT_INTERVAL: bad });
    assert.equal(c.intervalMs, 60000, bad);
    assert.match(c.warnings[0], /OTEL_METRIC_EXPORT_INTERVAL/, bad);
  }
});

test('resource attributes are percent-decoded, malformed pairs skipped with a warning', () => {
  const warnings: string[] = [];
  const a = parseResourceAttributes('deployment.environment=prod, team=net%20ops,novalue,=x,region=eu%2Cwest', warnings);
  assert.deepEqual(a, { 'deployment.environment': 'prod', team: 'net ops', region: 'eu,west' });
  assert.equal(warnings.length, 2);
  const bad: string[] = [];
  assert.deepEqual(parseResourceAttributes('k=%E0%A4%A', bad), {});
  assert.equal(bad.length, 1);
});

test('OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES', () => {
  const base = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:1', OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs' };
  assert.equal(enabled(base).serviceName, 'from-attrs');
  assert.equal(enabled({ ...base, OTEL_SERVICE_NAME: 'from-name' }).serviceName, 'from-name');
  assert.equal(enabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://h:1' }).serviceName, undefined);
});

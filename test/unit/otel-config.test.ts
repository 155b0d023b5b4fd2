import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResourceAttributes, resolveOtelConfig, type OtelEnvProblem, type OtelExportConfig, type ResolveOptions } from '../../src/metrics/otel-config.js';

function enabled(env: Record<string, string>, opts?: ResolveOptions): OtelExportConfig {
  const d = resolveOtelConfig(env, opts);
  assert.equal(d.enabled, true, `expected enabled, got ${JSON.stringify(d)}`);
  return (d as { config: OtelExportConfig }).config;
}

/** The problems of a refused environment (asserts it was refused). */
function problems(env: Record<string, string>, opts?: ResolveOptions): readonly OtelEnvProblem[] {
  const d = resolveOtelConfig(env, opts);
  assert.equal(d.enabled, false, `expected refused, got ${JSON.stringify(d)}`);
  assert.ok(d.problems !== undefined && d.problems.length > 0, `expected problems, got ${JSON.stringify(d)}`);
  return d.problems;
}

function onlyProblem(env: Record<string, string>, variable: string, message: RegExp, opts?: ResolveOptions): OtelEnvProblem {
  const ps = problems(env, opts);
  assert.deepEqual(
    ps.map((p) => p.variable),
    [variable],
    JSON.stringify(ps),
  );
  assert.match(ps[0].message, message);
  return ps[0];
}

const ON = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };

test('no OTEL variables at all means no export and no problem', () => {
  const d = resolveOtelConfig({});
  assert.equal(d.enabled, false);
  assert.equal(d.problems, undefined);
  assert.match(d.reason ?? '', /no OTLP endpoint/);
});

test('blank variables count as unset', () => {
  assert.equal(resolveOtelConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: '  ', OTEL_METRICS_EXPORTER: '' }).enabled, false);
});

test('with export off, the variables that only shape it are not checked', () => {
  const d = resolveOtelConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'carrier-pigeon', OTEL_EXPORTER_OTLP_HEADERS: 'nonsense' });
  assert.equal(d.enabled, false);
  assert.equal(d.problems, undefined);
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

test('OTEL_METRICS_EXPORTER=otlp alone enables export to the spec default endpoint of the protocol', () => {
  assert.equal(enabled({ OTEL_METRICS_EXPORTER: 'otlp' }).url, 'http://localhost:4318/v1/metrics');
  assert.equal(enabled({ OTEL_METRICS_EXPORTER: 'prometheus, OTLP' }).url, 'http://localhost:4318/v1/metrics');
  assert.equal(enabled({ OTEL_METRICS_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).url, 'http://localhost:4317');
});

test('OTEL_METRICS_EXPORTER without otlp, or with none, disables export even with an endpoint', () => {
  for (const v of ['none', 'prometheus', 'otlp,none']) {
    const d = resolveOtelConfig({ OTEL_METRICS_EXPORTER: v, ...ON });
    assert.equal(d.enabled, false, v);
    assert.equal(d.problems, undefined, v);
  }
});

test('an OTEL_METRICS_EXPORTER fleetprobe does not know is a problem, not a silent no', () => {
  for (const v of ['console', 'otlp,zipkin', 'prometheus,logging'])
    onlyProblem({ OTEL_METRICS_EXPORTER: v, ...ON }, 'OTEL_METRICS_EXPORTER', /is not supported; fleetprobe understands otlp, prometheus, none/);
});

test('OTEL_SDK_DISABLED=true disables export (nothing else is checked); a non-boolean is a problem', () => {
  assert.equal(resolveOtelConfig({ OTEL_SDK_DISABLED: 'TRUE', ...ON, OTEL_EXPORTER_OTLP_PROTOCOL: 'bogus' }).enabled, false);
  assert.equal(resolveOtelConfig({ OTEL_SDK_DISABLED: 'TRUE', ...ON, OTEL_EXPORTER_OTLP_PROTOCOL: 'bogus' }).problems, undefined);
  assert.equal(resolveOtelConfig({ OTEL_SDK_DISABLED: 'false', ...ON }).enabled, true);
  onlyProblem({ OTEL_SDK_DISABLED: 'yes', ...ON }, 'OTEL_SDK_DISABLED', /must be true or false/);
});

test('protocol: http/protobuf by default, grpc and http/json accepted, the metrics-specific one wins', () => {
  assert.equal(enabled(ON).protocol, 'http/protobuf');
  assert.equal(enabled({ ...ON, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).protocol, 'http/json');
  assert.equal(enabled({ ...ON, OTEL_EXPORTER_OTLP_PROTOCOL: 'GRPC' }).protocol, 'grpc');
  const c = enabled({ ...ON, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json' });
  assert.equal(c.protocol, 'http/json');
});

test('grpc takes the endpoint as is (no /v1/metrics), in every form the gRPC exporter accepts', () => {
  const grpc = (endpoint: string, variable = 'OTEL_EXPORTER_OTLP_ENDPOINT'): OtelExportConfig =>
    enabled({ [variable]: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
  assert.equal(grpc('http://collector:4317').url, 'http://collector:4317');
  assert.equal(grpc('https://collector:4317').url, 'https://collector:4317');
  assert.equal(grpc('collector:4317').url, 'collector:4317');
  assert.equal(grpc('unix:///run/otel.sock').url, 'unix:///run/otel.sock');
  assert.equal(grpc('http://collector:4317', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT').url, 'http://collector:4317');
  const withPath = grpc('http://collector:4317/v1/metrics');
  assert.match(withPath.warnings.join('\n'), /OTEL_EXPORTER_OTLP_ENDPOINT: the path "\/v1\/metrics" is ignored with the grpc protocol/);
  onlyProblem({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://collector:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_ENDPOINT', /grpc protocol/);
  onlyProblem({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:port', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_ENDPOINT', /not a valid endpoint/);
});

test('an unknown protocol is a problem naming the variable that holds it, the generic one too', () => {
  onlyProblem(
    { ...ON, OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'carrier-pigeon' },
    'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL',
    /must be one of grpc, http\/protobuf, http\/json/,
  );
  onlyProblem({ ...ON, OTEL_EXPORTER_OTLP_PROTOCOL: 'http', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc' }, 'OTEL_EXPORTER_OTLP_PROTOCOL', /must be one of/);
});

test('an endpoint that is not an http(s) URL is a problem for the http protocols', () => {
  onlyProblem({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' }, 'OTEL_EXPORTER_OTLP_ENDPOINT', /not a valid URL/);
  onlyProblem({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'ftp://h/x' }, 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', /must be an http:\/\/ or https:\/\/ URL/);
  onlyProblem({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT', /must be an http/);
});

test('headers: valid pairs pass; each malformed one is a problem whose value hides the secrets', () => {
  enabled({ ...ON, OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer%20abc,x-tenant=a,' });
  const cases: [string, RegExp][] = [
    ['Authorization', /entry 1 is not key=value/],
    ['=secret', /entry 1 is not key=value/],
    ['x-a=1,bad key=secret', /entry 2: "bad key" is not a valid header name/],
    ['x-a=%E0%A4%A', /bad percent-encoding/],
    ['x-a=', /entry 1 \(x-a\) has an empty value/],
    ['x-a=line%0Dbreak', /control character/],
  ];
  for (const [raw, message] of cases) {
    const p = onlyProblem({ ...ON, OTEL_EXPORTER_OTLP_METRICS_HEADERS: raw }, 'OTEL_EXPORTER_OTLP_METRICS_HEADERS', message);
    assert.doesNotMatch(`${p.value} ${p.message}`, /secret|line/, `${raw}: no header value is shown`);
  }
});

test('timeout, compression and insecure variables are checked, both of each pair', () => {
  enabled({
    ...ON,
    OTEL_EXPORTER_OTLP_TIMEOUT: '2500',
    OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
    OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: 'none',
    OTEL_EXPORTER_OTLP_INSECURE: 'TRUE',
  });
  onlyProblem({ ...ON, OTEL_EXPORTER_OTLP_TIMEOUT: '10s' }, 'OTEL_EXPORTER_OTLP_TIMEOUT', /positive number of milliseconds/);
  onlyProblem({ ...ON, OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '0' }, 'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT', /positive number of milliseconds/);
  onlyProblem({ ...ON, OTEL_EXPORTER_OTLP_COMPRESSION: 'zstd' }, 'OTEL_EXPORTER_OTLP_COMPRESSION', /gzip or none/);
  onlyProblem({ ...ON, OTEL_EXPORTER_OTLP_METRICS_INSECURE: '1' }, 'OTEL_EXPORTER_OTLP_METRICS_INSECURE', /true or false/);
});

test('certificate files must be readable, and a client key comes with its certificate', () => {
  const readable: ResolveOptions = { fileReadable: (p) => (p.startsWith('/ok/') ? undefined : 'cannot be read: ENOENT') };
  enabled(
    {
      ...ON,
      OTEL_EXPORTER_OTLP_CERTIFICATE: '/ok/ca.pem',
      OTEL_EXPORTER_OTLP_CLIENT_KEY: '/ok/k.pem',
      OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE: '/ok/c.pem',
    },
    readable,
  );
  onlyProblem(
    { ...ON, OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE: '/missing/ca.pem' },
    'OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE',
    /cannot be read: ENOENT/,
    readable,
  );
  onlyProblem({ ...ON, OTEL_EXPORTER_OTLP_CLIENT_KEY: '/ok/k.pem' }, 'OTEL_EXPORTER_OTLP_CLIENT_KEY', /needs a client certificate/, readable);
  onlyProblem({ ...ON, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: '/ok/c.pem' }, 'OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE', /needs its key/, readable);
  // The real check: a directory is not a certificate file.
  onlyProblem({ ...ON, OTEL_EXPORTER_OTLP_CERTIFICATE: '/' }, 'OTEL_EXPORTER_OTLP_CERTIFICATE', /not a regular file/);
});

test('temporality preference: cumulative by default; delta and lowmemory in any case; anything else is a problem', () => {
  assert.equal(enabled(ON).temporality, 'cumulative');
  assert.equal(enabled({ ...ON, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'Delta' }).temporality, 'delta');
  assert.equal(enabled({ ...ON, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'LOWMEMORY' }).temporality, 'lowmemory');
  onlyProblem(
    { ...ON, OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'deltas' },
    'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE',
    /cumulative, delta, lowmemory/,
  );
});

test('histogram aggregation: explicit buckets by default; the exponential one in any case; anything else is a problem', () => {
  assert.equal(enabled(ON).histogramAggregation, 'explicit_bucket_histogram');
  const v = 'OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION';
  assert.equal(enabled({ ...ON, [v]: 'explicit_bucket_histogram' }).histogramAggregation, 'explicit_bucket_histogram');
  assert.equal(enabled({ ...ON, [v]: 'Base2_Exponential_Bucket_Histogram' }).histogramAggregation, 'base2_exponential_bucket_histogram');
  assert.equal(enabled({ ...ON, [v]: '  ' }).histogramAggregation, 'explicit_bucket_histogram', 'blank is unset');
  onlyProblem({ ...ON, [v]: 'exponential' }, v, /must be one of explicit_bucket_histogram, base2_exponential_bucket_histogram/);
  // Checked with the others in one pass.
  const d = resolveOtelConfig({ ...ON, [v]: 'exponential', OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'deltas' });
  assert.deepEqual(d.problems?.map((p) => p.variable).sort(), [v, 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE']);
  // Export off: not read at all.
  assert.equal(resolveOtelConfig({ [v]: 'exponential' }).enabled, false);
  assert.equal(resolveOtelConfig({ [v]: 'exponential' }).problems, undefined);
});

test('interval and timeout: defaults, explicit values, and a default timeout lowered to a short interval', () => {
  const d = enabled(ON);
  assert.deepEqual([d.intervalMs, d.timeoutMs, d.warnings], [60000, 30000, []]);
  const e = enabled({ ...ON, OTEL_METRIC_EXPORT_INTERVAL: '15000', OTEL_METRIC_EXPORT_TIMEOUT: '5000' });
  assert.deepEqual([e.intervalMs, e.timeoutMs], [15000, 5000]);
  const short = enabled({ ...ON, OTEL_METRIC_EXPORT_INTERVAL: '1000' });
  assert.deepEqual([short.intervalMs, short.timeoutMs, short.warnings], [1000, 1000, []]);
});

test('an explicit timeout longer than the interval is a problem (the SDK refuses it too)', () => {
  onlyProblem(
    { ...ON, OTEL_METRIC_EXPORT_INTERVAL: '1000', OTEL_METRIC_EXPORT_TIMEOUT: '5000' },
    'OTEL_METRIC_EXPORT_TIMEOUT',
    /must not exceed the export interval \(1000 ms/,
  );
  onlyProblem({ ...ON, OTEL_METRIC_EXPORT_TIMEOUT: '90000' }, 'OTEL_METRIC_EXPORT_TIMEOUT', /must not exceed the export interval \(60000 ms/);
});

test('a bad interval or timeout is a problem: not a number, not positive, or past the largest timer delay', () => {
  for (const bad of ['-5', '0', 'soon', '10s', '1e3'])
    onlyProblem({ ...ON, OTEL_METRIC_EXPORT_INTERVAL: bad }, 'OTEL_METRIC_EXPORT_INTERVAL', /positive number of milliseconds/);
  onlyProblem({ ...ON, OTEL_METRIC_EXPORT_INTERVAL: '360000000000' }, 'OTEL_METRIC_EXPORT_INTERVAL', /at most 2147483647 ms/);
  onlyProblem({ ...ON, OTEL_METRIC_EXPORT_TIMEOUT: 'never' }, 'OTEL_METRIC_EXPORT_TIMEOUT', /positive number of milliseconds/);
});

test('every bad variable is named in one pass', () => {
  const ps = problems({
    OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://x',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/xml',
    OTEL_EXPORTER_OTLP_HEADERS: 'broken',
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'sometimes',
    OTEL_METRIC_EXPORT_INTERVAL: 'often',
    OTEL_RESOURCE_ATTRIBUTES: 'novalue',
  });
  assert.deepEqual(ps.map((p) => p.variable).sort(), [
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    'OTEL_EXPORTER_OTLP_HEADERS',
    'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE',
    'OTEL_EXPORTER_OTLP_PROTOCOL',
    'OTEL_METRIC_EXPORT_INTERVAL',
    'OTEL_RESOURCE_ATTRIBUTES',
  ]);
});

test('resource attributes are percent-decoded; each malformed pair is reported', () => {
  const found: string[] = [];
  const a = parseResourceAttributes('deployment.environment=prod, team=net%20ops,novalue,=x,region=eu%2Cwest', (m) => found.push(m));
  assert.deepEqual(a, { 'deployment.environment': 'prod', team: 'net ops', region: 'eu,west' });
  assert.equal(found.length, 2);
  const bad: string[] = [];
  assert.deepEqual(
    parseResourceAttributes('k=%E0%A4%A', (m) => bad.push(m)),
    {},
  );
  assert.match(bad[0], /"k" has bad percent-encoding/);
  onlyProblem({ ...ON, OTEL_RESOURCE_ATTRIBUTES: 'a=1,b' }, 'OTEL_RESOURCE_ATTRIBUTES', /"b" is not key=value/);
});

test('OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES', () => {
  const base = { ...ON, OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs' };
  assert.equal(enabled(base).serviceName, 'from-attrs');
  assert.equal(enabled({ ...base, OTEL_SERVICE_NAME: 'from-name' }).serviceName, 'from-name');
  assert.equal(enabled(ON).serviceName, undefined);
});

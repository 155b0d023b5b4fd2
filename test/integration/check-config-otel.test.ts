/**
 * The OTEL_* variables of the OTLP export are configuration: through the real CLI,
 * each bad one makes `check-config` (and `run`, before it listens) exit 2 with the
 * variable named on stderr, all of them in one pass, instead of a log line at run
 * time. Needs no privileges: nothing here gets as far as probing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, tempDir, type CliResult } from '../helpers/exporter-process.js';
import { freePort, portIsFree } from '../helpers/free-port.js';

/** Export on (an endpoint), so everything that shapes it is checked. */
const ON = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };

/** [variable, bad value, what stderr must say about it, the rest of the environment]. */
const BAD: [string, string, RegExp, Record<string, string>][] = [
  ['OTEL_EXPORTER_OTLP_PROTOCOL', 'http/xml', /must be one of grpc, http\/protobuf, http\/json/, ON],
  ['OTEL_EXPORTER_OTLP_METRICS_PROTOCOL', 'udp', /must be one of/, ON],
  ['OTEL_EXPORTER_OTLP_ENDPOINT', 'not a url', /not a valid URL/, {}],
  ['OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', 'ftp://127.0.0.1/v1/metrics', /must be an http:\/\/ or https:\/\/ URL/, {}],
  ['OTEL_EXPORTER_OTLP_ENDPOINT', 'ftp://127.0.0.1:4317', /grpc protocol/, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }],
  ['OTEL_EXPORTER_OTLP_HEADERS', 'authorization=Bearer%20s3cr3t,broken', /entry 2 is not key=value/, ON],
  ['OTEL_EXPORTER_OTLP_METRICS_HEADERS', 'bad key=s3cr3t', /not a valid header name/, ON],
  ['OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE', 'sometimes', /cumulative, delta, lowmemory/, ON],
  ['OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION', 'exponential', /explicit_bucket_histogram, base2_exponential_bucket_histogram/, ON],
  ['OTEL_METRIC_EXPORT_INTERVAL', '10s', /positive number of milliseconds/, ON],
  ['OTEL_METRIC_EXPORT_TIMEOUT', '-1', /positive number of milliseconds/, ON],
  ['OTEL_METRIC_EXPORT_TIMEOUT', '5000', /must not exceed the export interval/, { ...ON, OTEL_METRIC_EXPORT_INTERVAL: '1000' }],
  ['OTEL_EXPORTER_OTLP_TIMEOUT', 'abc', /positive number of milliseconds/, ON],
  ['OTEL_EXPORTER_OTLP_COMPRESSION', 'br', /gzip or none/, ON],
  ['OTEL_EXPORTER_OTLP_INSECURE', 'yes', /true or false/, ON],
  ['OTEL_EXPORTER_OTLP_CERTIFICATE', '/nonexistent/ca.pem', /cannot be read: ENOENT/, ON],
  ['OTEL_RESOURCE_ATTRIBUTES', 'team', /"team" is not key=value/, ON],
  ['OTEL_METRICS_EXPORTER', 'console', /not supported/, ON],
  ['OTEL_SDK_DISABLED', 'maybe', /true or false/, ON],
];

function configFile(dir: ReturnType<typeof tempDir>, port = 0): string {
  return dir.file('ok.yaml', { workers: 1, web: { listen_address: `127.0.0.1:${port}` }, targets: [{ name: 'lo4', address: '127.0.0.1' }] });
}

const named = (r: CliResult, variable: string): RegExpMatchArray | null => r.stderr.match(new RegExp(`^\\s*- ${variable}: (.*)$`, 'm'));

test('check-config exits 2 and names the variable for each bad OTEL_* input', { timeout: 400_000 }, async (t) => {
  const dir = tempDir('fp-otelcheck');
  t.after(() => dir.cleanup());
  const cfg = configFile(dir);
  // A few at a time: each is a node process (the wide timeout is for a busy machine,
  // where the CLI's start alone has taken over 15 s).
  for (let i = 0; i < BAD.length; i += 3) {
    await Promise.all(
      BAD.slice(i, i + 3).map(async ([variable, value, message, rest]) => {
        const r = await runCli(['check-config', '--config', cfg], { env: { ...rest, [variable]: value }, timeoutMs: 60_000 });
        const what = `${variable}=${value}: exit ${r.code}\n${r.stderr}`;
        assert.equal(r.code, 2, what);
        const line = named(r, variable);
        assert.ok(line, `stderr names ${variable}: ${what}`);
        assert.match(line[1], message, what);
        assert.match(r.stderr, /1 problem\b/, what);
        assert.doesNotMatch(r.stderr, /s3cr3t/, 'header values are never printed');
      }),
    );
  }
});

test('every bad OTEL_* variable and FLEETPROBE_* key is named in the same one pass', { timeout: 20_000 }, async (t) => {
  const dir = tempDir('fp-otelcheck-all');
  t.after(() => dir.cleanup());
  const r = await runCli(['check-config', '--config', configFile(dir)], {
    env: {
      ...ON,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/xml',
      OTEL_METRIC_EXPORT_INTERVAL: 'often',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'br',
      FLEETPROBE_WORKERS: 'many',
    },
  });
  assert.equal(r.code, 2, r.stderr);
  for (const v of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_METRIC_EXPORT_INTERVAL', 'OTEL_EXPORTER_OTLP_COMPRESSION', 'workers'])
    assert.ok(named(r, v), `${v} named:\n${r.stderr}`);
  assert.match(r.stderr, /4 problems/);
});

test('check-config accepts a complete grpc configuration, and ignores OTEL_* shaping variables while export is off', { timeout: 20_000 }, async (t) => {
  const dir = tempDir('fp-otelcheck-ok');
  t.after(() => dir.cleanup());
  const cfg = configFile(dir);
  const grpc = await runCli(['check-config', '--config', cfg], {
    env: {
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'collector.invalid:4317',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_INSECURE: 'true',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=a,authorization=Bearer%20x',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
      OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'base2_exponential_bucket_histogram',
      OTEL_METRIC_EXPORT_INTERVAL: '15000',
      OTEL_METRIC_EXPORT_TIMEOUT: '10000',
      OTEL_RESOURCE_ATTRIBUTES: 'service.instance.id=probe-a,deployment.environment=prod',
    },
  });
  assert.equal(grpc.code, 0, grpc.stderr);
  assert.match(grpc.stdout, /ok \(1 target, 1 worker\)/);
  const off = await runCli(['check-config', '--config', cfg], {
    env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/xml', OTEL_METRICS_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' },
  });
  assert.equal(off.code, 0, off.stderr);
});

test('run with a bad OTEL_* variable exits 2 naming it, and listens on nothing', { timeout: 20_000 }, async (t) => {
  const dir = tempDir('fp-otelrun');
  t.after(() => dir.cleanup());
  const port = await freePort();
  const r = await runCli(['run', '--config', configFile(dir, port)], {
    env: { ...ON, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc-web', OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION: 'exponential' },
    timeoutMs: 15_000,
  });
  assert.equal(r.code, 2, r.stderr);
  assert.ok(named(r, 'OTEL_EXPORTER_OTLP_PROTOCOL'), r.stderr);
  assert.ok(named(r, 'OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION'), r.stderr);
  assert.doesNotMatch(r.stdout, /listening/);
  assert.equal(await portIsFree(port), true);
});

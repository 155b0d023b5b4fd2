/**
 * Two mended surfaces: GET /api/v1/targets?state=bogus is a 400 listing the valid
 * states (it used to answer an empty list, as if no target were in that state), and a
 * component's log lines carry `component` once (the OTel export repeated the key its
 * child logger already binds).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { build } from '../../src/http/app.js';
import { TARGET_API_STATES, type TargetStatus } from '../../src/http/routes/api.js';
import { createLogger } from '../../src/logger.js';
import { startOtelExport } from '../../src/metrics/otel.js';
import { TargetStore } from '../../src/aggregate/store.js';

const TARGETS: TargetStatus[] = [
  { name: 'a', kind: 'icmp', address: '127.0.0.1', state: 'ok' },
  { name: 'b', kind: 'tcp', address: 'nope', state: 'rejected', error: 'address ...', source: 't.json[1]' },
  { name: '', kind: null, address: null, state: 'rejected', error: 't2.json is empty', source: 't2.json' },
];

test('?state= filters by a known state and refuses an unknown one with the list of states', async (t) => {
  const app = await build({
    logger: false,
    telemetryPath: '/metrics',
    metrics: () => ({ headers: {}, body: Readable.from(['']) }),
    readiness: () => ({ ready: true }),
    reload: () => Promise.resolve({ status: 'reloaded', applied: true, problems: [] }),
    api: { targets: () => TARGETS, status: () => ({}) },
    limits: { maxRequests: 4, maxConnections: 100, readTimeoutMs: 5000, writeTimeoutMs: 5000, idleTimeoutMs: 5000 },
  });
  t.after(() => app.close());
  const all = await app.inject({ method: 'GET', url: '/api/v1/targets' });
  assert.equal(all.statusCode, 200);
  assert.equal(all.json<{ targets: unknown[] }>().targets.length, 3);
  const rejected = await app.inject({ method: 'GET', url: '/api/v1/targets?state=rejected' });
  assert.deepEqual(
    rejected.json<{ targets: TargetStatus[] }>().targets.map((x) => [x.name, x.kind, x.address]),
    [
      ['b', 'tcp', 'nope'],
      ['', null, null],
    ],
  );
  for (const state of TARGET_API_STATES) assert.equal((await app.inject({ method: 'GET', url: `/api/v1/targets?state=${state}` })).statusCode, 200, state);
  for (const url of ['/api/v1/targets?state=bogus', '/api/v1/targets?state=', '/api/v1/targets?state=ok&state=rejected']) {
    const r = await app.inject({ method: 'GET', url });
    assert.equal(r.statusCode, 400, url);
    assert.match(r.json<{ error: string }>().error, /^unknown state .*; valid states: ok, unresolved, rejected, pending$/, url);
  }
});

/** Top-level keys of one JSON object line, duplicates included (JSON.parse would keep only the last). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(line.slice(i, j + 1)) as string);
      expectKey = false;
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = c === '{' && depth === 1;
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
  }
  return keys;
}

test("the OTel export's lines name their component once", async () => {
  assert.deepEqual(topLevelKeys('{"a":1,"b":{"a":2},"c":"x\\"a\\":","a":3}'), ['a', 'b', 'c', 'a']);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== ''),
      );
      cb();
    },
  });
  const logger = createLogger('debug', 'fleetprobe', 'json', sink).child({ component: 'otel' });
  const store = new TargetStore({ buckets: [0.001, 0.01] });
  // An export that is off (logs at debug) and two that start (log info) and stop, both through the child.
  assert.equal(startOtelExport({ store, logger, env: { OTEL_METRICS_EXPORTER: 'none' } }), null);
  for (const env of [
    {
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
      OTEL_METRIC_EXPORT_INTERVAL: '600000',
    },
    { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://127.0.0.1:9/v1/metrics', OTEL_METRIC_EXPORT_INTERVAL: '600000' },
  ]) {
    const otel = startOtelExport({ store, logger, env });
    assert.ok(otel);
    await otel.shutdown(200);
  }
  await new Promise((r) => setImmediate(r));
  assert.ok(lines.length >= 2, lines.join('\n'));
  for (const line of lines) {
    const keys = topLevelKeys(line);
    assert.equal(keys.filter((k) => k === 'component').length, 1, line);
    assert.equal(new Set(keys).size, keys.length, `no key twice: ${line}`);
  }
});

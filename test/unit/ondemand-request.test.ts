import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { planTest, type TestLimits, type TestPlanContext, type TestProblem } from '../../src/ondemand/request.js';
import { testTarget } from '../../src/ondemand/controller.js';
import { parseTargetEntry } from '../../src/targets/spec.js';
import { toShardTarget } from '../../src/targets/registry.js';
import type { ProbeDefaults } from '../../src/targets/model.js';

function loadYaml(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'fp-ondemand-req-'));
  try {
    const file = join(dir, 'c.yaml');
    writeFileSync(file, yaml);
    return loadConfig({ argv: ['--config', file], env: {} });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const D: ProbeDefaults = loadYaml('probe_defaults: {kind: icmp, interval: 1s, timeout: 1s}\ntargets: []\n').probeDefaults;
const LIMITS: TestLimits = { maxCount: 1000, maxRate: 100, maxDurationMs: 60_000, maxHttpSize: 1 << 20 };
const cfgSpec = (entry: Record<string, unknown>) => {
  const p = parseTargetEntry(entry, 'config', D);
  assert.ok(p.ok);
  return p.spec;
};
const UDP = cfgSpec({ name: 'u1', kind: 'udp', address: '127.0.0.1:4000', interval: '5s', timeout: '2s', payload_size: 100 });
const HTTP = cfgSpec({ name: 'h1', kind: 'http', url: 'http://127.0.0.1:4001/v1/ping?x=1' });
const ctx: TestPlanContext = {
  defaults: D,
  limits: LIMITS,
  configured: (n) => {
    if (n === 'u1') return { spec: UDP, shard: toShardTarget(7, UDP, { status: 'ok', ip: '127.0.0.1', family: 4, addresses: ['127.0.0.1'] }) };
    if (n === 'h1') return { spec: HTTP, shard: toShardTarget(8, HTTP, { status: 'ok', ip: '127.0.0.1', family: 4, addresses: ['127.0.0.1'] }) };
    return undefined;
  },
};
const problems = (body: unknown): TestProblem[] => {
  const r = planTest(body, ctx);
  assert.ok(!r.ok, `expected problems for ${JSON.stringify(body)}`);
  return r.problems;
};
const keys = (body: unknown): string[] =>
  problems(body)
    .map((p) => p.key)
    .sort();

test('a configured target: its own timing unless the test sets it; rate sets the interval', () => {
  const r = planTest({ target: 'u1' }, ctx);
  assert.ok(r.ok);
  assert.equal(r.plan.target, 'u1');
  assert.equal(r.plan.count, 10);
  assert.equal(r.plan.intervalMs, 5000);
  assert.equal(r.plan.timeoutMs, 2000);
  assert.equal(r.plan.payloadSize, 100);
  const fast = planTest({ target: 'u1', rate: 50, count: 100, timeout: '1s', tags: { who: 'me' } }, ctx);
  assert.ok(fast.ok);
  assert.equal(fast.plan.intervalMs, 20);
  assert.deepEqual(fast.plan.tags, { who: 'me' });
});

test('a new address is validated like a config target, with probe_defaults', () => {
  const r = planTest({ address: '127.0.0.9', kind: 'icmp', count: 3 }, ctx);
  assert.ok(r.ok);
  assert.equal(r.plan.target, null);
  assert.equal(r.plan.spec.address, '127.0.0.9');
  assert.equal(r.plan.intervalMs, 1000);
  assert.deepEqual(keys({ address: '127.0.0.1', kind: 'tcp' }), ['address'], 'tcp needs a port');
  assert.deepEqual(keys({ kind: 'http' }), ['url']);
  assert.deepEqual(keys({ address: '127.0.0.1', kind: 'icmp', source_ports: 2 }), ['source_ports'], 'an option of another kind');
  assert.ok(planTest({ address: '127.0.0.1:9', kind: 'udp', source_ports: 2, count: 1 }, ctx).ok, 'a kind option of its own kind');
});

test('every problem at once, for both shapes', () => {
  assert.deepEqual(
    keys({ address: '127.0.0.1', kind: 'icmp', count: 0, rate: 5, size: 1, tags: { a: 1 }, name: 'x', labels: {}, bogus: 1 }),
    ['bogus', 'count', 'labels', 'name', 'rate', 'size', 'tags.a'].sort(),
  );
  assert.deepEqual(keys({ target: 'u1', address: '127.0.0.1', count: 1.5, interval: 'soon', bogus: 1 }), ['address', 'bogus', 'count', 'interval'].sort());
  assert.deepEqual(keys({ target: 'nope' }), ['target']);
  assert.deepEqual(keys([1]), ['body']);
  assert.deepEqual(keys(null), ['body']);
});

test('limits: count, rate, duration, http size; the timeout span except for udp', () => {
  assert.match(problems({ target: 'u1', count: 1001 })[0].message, /tests\.max_count \(1000\)/);
  assert.match(problems({ target: 'u1', rate: 101 })[0].message, /tests\.max_rate/);
  assert.match(problems({ address: '127.0.0.1', kind: 'icmp', interval: '5ms', timeout: '10ms' })[0].message, /above tests\.max_rate/);
  assert.match(problems({ target: 'u1', count: 1000, interval: '100ms' })[0].message, /tests\.max_duration/);
  assert.match(problems({ target: 'h1', size: (1 << 20) + 1 })[0].message, /tests\.max_http_size/);
  assert.match(problems({ target: 'u1', rate: 10, interval: '1s' })[0].message, /either rate or interval/);
  // icmp keeps at most 15 intervals in flight; udp sizes its window from the ratio.
  assert.match(problems({ address: '127.0.0.1', kind: 'icmp', interval: '10ms', timeout: '1s' })[0].message, /15 x interval/);
  assert.ok(planTest({ target: 'u1', rate: 100, timeout: '1s' }, ctx).ok, 'udp: 100 intervals in flight');
});

test('the worker target: an on-demand slot, the test timing, and ?size= for http', () => {
  const p = planTest({ target: 'h1', size: 5000, count: 2, interval: '1s' }, ctx);
  assert.ok(p.ok);
  const base = ctx.configured('h1')!.shard!;
  const t = testTarget(p.plan, base, 0xf000_0001);
  assert.equal(t.slot, 0xf000_0001);
  assert.equal(new URL(t.url!).searchParams.get('size'), '5000');
  assert.equal(new URL(t.url!).searchParams.get('x'), '1', 'the target url keeps its own query');
  assert.ok((t.options as { maxBodyBytes: number }).maxBodyBytes >= 5000);
  assert.equal(base.slot, 8, 'the configured target is not changed');
  assert.equal(base.url, 'http://127.0.0.1:4001/v1/ping?x=1');
});

test('tests.* keys: defaults, and check-config names every bad one in one pass', () => {
  const c = loadYaml('targets: []\n');
  assert.deepEqual(c.tests, { maxCount: 10_000, maxRate: 1000, maxDurationMs: 600_000, maxConcurrent: 4, resultsKept: 100, maxHttpSize: 104_857_600 });
  assert.throws(
    () => loadYaml('targets: []\ntests: {max_count: 0, max_rate: 5000, max_duration: 1ms, max_concurrent: -1, results_kept: 0, max_http_size: -5}\n'),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const named = err.problems.map((p) => p.key).sort();
      assert.deepEqual(named, ['tests.max_concurrent', 'tests.max_count', 'tests.max_duration', 'tests.max_http_size', 'tests.max_rate', 'tests.results_kept']);
      return true;
    },
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { readFdLimits } from '../../src/http/fd-limit.js';
import {
  connectionsCheckingIntervalMs,
  DEFAULT_MAX_REQUESTS,
  defaultMaxConnections,
  MAX_DEFAULT_CONNECTIONS,
  MIN_DEFAULT_CONNECTIONS,
  parseOpenFilesLimit,
} from '../../src/http/limits.js';

test('default web.max_connections: a quarter of the soft fd limit, between 16 and 1024', () => {
  assert.equal(defaultMaxConnections(1024), 256);
  assert.equal(defaultMaxConnections(2048), 512);
  assert.equal(defaultMaxConnections(4095), 1023);
  assert.equal(defaultMaxConnections(4096), 1024);
  assert.equal(defaultMaxConnections(20_000), MAX_DEFAULT_CONNECTIONS);
  assert.equal(defaultMaxConnections(1 << 20), MAX_DEFAULT_CONNECTIONS);
  assert.equal(defaultMaxConnections(Infinity), MAX_DEFAULT_CONNECTIONS);
  assert.equal(defaultMaxConnections(100), 25);
  assert.equal(defaultMaxConnections(64), MIN_DEFAULT_CONNECTIONS);
  assert.equal(defaultMaxConnections(8), MIN_DEFAULT_CONNECTIONS);
  // Unknown (no /proc) or nonsense: the fixed cap.
  for (const v of [null, 0, -5, NaN]) assert.equal(defaultMaxConnections(v), MAX_DEFAULT_CONNECTIONS, String(v));
  // Never more than a quarter of the limit once the limit is above 64.
  for (let limit = 64; limit <= 10_000; limit += 37) assert.ok(defaultMaxConnections(limit) <= limit / 4, String(limit));
});

test('the open-files line of /proc/<pid>/limits is parsed, "unlimited" included', () => {
  const text = [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max cpu time              unlimited            unlimited            seconds   ',
    'Max open files            1024                 524288               files     ',
    'Max locked memory         8388608              8388608              bytes     ',
  ].join('\n');
  assert.deepEqual(parseOpenFilesLimit(text), { soft: 1024, hard: 524288 });
  assert.deepEqual(parseOpenFilesLimit('Max open files            unlimited            unlimited            files\n'), { soft: Infinity, hard: Infinity });
  assert.equal(parseOpenFilesLimit('Max processes             63704                63704                processes\n'), null);
  assert.equal(parseOpenFilesLimit(''), null);
  assert.equal(parseOpenFilesLimit('Max open files            many                 1024                 files\n'), null);
});

test(
  'this process reads its own fd limit on Linux (Node has raised the soft limit to the hard one)',
  { skip: process.platform !== 'linux' && 'needs /proc' },
  () => {
    const l = readFdLimits();
    assert.ok(l !== null);
    assert.ok(l.soft > 0 && l.soft <= l.hard, JSON.stringify(l));
    assert.equal(l.soft, l.hard, 'node raises RLIMIT_NOFILE soft to hard at startup');
  },
);

test("Node's slowloris check runs at a quarter of the read timeout, 250 ms to 5 s", () => {
  assert.equal(connectionsCheckingIntervalMs(10_000), 2500);
  assert.equal(connectionsCheckingIntervalMs(1000), 250);
  assert.equal(connectionsCheckingIntervalMs(100), 250);
  assert.equal(connectionsCheckingIntervalMs(3_600_000), 5000);
});

function problemsOf(fn: () => unknown): ConfigError['problems'] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.problems;
  }
  assert.fail('expected a ConfigError');
}

test('web limits: defaults, and flags and environment set them', () => {
  const c = loadConfig({ argv: [], env: {} });
  assert.equal(c.web.maxRequests, DEFAULT_MAX_REQUESTS);
  assert.equal(c.web.maxConnections, defaultMaxConnections(readFdLimits()?.soft ?? null));
  assert.equal(c.web.readTimeoutMs, 10_000);
  assert.equal(c.web.writeTimeoutMs, 10_000);
  assert.equal(c.web.idleTimeoutMs, 90_000);

  const f = loadConfig({
    argv: ['--web.max-requests', '0', '--web.max-connections', '50', '--web.read-timeout', '2s', '--web.write-timeout', '500ms', '--web.idle-timeout', '1m'],
    env: {},
  });
  assert.deepEqual([f.web.maxRequests, f.web.maxConnections, f.web.readTimeoutMs, f.web.writeTimeoutMs, f.web.idleTimeoutMs], [0, 50, 2000, 500, 60_000]);
  const e = loadConfig({ argv: [], env: { FLEETPROBE_WEB_MAX_REQUESTS: '3', FLEETPROBE_WEB_WRITE_TIMEOUT: '30s' } });
  assert.equal(e.web.maxRequests, 3);
  assert.equal(e.web.writeTimeoutMs, 30_000);
});

test('web limits out of bounds are all reported in one pass', () => {
  const problems = problemsOf(() =>
    loadConfig({
      argv: [
        '--web.max-requests',
        '-1',
        '--web.max-connections',
        '2000000',
        '--web.read-timeout',
        '50ms',
        '--web.write-timeout',
        '2h',
        '--web.idle-timeout',
        '10',
      ],
      env: {},
    }),
  );
  const keys = problems.map((p) => p.key).sort();
  assert.deepEqual(keys, ['web.idle_timeout', 'web.max_connections', 'web.max_requests', 'web.read_timeout', 'web.write_timeout']);
  const why = Object.fromEntries(problems.map((p) => [p.key, p.message]));
  assert.match(why['web.max_requests'], /between 0 and 1048576/);
  assert.match(why['web.read_timeout'], /between 100ms and 1h/);
  assert.match(why['web.write_timeout'], /between 100ms and 1h/);
});

/** workers_stall_timeout and workers_heap_limit_mb: defaults, bounds, and the rule against flush_interval. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../../src/config/index.js';

function withConfig<T>(yaml: string, fn: (path: string) => T): T {
  const d = mkdtempSync(join(tmpdir(), 'fleetprobe-config-workers-'));
  try {
    const p = join(d, 'c.yaml');
    writeFileSync(p, yaml);
    return fn(p);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

function problems(yaml: string, argv: string[] = []): Map<string, string> {
  return withConfig(yaml, (p) => {
    try {
      loadConfig({ argv: ['--config', p, ...argv], env: {} });
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      return new Map(e.problems.map((x) => [x.key, x.message]));
    }
    assert.fail('expected a ConfigError');
  });
}

test('defaults: the stall timeout is auto (max(5s, 10 x flush_interval)) and the heap limit 1024 MiB', () => {
  const c = withConfig('flush_interval: 500ms\n', (p) => loadConfig({ argv: ['--config', p], env: {} }));
  assert.equal(c.workersStallTimeoutMs, 5000);
  assert.equal(c.workersHeapLimitMb, 1024);
  const slow = withConfig('flush_interval: 2s\n', (p) => loadConfig({ argv: ['--config', p], env: {} }));
  assert.equal(slow.workersStallTimeoutMs, 20_000, 'auto follows flush_interval');
});

test('explicit values, from the file, the environment and flags', () => {
  const c = withConfig('workers_stall_timeout: 90s\nworkers_heap_limit_mb: 256\n', (p) => loadConfig({ argv: ['--config', p], env: {} }));
  assert.equal(c.workersStallTimeoutMs, 90_000);
  assert.equal(c.workersHeapLimitMb, 256);
  const e = withConfig('{}\n', (p) =>
    loadConfig({ argv: ['--config', p], env: { FLEETPROBE_WORKERS_STALL_TIMEOUT: '12s', FLEETPROBE_WORKERS_HEAP_LIMIT_MB: '512' } }),
  );
  assert.equal(e.workersStallTimeoutMs, 12_000);
  assert.equal(e.workersHeapLimitMb, 512);
  const f = withConfig('{}\n', (p) => loadConfig({ argv: ['--config', p, '--workers-stall-timeout', '3s', '--workers-heap-limit-mb=128'], env: {} }));
  assert.equal(f.workersStallTimeoutMs, 3000);
  assert.equal(f.workersHeapLimitMb, 128);
});

test('out-of-bound values are named, both keys in one pass', () => {
  const m = problems('workers_stall_timeout: 500ms\nworkers_heap_limit_mb: 32\n');
  assert.match(m.get('workers_stall_timeout') ?? '', /"auto" or a duration: must be between 1s and 1h/);
  assert.match(m.get('workers_heap_limit_mb') ?? '', /between 64 and 65536/);
  assert.match(problems('workers_stall_timeout: 2h\n').get('workers_stall_timeout') ?? '', /between 1s and 1h/);
  assert.match(problems('workers_stall_timeout: 5\n').get('workers_stall_timeout') ?? '', /no unit/);
  assert.match(problems('workers_stall_timeout: never\n').get('workers_stall_timeout') ?? '', /"auto" or a duration/);
  assert.match(problems('workers_heap_limit_mb: 100000\n').get('workers_heap_limit_mb') ?? '', /between 64 and 65536/);
});

test('a stall timeout shorter than 3 flush intervals is refused: healthy workers would be replaced', () => {
  const m = problems('flush_interval: 1s\nworkers_stall_timeout: 2s\n');
  assert.match(m.get('workers_stall_timeout') ?? '', /at least 3 x flush_interval \(3000ms\)/);
  const ok = withConfig('flush_interval: 1s\nworkers_stall_timeout: 3s\n', (p) => loadConfig({ argv: ['--config', p], env: {} }));
  assert.equal(ok.workersStallTimeoutMs, 3000);
});

/**
 * metrics.group_by and metrics.group_limit: defaults, the three ways to set them, and
 * every bad value named in one pass with its reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { loadConfig, ConfigError } from '../../src/config/index.js';
import { DEFAULT_GROUP_LIMIT } from '../../src/aggregate/groups.js';

const dirs: string[] = [];
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function configFile(doc: unknown): string {
  const d = mkdtempSync(join(tmpdir(), 'fleetprobe-groupby-'));
  dirs.push(d);
  const p = join(d, 'c.yaml');
  writeFileSync(p, toYaml(doc));
  return p;
}

test('defaults: no rollups, a limit of 10,000 groups', () => {
  const c = loadConfig({ argv: [], env: {} });
  assert.deepEqual(c.metrics.groupBy, []);
  assert.equal(c.metrics.groupLimit, DEFAULT_GROUP_LIMIT);
  assert.equal(DEFAULT_GROUP_LIMIT, 10_000);
});

test('set from the file, the environment (comma list or JSON) and flags, flags winning', () => {
  const file = configFile({ metrics: { group_by: ['rack', 'pod'], group_limit: 50 } });
  let c = loadConfig({ argv: ['--config', file], env: {} });
  assert.deepEqual(c.metrics.groupBy, ['rack', 'pod']);
  assert.equal(c.metrics.groupLimit, 50);
  c = loadConfig({ argv: ['--config', file], env: { FLEETPROBE_METRICS_GROUP_BY: ' site , rack ', FLEETPROBE_METRICS_GROUP_LIMIT: '7' } });
  assert.deepEqual(c.metrics.groupBy, ['site', 'rack']);
  assert.equal(c.metrics.groupLimit, 7);
  c = loadConfig({ argv: ['--config', file, '--metrics.group-by', '["peer"]', '--metrics.group-limit', '3'], env: { FLEETPROBE_METRICS_GROUP_BY: 'site' } });
  assert.deepEqual(c.metrics.groupBy, ['peer']);
  assert.equal(c.metrics.groupLimit, 3);
  c = loadConfig({ argv: ['--metrics.group-by', ''], env: {} });
  assert.deepEqual(c.metrics.groupBy, [], 'an empty flag turns rollups off');
});

test('bad label names, a repeated one, too many and a bad limit: every key named in one pass, with its reason', () => {
  let problems: ConfigError['problems'] = [];
  try {
    loadConfig({ argv: ['--config', configFile({ metrics: { group_by: ['kind', 'target', '__x', '1bad', 'rack', 'rack', 5], group_limit: 0 } })], env: {} });
    assert.fail('expected a ConfigError');
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    problems = e.problems;
  }
  const by = new Map(problems.map((p) => [p.key, p.message]));
  assert.deepEqual([...by.keys()].sort(), [
    'metrics.group_by',
    'metrics.group_by[0]',
    'metrics.group_by[1]',
    'metrics.group_by[2]',
    'metrics.group_by[3]',
    'metrics.group_by[5]',
    'metrics.group_by[6]',
    'metrics.group_limit',
  ]);
  assert.match(by.get('metrics.group_by')!, /7 entries; at most 4/);
  assert.match(by.get('metrics.group_by[0]')!, /kind is always a label of the rollups/);
  assert.match(by.get('metrics.group_by[1]')!, /reserved by fleetprobe/);
  assert.match(by.get('metrics.group_by[2]')!, /starts with "__"/);
  assert.match(by.get('metrics.group_by[3]')!, /not a valid Prometheus label name/);
  assert.match(by.get('metrics.group_by[5]')!, /lists rack twice/);
  assert.match(by.get('metrics.group_by[6]')!, /must be a label name/);
  assert.match(by.get('metrics.group_limit')!, /between 1 and 1000000/);
});

/** history.retention / history.resolution: defaults, both ends of each bound, the rules between them. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { HISTORY_MAX_POINTS } from '../../src/config/bounds.js';

const dir = mkdtempSync(join(tmpdir(), 'fp-history-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

function load(history: Record<string, string>) {
  const p = join(dir, `c${n++}.json`);
  writeFileSync(p, JSON.stringify({ history }));
  return loadConfig({ argv: ['--config', p], env: {} });
}

function problems(history: Record<string, string>): { key: string; message: string }[] {
  try {
    load(history);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems.map((p) => ({ key: p.key, message: p.message }));
  }
  return [];
}

test('defaults: one hour in 30 s periods', () => {
  const c = loadConfig({ argv: [], env: {} });
  assert.deepEqual(c.history, { retentionMs: 3_600_000, resolutionMs: 30_000 });
});

test('0s turns the history off; flags and environment set it too', () => {
  assert.equal(load({ retention: '0s' }).history.retentionMs, 0);
  assert.equal(loadConfig({ argv: ['--history.retention', '10m', '--history.resolution', '10s'], env: {} }).history.retentionMs, 600_000);
  assert.equal(loadConfig({ argv: [], env: { FLEETPROBE_HISTORY_RESOLUTION: '1m' } }).history.resolutionMs, 60_000);
});

test('bounds: retention 0s to 24h, resolution 1s to 1h, each end exact', () => {
  assert.deepEqual(problems({ retention: '24h', resolution: '10s' }), []);
  assert.deepEqual(problems({ retention: '1h', resolution: '1h' }), []);
  assert.deepEqual(problems({ retention: '10s', resolution: '1s' }), []);
  assert.deepEqual(
    problems({ retention: '24h1s', resolution: '1s' }).map((p) => p.key),
    ['history.retention'],
  );
  assert.deepEqual(
    problems({ retention: '2h', resolution: '1h1s' }).map((p) => p.key),
    ['history.resolution'],
  );
  assert.deepEqual(
    problems({ resolution: '999ms' }).map((p) => p.key),
    ['history.resolution'],
  );
  assert.deepEqual(
    problems({ retention: '30' }).map((p) => p.key),
    ['history.retention'],
    'a bare number has no unit',
  );
});

test('retention must be a whole number of periods, at least one, at most the point cap; all problems in one pass', () => {
  assert.match(problems({ retention: '45s', resolution: '30s' })[0].message, /whole number of history\.resolution periods \(30s\)/);
  assert.match(problems({ retention: '10s', resolution: '30s' })[0].message, /0s \(off\) or at least history\.resolution/);
  assert.match(problems({ retention: '24h', resolution: '1s' })[0].message, new RegExp(`86400 periods of 1s; at most ${HISTORY_MAX_POINTS}`));
  // A bad resolution skips the rule between the two (its own problem is the one shown).
  assert.deepEqual(
    problems({ retention: '45s', resolution: '0s' }).map((p) => p.key),
    ['history.resolution'],
  );
  // Reported together with other bad keys.
  const p = join(dir, 'multi.json');
  writeFileSync(p, JSON.stringify({ workers: 0, history: { retention: '45s' } }));
  try {
    loadConfig({ argv: ['--config', p], env: {} });
    assert.fail('expected a ConfigError');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(e.problems.map((x) => x.key).sort(), ['history.retention', 'workers']);
  }
});

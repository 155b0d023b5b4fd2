/**
 * The Targets API's pure part (src/targets/api-source.ts): planning a POST (one target
 * or an all-or-nothing list, every problem of a bad body, idempotence, ?replace, the
 * api.max_targets bound), planning a DELETE, the dedupe-based refusal of names the
 * configuration or a file defines, the state file's document, and parsing the API
 * targets against the probe_defaults in effect.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { loadTargets } from '../../src/targets/sources.js';
import {
  API_SOURCE,
  ApiTargetSource,
  configConflicts,
  describeTarget,
  loadApiEntries,
  parseStateDocument,
  planAdd,
  planRemove,
  stateDocument,
  type AddPlan,
  type ApiEntry,
  type Refusal,
} from '../../src/targets/api-source.js';
import type { ProbeDefaults } from '../../src/config/types.js';

/** A config from YAML text (its file removed at once: only the parsed config is used). */
function loadYaml(yaml: string) {
  const d = mkdtempSync(join(tmpdir(), 'fp-api-unit-'));
  try {
    writeFileSync(join(d, 'c.yaml'), yaml);
    return loadConfig({ argv: ['--config', join(d, 'c.yaml')], env: {} });
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}
const D: ProbeDefaults = loadYaml('probe_defaults: {kind: icmp, interval: 1s, timeout: 1s}\ntargets: []\n').probeDefaults;
const OPTS = { replace: false, maxTargets: 100 };
const none = new Map<string, ApiEntry>();

function ok(r: AddPlan | Refusal): AddPlan {
  if (!r.ok) assert.fail(`refused: ${r.message}`);
  return r;
}
function refusal(r: AddPlan | Refusal | { ok: true }): Refusal {
  if (r.ok) assert.fail('expected a refusal');
  return r;
}

test('one target: created with every default applied, and shown as a config target with source "api"', () => {
  const p = ok(planAdd({ name: 'x', address: '127.0.0.9', labels: { rack: 'r1' }, interval: '500ms' }, none, D, OPTS));
  assert.equal(p.list, false);
  assert.equal(p.changed, true);
  assert.deepEqual(
    p.results.map((r) => [r.name, r.result]),
    [['x', 'created']],
  );
  assert.deepEqual([...p.next.keys()], ['x']);
  assert.deepEqual(describeTarget(p.results[0].spec), {
    name: 'x',
    kind: 'icmp',
    address: '127.0.0.9',
    labels: { rack: 'r1' },
    interval: '500ms',
    timeout: '1s',
    loss_window: 100,
    payload_size: 56,
    options: {},
    source: API_SOURCE,
  });
  const http = ok(planAdd({ name: 'w', kind: 'http', url: 'http://127.0.0.1:4001/v1/ping' }, none, D, OPTS));
  const shown = describeTarget(http.results[0].spec);
  assert.equal(shown.url, 'http://127.0.0.1:4001/v1/ping');
  assert.equal('address' in shown, false);
});

test('a bad body: 400 with every problem of every entry, keyed by field (and index in a list)', () => {
  const single = refusal(planAdd({ name: '', address: 'nope:1', interval: '0s', labels: { __x: 1 }, bogus: true }, none, D, OPTS));
  assert.equal(single.status, 400);
  assert.equal(single.error, 'invalid_target');
  const keys = single.problems.map((p) => p.key);
  for (const k of ['name', 'interval', 'labels', 'bogus']) assert.ok(keys.includes(k), `${k} in ${keys.join(',')}`);
  assert.ok(single.problems.length >= 5, JSON.stringify(single.problems));
  assert.match(single.message, /^\d+ problems: /);

  const list = refusal(planAdd([{ name: 'a', address: '127.0.0.1' }, { name: 'b', kind: 'nope' }, 7, { name: 'a', address: '127.0.0.2' }], none, D, OPTS));
  assert.equal(list.status, 400);
  assert.deepEqual(
    list.problems.map((p) => p.key),
    ['[1].kind', '[1].address', '[2]', '[3].name'],
  );
  assert.match(list.problems[3].message, /names the same target as \[0\]/);

  for (const body of [null, 'x', 42, true, undefined]) {
    const r = refusal(planAdd(body, none, D, OPTS));
    assert.equal(r.status, 400);
    assert.deepEqual(
      r.problems.map((p) => p.key),
      ['body'],
    );
  }
  assert.match(refusal(planAdd([], none, D, OPTS)).problems[0].message, /no target/);
});

test('a list is all or nothing: one bad entry adds none', () => {
  const r = planAdd(
    [
      { name: 'a', address: '127.0.0.1' },
      { name: 'b', address: '127.0.0.1', timeout: '20s', interval: '1s' },
    ],
    none,
    D,
    OPTS,
  );
  const x = refusal(r);
  assert.deepEqual(
    x.problems.map((p) => p.key),
    ['[1].timeout'],
  );
  assert.ok(!('next' in x));
});

test('posting again: identical is unchanged (even written differently), different is 409 unless ?replace', () => {
  const first = ok(planAdd({ name: 'x', address: '127.0.0.9', interval: '1s' }, none, D, OPTS));
  const cur = first.next;
  const same = ok(planAdd({ address: '127.0.0.9', name: 'x', interval: '1000ms' }, cur, D, OPTS));
  assert.deepEqual(
    same.results.map((r) => r.result),
    ['unchanged'],
  );
  assert.equal(same.changed, false);
  assert.deepEqual(same.next.get('x'), { name: 'x', address: '127.0.0.9', interval: '1s' }, 'keeps the entry as first posted');

  const other = refusal(planAdd({ name: 'x', address: '127.0.0.10' }, cur, D, OPTS));
  assert.equal(other.status, 409);
  assert.equal(other.error, 'target_exists');
  assert.match(other.problems[0].message, /\?replace=1/);

  const replaced = ok(planAdd({ name: 'x', address: '127.0.0.10' }, cur, D, { ...OPTS, replace: true }));
  assert.deepEqual(
    replaced.results.map((r) => r.result),
    ['replaced'],
  );
  assert.deepEqual(replaced.next.get('x'), { name: 'x', address: '127.0.0.10' });

  // Order is kept: a replaced target stays where it was, new ones go last.
  const two = ok(planAdd([{ name: 'y', address: '127.0.0.11' }], cur, D, OPTS)).next;
  const mixed = ok(
    planAdd(
      [
        { name: 'z', address: '127.0.0.12' },
        { name: 'x', address: '127.0.0.13' },
        { name: 'y', address: '127.0.0.11' },
      ],
      two,
      D,
      { ...OPTS, replace: true },
    ),
  );
  assert.deepEqual(
    mixed.results.map((r) => r.result),
    ['created', 'replaced', 'unchanged'],
  );
  assert.deepEqual([...mixed.next.keys()], ['x', 'y', 'z']);
});

test('api.max_targets bounds what the API holds; 0 turns adding off', () => {
  let cur: Map<string, ApiEntry> = new Map();
  cur = ok(
    planAdd(
      [
        { name: 'a', address: '127.0.0.1' },
        { name: 'b', address: '127.0.0.2' },
      ],
      cur,
      D,
      { ...OPTS, maxTargets: 3 },
    ),
  ).next;
  const over = refusal(
    planAdd(
      [
        { name: 'c', address: '127.0.0.3' },
        { name: 'd', address: '127.0.0.4' },
      ],
      cur,
      D,
      { ...OPTS, maxTargets: 3 },
    ),
  );
  assert.equal(over.status, 409);
  assert.equal(over.error, 'too_many_targets');
  assert.match(over.message, /api\.max_targets \(3\) would be exceeded: 2 API targets exist and this request adds 2/);
  // Unchanged and replaced targets do not count as new.
  ok(
    planAdd(
      [
        { name: 'a', address: '127.0.0.9' },
        { name: 'b', address: '127.0.0.2' },
        { name: 'c', address: '127.0.0.3' },
      ],
      cur,
      D,
      { replace: true, maxTargets: 3 },
    ),
  );
  const off = refusal(planAdd({ name: 'q', address: '127.0.0.1' }, none, D, { ...OPTS, maxTargets: 0 }));
  assert.equal(off.error, 'too_many_targets');
});

test('DELETE: an API target is removed; a configured one is 409 naming its source; anything else 404', () => {
  const cur = ok(
    planAdd(
      [
        { name: 'a', address: '127.0.0.1' },
        { name: 'b/c', address: '127.0.0.2' },
      ],
      none,
      D,
      OPTS,
    ),
  ).next;
  const definedBy = (n: string) => (n === 'cfg' ? 'c.yaml targets[0]' : null);
  const removed = planRemove('b/c', cur, definedBy);
  assert.ok(removed.ok);
  assert.deepEqual([...removed.next.keys()], ['a']);
  assert.deepEqual([...cur.keys()], ['a', 'b/c'], 'the current map is not changed');
  const cfg = refusal(planRemove('cfg', cur, definedBy));
  assert.equal(cfg.status, 409);
  assert.match(cfg.problems[0].message, /defined by c\.yaml targets\[0\]/);
  assert.equal(refusal(planRemove('zz', cur, definedBy)).status, 404);
  assert.equal(refusal(planRemove('', cur, definedBy)).status, 400);
});

test('names of the configuration, mesh or files win over the API (same dedupe as every source): 409 for the posted ones', async () => {
  const cfg = loadYaml('probe_defaults: {kind: icmp}\ntargets: [{name: cfg, address: 127.0.0.1}]\n');
  const entries = ok(
    planAdd(
      [
        { name: 'cfg', address: '127.0.0.2' },
        { name: 'new', address: '127.0.0.3' },
      ],
      none,
      cfg.probeDefaults,
      OPTS,
    ),
  ).next;
  const set = await loadTargets(cfg, { api: loadApiEntries(entries, cfg.probeDefaults), files: [] });
  assert.deepEqual(
    set.targets.map((t) => [t.name, t.source === API_SOURCE]),
    [
      ['cfg', false],
      ['new', true],
    ],
  );
  const c = configConflicts(new Set(['cfg', 'new']), set.rejected);
  assert.ok(c);
  assert.equal(c.status, 409);
  assert.equal(c.error, 'defined_by_config');
  assert.match(c.problems[0].message, /already defined at .*targets\[0\].*cannot replace/);
  assert.equal(configConflicts(new Set(['new']), set.rejected), null, 'only posted names are refused');
});

test('API targets follow probe_defaults: parsed against the defaults in effect; an entry they make invalid is rejected, not lost', () => {
  const entries = new Map<string, ApiEntry>([
    ['a', { name: 'a', address: '127.0.0.1' }],
    ['b', { name: 'b', address: '127.0.0.2', interval: '100ms' }],
  ]);
  const before = loadApiEntries(entries, D);
  assert.deepEqual(
    before.targets.map((t) => [t.name, t.timeoutMs]),
    [
      ['a', 1000],
      ['b', 1000],
    ],
  );
  const slow = loadYaml('probe_defaults: {kind: icmp, interval: 10s, timeout: 5s}\n').probeDefaults;
  const after = loadApiEntries(entries, slow);
  assert.deepEqual(
    after.targets.map((t) => [t.name, t.timeoutMs]),
    [['a', 5000]],
  );
  assert.equal(after.rejected.length, 1);
  assert.equal(after.rejected[0].name, 'b');
  assert.equal(after.rejected[0].source, API_SOURCE);
  assert.equal(after.rejected[0].kind, 'icmp');
  assert.equal(after.rejected[0].address, '127.0.0.2');
  assert.match(after.rejected[0].reason, /at most 15 x interval/);

  const src = new ApiTargetSource();
  src.commit(entries);
  assert.equal(src.load(D), src.load(D), 'cached per defaults and entries');
  assert.notEqual(src.load(slow), before);
  src.commit(new Map());
  assert.equal(src.load(slow).targets.length, 0);
});

test('the state document round-trips; a malformed one names every structural problem', () => {
  const entries = new Map<string, ApiEntry>([
    ['a', { name: 'a', address: '127.0.0.1', labels: { r: '1' } }],
    ['b', { name: 'b', kind: 'tcp', address: '127.0.0.1:4000' }],
  ]);
  const doc = JSON.parse(JSON.stringify(stateDocument(entries))) as unknown;
  const back = parseStateDocument(doc);
  assert.ok(back.ok);
  assert.deepEqual([...back.entries], [...entries]);

  const bad = parseStateDocument({ version: 2, extra: 1, targets: [{ name: 'x' }, 5, { name: '' }, { name: 'x' }, { address: 'y' }] });
  assert.ok(!bad.ok);
  assert.equal(bad.problems.length, 6, bad.problems.join(' | '));
  for (const re of [
    /version is 2/,
    /unknown field "extra"/,
    /targets\[1\] must be a target object/,
    /targets\[2\]\.name/,
    /targets\[3\]\.name: "x" appears twice/,
    /targets\[4\]\.name/,
  ]) {
    assert.ok(
      bad.problems.some((p) => re.test(p)),
      `${re} in ${bad.problems.join(' | ')}`,
    );
  }
  for (const d of [null, [], 'x', { version: 1 }, { version: 1, targets: {} }]) assert.equal(parseStateDocument(d).ok, false, JSON.stringify(d));
  assert.ok(parseStateDocument({ version: 1, targets: [] }).ok);
});

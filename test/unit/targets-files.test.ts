import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTargetDocument, loadTargetFile, isFileSd } from '../../src/targets/files.js';
import { dedupeTargets, loadTargets } from '../../src/targets/sources.js';
import { loadConfig } from '../../src/config/load.js';
import type { RejectedTarget } from '../../src/targets/files.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { optionsOf } from '../../src/kinds/index.js';

function setup(files: Record<string, string>, configYaml: string) {
  const d = makeTempDir('fleetprobe-targets').path;
  for (const [n, t] of Object.entries(files)) writeFileSync(join(d, n), t);
  writeFileSync(join(d, 'c.yaml'), configYaml);
  return loadConfig({ argv: ['--config', join(d, 'c.yaml')], env: {} });
}
const defaults = () => loadConfig({ argv: [], env: {} }).probeDefaults;

test('tcp_ping_prometheus format: name+address entries; host:port without kind means tcp_echo', () => {
  const r = parseTargetDocument(
    [
      { name: 'e1', address: '127.0.0.1:4000' },
      { name: 'i1', address: '127.0.0.2', labels: { rack: 'r1' }, interval: '2s' },
      { name: 'u1', kind: 'udp', address: '[::1]:4000', source_ports: 2 },
    ],
    'targets.json',
    defaults(),
  );
  assert.deepEqual(r.rejected, []);
  assert.deepEqual(
    r.targets.map((t) => [t.name, t.kind, t.source]),
    [
      ['e1', 'tcp_echo', 'targets.json[0]'],
      ['i1', 'icmp', 'targets.json[1]'],
      ['u1', 'udp', 'targets.json[2]'],
    ],
  );
  assert.equal(r.targets[1].intervalMs, 2000);
  assert.deepEqual(r.targets[1].labels, { rack: 'r1' });
  assert.equal(optionsOf(r.targets[2].options, 'udp').sourcePorts, 2);
});

test('bad entries of a target file are rejected one by one with index, name and every reason; the rest load', () => {
  const r = parseTargetDocument(
    [
      { name: 'ok', address: '127.0.0.1' },
      { name: 'bad-addr', address: '127.0.0.1:99999' },
      { name: 'bad-two', address: 'not a host', interval: 5 },
      'just a string',
      { address: '127.0.0.3' },
      { name: 'ok2', address: '127.0.0.4' },
    ],
    'f.json',
    defaults(),
  );
  assert.deepEqual(
    r.targets.map((t) => t.name),
    ['ok', 'ok2'],
  );
  assert.deepEqual(
    r.rejected.map((x) => [x.source, x.name]),
    [
      ['f.json[1]', 'bad-addr'],
      ['f.json[2]', 'bad-two'],
      ['f.json[3]', undefined],
      ['f.json[4]', undefined],
    ],
  );
  assert.match(r.rejected[1].reason, /address.*; interval.*no unit/);
});

test('file_sd format: one target per string, URL means http, __kind__/__name__/__interval__, __meta_* dropped', () => {
  const doc = [
    { targets: ['127.0.0.6', '127.0.0.7'], labels: { zone: 'z1', __meta_x: 'drop', __address__: 'drop' } },
    { targets: ['127.0.0.1:4000'], labels: { __kind__: 'tcp', __name__: 'sd-tcp', __interval__: '2s', __timeout__: '500ms' } },
    { targets: ['http://127.0.0.1:4001/v1/ping'] },
    { targets: ['127.0.0.1:4000'], labels: {} },
  ];
  assert.equal(isFileSd(doc), true);
  const r = parseTargetDocument(doc, 'sd.yaml', defaults());
  assert.deepEqual(r.rejected, []);
  assert.deepEqual(
    r.targets.map((t) => [t.name, t.kind, t.address, t.source]),
    [
      ['127.0.0.6', 'icmp', '127.0.0.6', 'sd.yaml[0].targets[0]'],
      ['127.0.0.7', 'icmp', '127.0.0.7', 'sd.yaml[0].targets[1]'],
      ['sd-tcp', 'tcp', '127.0.0.1:4000', 'sd.yaml[1].targets[0]'],
      ['http://127.0.0.1:4001/v1/ping', 'http', '127.0.0.1:4001', 'sd.yaml[2].targets[0]'],
      ['127.0.0.1:4000', 'tcp_echo', '127.0.0.1:4000', 'sd.yaml[3].targets[0]'],
    ],
  );
  assert.deepEqual(r.targets[0].labels, { zone: 'z1' });
  assert.equal(r.targets[2].intervalMs, 2000);
  assert.equal(r.targets[2].timeoutMs, 500);
  assert.equal(r.targets[3].url, 'http://127.0.0.1:4001/v1/ping');
});

test('file_sd bad groups and strings are rejected individually', () => {
  const r = parseTargetDocument(
    [
      { targets: ['127.0.0.1', 7, 'bad host!'] },
      { targets: ['127.0.0.2', '127.0.0.3'], labels: { __name__: 'same' } },
      { targets: ['127.0.0.4'], labels: { 'bad-label': 'x' } },
      { targets: ['127.0.0.5'], labels: 'nope' },
    ],
    'sd.json',
    defaults(),
  );
  assert.deepEqual(
    r.targets.map((t) => t.name),
    ['127.0.0.1'],
  );
  assert.deepEqual(
    r.rejected.map((x) => x.source),
    ['sd.json[0].targets[1]', 'sd.json[0].targets[2]', 'sd.json[1].targets[0]', 'sd.json[1].targets[1]', 'sd.json[2].targets[0]', 'sd.json[3]'],
  );
});

test('a file that is not a list, unreadable or unparsable is one rejection, not a throw', async () => {
  assert.equal(parseTargetDocument({ a: 1 }, 'x.json', defaults()).rejected.length, 1);
  assert.deepEqual(parseTargetDocument(null, 'empty.yaml', defaults()), { targets: [], rejected: [] });
  const d = makeTempDir('fleetprobe-tf').path;
  writeFileSync(join(d, 'broken.json'), '[{"name": ');
  const broken = await loadTargetFile(join(d, 'broken.json'), defaults());
  assert.equal(broken.rejected.length, 1);
  assert.match(broken.rejected[0].reason, /not valid JSON/);
  const missing = await loadTargetFile(join(d, 'missing.json'), defaults());
  assert.match(missing.rejected[0].reason, /cannot be read/);
});

test('duplicate names across sources: the first wins, the later is rejected naming both sources', async () => {
  const config = setup(
    {
      'a.json': JSON.stringify([
        { name: 'x', address: '127.0.0.2' },
        { name: 'y', address: '127.0.0.3' },
      ]),
      'b.yaml': '- targets: ["127.0.0.9"]\n  labels: { __name__: y }\n',
    },
    'targets: [ { name: x, address: 127.0.0.1 } ]\ntarget_files: [a.json, b.yaml]\n',
  );
  const set = await loadTargets(config, { ownAddresses: new Set() });
  assert.deepEqual(
    set.targets.map((t) => [t.name, t.address]),
    [
      ['x', '127.0.0.1'],
      ['y', '127.0.0.3'],
    ],
  );
  assert.equal(set.rejected.length, 2);
  assert.match(set.rejected[0].reason, /duplicate target name "x": already defined at .*c\.yaml targets\[0\]/);
  assert.match(set.rejected[0].source, /a\.json\[0\]$/);
  assert.match(set.rejected[1].source, /b\.yaml\[0\]\.targets\[0\]$/);
  assert.match(set.rejected[1].reason, /a\.json\[1\]/);
});

test('dedupeTargets keeps order and is a no-op without duplicates', () => {
  const rejected: RejectedTarget[] = [];
  const d = defaults();
  const specs = ['a', 'b', 'c'].map((name, i) => ({
    name,
    kind: 'icmp' as const,
    address: `127.0.0.${i + 1}`,
    labels: {},
    intervalMs: d.intervalMs,
    timeoutMs: d.timeoutMs,
    payloadSize: 56,
    lossWindow: 100,
    options: { kind: 'icmp' as const },
    source: `s${i}`,
  }));
  assert.deepEqual(dedupeTargets(specs, rejected), specs);
  assert.deepEqual(rejected, []);
});

test('instance sharding: each instance keeps a disjoint part, together all targets', async () => {
  const list = Array.from({ length: 300 }, (_, i) => ({ name: `t${i}`, address: `127.0.${i >> 8}.${i & 255 || 1}` }));
  const d = makeTempDir('fleetprobe-shard').path;
  writeFileSync(join(d, 't.json'), JSON.stringify(list));
  writeFileSync(join(d, 'c.yaml'), 'target_files: [t.json]\n');
  const seen = new Set<string>();
  for (let index = 0; index < 3; index++) {
    const c = loadConfig({ argv: ['--config', join(d, 'c.yaml'), '--shard.index', String(index), '--shard.count', '3'], env: {} });
    const set = await loadTargets(c, { ownAddresses: new Set() });
    assert.equal(set.targets.length + set.notOwned, 300);
    assert.ok(set.targets.length > 60 && set.targets.length < 140, `instance ${index}: ${set.targets.length}`);
    for (const t of set.targets) {
      assert.equal(seen.has(t.name), false);
      seen.add(t.name);
    }
  }
  assert.equal(seen.size, 300);
});

test('a target file whose read fails keeps its last good targets, says so, and takes the new content once it reads well', async () => {
  const d = makeTempDir('fleetprobe-lastgood').path;
  const file = join(d, 't.json');
  writeFileSync(join(d, 'c.yaml'), 'targets: [ { name: inl, address: 127.0.0.1 } ]\ntarget_files: [t.json]\n');
  const config = () => loadConfig({ argv: ['--config', join(d, 'c.yaml')], env: {} });
  let clock = 1_000_000;
  const now = () => clock;

  writeFileSync(
    file,
    JSON.stringify([
      { name: 'f1', address: '127.0.0.2' },
      { name: 'f2', address: '127.0.0.3' },
      { name: 'bad', address: 'x..y' },
    ]),
  );
  const first = await loadTargets(config(), { ownAddresses: new Set(), now });
  assert.deepEqual(
    first.targets.map((t) => t.name),
    ['inl', 'f1', 'f2'],
  );
  assert.deepEqual(
    first.files.map((f) => [f.ok, f.stale, f.error, f.lastSuccessAt]),
    [[true, false, null, 1_000_000]],
  );
  assert.equal(first.rejected.length, 1, 'the bad entry');

  // A generator rewriting the file in place leaves it truncated for a moment.
  clock += 5000;
  writeFileSync(file, '[{"name": "f1", "address": "127.0.0.2"}, {"na');
  const truncated = await loadTargets(config(), { ownAddresses: new Set(), previousFiles: first.files, now });
  assert.deepEqual(
    truncated.targets.map((t) => t.name),
    ['inl', 'f1', 'f2'],
    'the last good targets stay',
  );
  const f = truncated.files[0];
  assert.deepEqual([f.ok, f.stale, f.lastSuccessAt], [false, true, 1_000_000]);
  assert.match(f.error!, /t\.json is not valid JSON/);
  assert.equal(truncated.rejected.length, 2, 'the file failure and the kept bad entry');
  assert.match(
    truncated.rejected.map((r) => r.reason).join('\n'),
    /not valid JSON.*keeping its 2 targets of the last good read \(read 1970-01-01T00:16:40\.000Z\)/,
  );

  // Still failing (empty: truncate-then-write), still the same last good read.
  writeFileSync(file, '');
  const empty = await loadTargets(config(), { ownAddresses: new Set(), previousFiles: truncated.files, now });
  assert.deepEqual(
    empty.targets.map((t) => t.name),
    ['inl', 'f1', 'f2'],
  );
  assert.equal(empty.files[0].stale, true);
  assert.match(empty.files[0].error!, /not valid JSON|empty/);

  // Good again: the new content replaces the old.
  clock += 5000;
  writeFileSync(file, JSON.stringify([{ name: 'f3', address: '127.0.0.4' }]));
  const fixed = await loadTargets(config(), { ownAddresses: new Set(), previousFiles: empty.files, now });
  assert.deepEqual(
    fixed.targets.map((t) => t.name),
    ['inl', 'f3'],
  );
  assert.deepEqual(
    fixed.files.map((x) => [x.ok, x.stale, x.error, x.lastSuccessAt]),
    [[true, false, null, 1_010_000]],
  );
  assert.equal(fixed.rejected.length, 0);

  // "[]" is a good read of no targets (unlike an empty file).
  writeFileSync(file, '[]');
  const none = await loadTargets(config(), { ownAddresses: new Set(), previousFiles: fixed.files, now });
  assert.deepEqual(
    none.targets.map((t) => t.name),
    ['inl'],
  );
  assert.equal(none.files[0].ok, true);
});

test('a target file that fails at its first read has no targets and is reported; an empty YAML file is a failed read', async () => {
  const d = makeTempDir('fleetprobe-firstread').path;
  writeFileSync(join(d, 'empty.yaml'), '# nothing yet\n');
  writeFileSync(join(d, 'obj.json'), '{"targets": []}');
  writeFileSync(join(d, 'c.yaml'), 'target_files: [missing.json, empty.yaml, obj.json]\n');
  const set = await loadTargets(loadConfig({ argv: ['--config', join(d, 'c.yaml')], env: {} }), { ownAddresses: new Set() });
  assert.deepEqual(set.targets, []);
  assert.deepEqual(
    set.files.map((f) => [f.ok, f.stale, f.load]),
    [
      [false, false, null],
      [false, false, null],
      [false, false, null],
    ],
  );
  const reasons = set.rejected.map((r) => r.reason);
  assert.match(reasons[0], /missing\.json cannot be read: ENOENT/);
  assert.match(reasons[1], /empty\.yaml is empty \(write \[\] for a file with no targets\)/);
  assert.match(reasons[2], /obj\.json must be a list/);
});

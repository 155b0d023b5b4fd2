/**
 * api.state_file on a real file system: written atomically (no temporary file left,
 * the old file intact when a write fails, mode 0600), read back as written; a missing
 * file is an empty set; a corrupt, malformed or unreadable one, or a directory that is
 * missing, is an error that says what is wrong.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStateFile, stateText, writeStateFile } from '../../src/targets/state-file.js';
import type { ApiEntry } from '../../src/targets/api-source.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const entries = (n: number): Map<string, ApiEntry> =>
  new Map(Array.from({ length: n }, (_, i) => [`t${i}`, { name: `t${i}`, address: `127.0.0.${i + 1}`, labels: { i: String(i) } }]));

test('write then read gives the same entries in order; one target per line; no temporary file left; mode 0600', async (t) => {
  const dir = makeTempDir('fp-state');
  t.after(() => dir.remove());
  const path = join(dir.path, 'api-targets.json');
  await writeStateFile(path, entries(3));
  const r = await readStateFile(path);
  assert.ok(r.ok);
  assert.equal(r.found, true);
  assert.deepEqual([...r.entries], [...entries(3)]);
  const text = readFileSync(path, 'utf8');
  assert.equal(text, stateText(entries(3)));
  assert.equal(text.split('\n').filter((l) => l.trim().startsWith('{"name"')).length, 3);
  assert.deepEqual(readdirSync(dir.path), ['api-targets.json']);
  assert.equal(statSync(path).mode & 0o777, 0o600);

  // Overwrite with fewer, then with none: each read gives exactly what was written.
  await writeStateFile(path, entries(1));
  const one = await readStateFile(path);
  assert.ok(one.ok && one.entries.size === 1);
  await writeStateFile(path, new Map());
  const zero = await readStateFile(path);
  assert.ok(zero.ok && zero.entries.size === 0);
  assert.deepEqual(readdirSync(dir.path), ['api-targets.json']);
});

test('a write that fails leaves the old file as it was and no temporary file', async (t) => {
  const dir = makeTempDir('fp-state');
  t.after(() => dir.remove());
  const path = join(dir.path, 'state.json');
  await writeStateFile(path, entries(2));
  const before = readFileSync(path, 'utf8');
  // The rename fails: the target path is now a non-empty directory.
  rmSync(path);
  mkdirSync(path);
  writeFileSync(join(path, 'x'), '');
  await assert.rejects(writeStateFile(path, entries(5)));
  assert.deepEqual(readdirSync(dir.path).sort(), ['state.json']);
  rmSync(path, { recursive: true });
  writeFileSync(path, before);
  // The directory is gone: open fails before anything is written.
  await assert.rejects(writeStateFile(join(dir.path, 'missing', 'state.json'), entries(1)), /ENOENT/);
  assert.equal(readFileSync(path, 'utf8'), before);
});

test('reading: missing is empty; corrupt, malformed, unreadable or without its directory is an error saying why', async (t) => {
  const dir = makeTempDir('fp-state');
  t.after(() => dir.remove());
  const path = join(dir.path, 'state.json');
  const missing = await readStateFile(path);
  assert.ok(missing.ok);
  assert.equal(missing.found, false);
  assert.equal(missing.entries.size, 0);

  const cases: Array<[string, RegExp]> = [
    ['{"version":1,"targets":[{"name":"x"', /is not valid JSON .*fix or remove it/],
    ['', /is not valid JSON/],
    ['[]', /must be an object/],
    ['{"version":1,"targets":[{"name":"a"},{"name":"a"}]}', /targets\[1\]\.name: "a" appears twice/],
    ['{"version":9,"targets":[]}', /version is 9/],
  ];
  for (const [text, re] of cases) {
    writeFileSync(path, text);
    const r = await readStateFile(path);
    assert.equal(r.ok, false, text);
    if (!r.ok) {
      assert.match(r.message, re, text);
      assert.ok(r.message.includes(path), r.message);
    }
  }

  const noDir = await readStateFile(join(dir.path, 'nope', 'state.json'));
  assert.ok(!noDir.ok);
  assert.match(noDir.message, /its directory .*nope cannot be written: ENOENT/);

  // A directory where the file should be: cannot be read.
  const asDir = join(dir.path, 'd.json');
  mkdirSync(asDir);
  const isDir = await readStateFile(asDir);
  assert.ok(!isDir.ok);
  assert.match(isDir.message, /cannot read .*d\.json: EISDIR/);

  if (process.getuid?.() !== 0) {
    writeFileSync(path, '{"version":1,"targets":[]}');
    chmodSync(path, 0);
    const unreadable = await readStateFile(path);
    assert.ok(!unreadable.ok);
    assert.match(unreadable.message, /EACCES/);
  }
});

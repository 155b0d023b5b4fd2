/**
 * FileWatcher on the real file system (a temp dir): in-place writes, a rename over the
 * file, a Kubernetes-style symlink swap, deletion, bursts reported once, a file
 * rewritten without pause still reported, other files in the directory ignored, and
 * the periodic stat alone (fs.watch off) finding a change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileWatcher, fileIdentity, type FileWatcherOptions } from '../../src/targets/file-watch.js';
import { sleep, tempDir, waitFor } from '../helpers/exporter-process.js';

function watcher(paths: string[], opts: Partial<FileWatcherOptions> = {}): { w: FileWatcher; reports: string[][] } {
  const reports: string[][] = [];
  const w = new FileWatcher({ debounceMs: 100, maxDelayMs: 1000, checkIntervalMs: 60_000, onChange: (p) => reports.push(p), ...opts });
  w.setPaths(paths);
  return { w, reports };
}

test('an in-place rewrite in several steps is reported once, after the burst', async (t) => {
  const dir = tempDir('fp-watch');
  const file = dir.file('targets.json', '[]');
  const other = dir.file('other.json', '[]');
  // A debounce far longer than the pauses below, so a loaded machine cannot split the burst.
  const { w, reports } = watcher([file], { debounceMs: 1000, maxDelayMs: 5000 });
  t.after(() => {
    w.close();
    dir.cleanup();
  });
  // What a generator does: truncate, then write in pieces, pausing between them (each
  // piece its own event; without the debounce, each pause would give a report).
  writeFileSync(file, '');
  for (const piece of ['[{"name": "a",', ' "address": "127.0.0.1"}', ']']) {
    await sleep(50);
    appendFileSync(file, piece);
  }
  await waitFor('a report', () => reports.length > 0, 8000, 20);
  await sleep(1500); // a second report would have come by now
  assert.deepEqual(reports, [[file]]);
  // Another file in the same directory is no change of ours.
  writeFileSync(other, '[1]');
  await sleep(1500);
  assert.equal(reports.length, 1, 'a write to another file is not reported');
});

test('a rename over the file, a deletion and a re-creation are each reported', async (t) => {
  const dir = tempDir('fp-watch-rename');
  const file = dir.file('targets.json', '[]');
  const { w, reports } = watcher([file]);
  t.after(() => {
    w.close();
    dir.cleanup();
  });
  const tmp = dir.file('.targets.json.tmp', '[{"name":"b","address":"127.0.0.2"}]');
  renameSync(tmp, file);
  await waitFor('the rename', () => reports.length === 1, 5000, 20);
  unlinkSync(file);
  await waitFor('the deletion', () => reports.length === 2, 5000, 20);
  assert.match(fileIdentity(file), /^error:ENOENT$/);
  writeFileSync(file, '[]');
  await waitFor('the re-creation', () => reports.length === 3, 5000, 20);
  assert.deepEqual(reports, [[file], [file], [file]]);
});

test('a ConfigMap-style swap of a ..data symlink is reported for the file that points through it', async (t) => {
  const dir = tempDir('fp-watch-cm');
  // kubelet's layout: targets.json -> ..data/targets.json, ..data -> ..v1 (a timestamped dir).
  mkdirSync(join(dir.path, '..v1'));
  writeFileSync(join(dir.path, '..v1', 'targets.json'), '[]');
  symlinkSync('..v1', join(dir.path, '..data'));
  const file = join(dir.path, 'targets.json');
  symlinkSync('..data/targets.json', file);
  const { w, reports } = watcher([file]);
  t.after(() => {
    w.close();
    dir.cleanup();
  });
  mkdirSync(join(dir.path, '..v2'));
  writeFileSync(join(dir.path, '..v2', 'targets.json'), '[{"name":"c","address":"127.0.0.3"}]');
  symlinkSync('..v2', join(dir.path, '..data_tmp'));
  renameSync(join(dir.path, '..data_tmp'), join(dir.path, '..data'));
  rmSync(join(dir.path, '..v1'), { recursive: true });
  await waitFor('the swap', () => reports.length > 0, 5000, 20);
  assert.deepEqual(reports[0], [file]);
});

test('a file rewritten without pause is still reported (maxDelay), not starved by the debounce', async (t) => {
  const dir = tempDir('fp-watch-busy');
  const file = dir.file('targets.json', '[]');
  const { w, reports } = watcher([file], { debounceMs: 300, maxDelayMs: 600 });
  t.after(() => {
    w.close();
    dir.cleanup();
  });
  // 2 s of writes every 50 ms: never 300 ms of quiet.
  for (let i = 0; i < 40 && reports.length === 0; i++) {
    writeFileSync(file, `[] ${' '.repeat(i)}`);
    await sleep(50);
  }
  assert.ok(reports.length > 0, 'reported while the writes went on');
});

test('with fs.watch off, the periodic stat alone finds a change (and only a change)', async (t) => {
  const dir = tempDir('fp-watch-poll');
  const file = dir.file('targets.json', '[]');
  const { w, reports } = watcher([file], { fsWatch: false, checkIntervalMs: 100 });
  t.after(() => {
    w.close();
    dir.cleanup();
  });
  await sleep(400);
  assert.equal(reports.length, 0, 'nothing changed: nothing reported');
  writeFileSync(file, '[{"name":"d","address":"127.0.0.4"}]');
  await waitFor('the periodic check to see it', () => reports.length > 0, 5000, 20);
  assert.deepEqual(reports, [[file]]);
  // setPaths keeps the identity of a file watched already: a change made before it is not lost.
  writeFileSync(file, '[]      ');
  w.setPaths([file, dir.file('more.json', '[]')]);
  await waitFor('the change made before setPaths', () => reports.length > 1, 5000, 20);
  assert.deepEqual(reports[1], [file]);
});

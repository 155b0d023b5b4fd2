/**
 * Target files of any size the memory allows load (F3: one file of 125,000 entries or
 * more threw RangeError / "Maximum call stack size exceeded" while loading, because a
 * file's targets were spread into push()). 500,000 loopback entries go through
 * `check-config`, and through the whole control-plane path a reload takes (sources,
 * dedupe, resolution, registry slots, partition by worker); a 150,000-peer mesh file
 * and a 200,000-target file_sd group load too. Nothing is probed here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers/exporter-process.js';
import { loopback, writeBigTargetFile } from '../helpers/big-target-file.js';
import { loadConfig } from '../../src/config/index.js';
import { loadTargets } from '../../src/targets/sources.js';
import { Resolver } from '../../src/targets/resolve.js';
import { TargetRegistry } from '../../src/targets/registry.js';
import { partitionByWorker } from '../../src/targets/partition.js';

const N = 500_000;

test(`${N.toLocaleString('en')} target-file entries load: check-config, and the control plane's whole apply path`, { timeout: 120_000 }, async (t) => {
  const dir = tempDir('fp-large');
  t.after(() => dir.cleanup());
  writeBigTargetFile(join(dir.path, 'big.json'), N);
  const cfg = dir.file('c.yaml', { workers: 2, probe_defaults: { interval: '1h' }, target_files: ['big.json'] });

  await t.test('check-config says ok with every entry', async () => {
    const r = await runCli(['check-config', '--config', cfg], { timeoutMs: 90_000 });
    assert.equal(r.code, 0, `exit ${r.code} ${r.signal}\n${r.stderr.slice(0, 2000)}`);
    assert.match(r.stdout, new RegExp(`ok \\(${N} targets, 2 workers\\)`));
  });

  await t.test('sources, resolution, registry and partition take every entry', async () => {
    const config = loadConfig({ argv: ['--config', cfg], env: {} });
    const set = await loadTargets(config, { ownAddresses: new Set() });
    assert.equal(set.targets.length, N);
    assert.equal(set.rejected.length, 0);
    assert.deepEqual(
      set.files.map((f) => [f.ok, f.load?.targets.length]),
      [[true, N]],
    );
    assert.equal(set.targets[N - 1].address, loopback(N - 1));

    const resolver = new Resolver({
      refreshIntervalMs: 60_000,
      lookup: () => Promise.reject(new assert.AssertionError({ message: 'literals never reach DNS' })),
    });
    resolver.setTargets(set.targets);
    await resolver.refresh();
    assert.equal(resolver.results().size, N);

    const registry = new TargetRegistry();
    const diff = registry.update(set.targets, (name) => resolver.get(name), registry.generation);
    assert.equal(diff.added.length, N);
    assert.equal(registry.highWaterMark, N);
    const shards = partitionByWorker(registry.shardTargets(), config.workers);
    assert.equal(shards[0].length + shards[1].length, N);
    assert.ok(shards[0].length > N * 0.45 && shards[1].length > N * 0.45, `${shards[0].length} / ${shards[1].length}`);

    // A second load (what a reload does) diffs to nothing.
    const again = await loadTargets(config, { ownAddresses: new Set(), previousFiles: set.files });
    const diff2 = registry.update(again.targets, (name) => resolver.get(name), registry.generation);
    assert.deepEqual([diff2.added.length, diff2.removed.length, diff2.changed.length], [0, 0, 0]);
  });
});

test('a 150,000-peer mesh file and a 200,000-target file_sd group load', { timeout: 120_000 }, async (t) => {
  const dir = tempDir('fp-large-mesh');
  t.after(() => dir.cleanup());
  const P = 150_000;
  const peers: string[] = [];
  for (let i = 0; i < P; i++) peers.push(`{"name":"p${i}","address":"${loopback(i)}"}`);
  writeFileSync(join(dir.path, 'peers.json'), `[${peers.join(',')}]`);
  const S = 200_000;
  const sd: string[] = [];
  for (let i = 0; i < S; i++) sd.push(`"${loopback(P + i)}"`);
  writeFileSync(join(dir.path, 'sd.json'), `[{"targets":[${sd.join(',')}],"labels":{"dc":"lo"}}]`);
  const cfg = dir.file('c.yaml', { mesh: { name: 'p0', peers_file: 'peers.json', kinds: ['icmp'] }, target_files: ['sd.json'] });

  const config = loadConfig({ argv: ['--config', cfg], env: {} });
  assert.equal(config.mesh.peers.length, P);
  const set = await loadTargets(config, { ownAddresses: new Set() });
  assert.equal(set.meshSelf, 'p0');
  assert.equal(set.rejected.length, 0);
  assert.equal(set.targets.length, P - 1 + S);
  assert.equal(set.targets[P - 1 + S - 1].labels.dc, 'lo');
});

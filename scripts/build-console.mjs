#!/usr/bin/env node
// Build the web console: type-check src/console, bundle it with Vite, write a .br
// and a .gz next to each text asset (served by @fastify/static when the browser
// accepts them), and put the result in dist/console (shipped in the package, served
// by fleetprobe at /).
//
// The bundle is made in node_modules/.cache/fleetprobe-console and only copied to
// dist/console when it is newer than every source file (and this script and
// package-lock.json): `npm run build` may empty dist/ first, and `npm test` and
// `npm start` should not bundle an unchanged console again. `--force` builds anyway.
//
// Exits non-zero with a message when the build cannot run (e.g. dev dependencies
// were not installed and there is no built console).

import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src', 'console');
const dist = path.join(root, 'dist', 'console');
const out = path.join(root, 'node_modules', '.cache', 'fleetprobe-console');
const stamp = path.join(out, 'index.html');
const PREFIX = '[fleetprobe build-console]';

function files(dir) {
  const list = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) list.push(...files(p));
    else list.push(p);
  }
  return list;
}

function newestInput() {
  const inputs = [...files(src), fileURLToPath(import.meta.url), path.join(root, 'package-lock.json')];
  return Math.max(...inputs.filter((f) => existsSync(f)).map((f) => statSync(f).mtimeMs));
}

function publish() {
  rmSync(dist, { recursive: true, force: true });
  cpSync(out, dist, { recursive: true });
}

const force = process.argv.includes('--force');
if (!force && existsSync(stamp) && statSync(stamp).mtimeMs >= newestInput()) {
  publish();
  process.exit(0);
}

let vite;
try {
  vite = await import('vite');
} catch {
  if (existsSync(path.join(dist, 'index.html'))) {
    console.warn(`${PREFIX} vite is not installed (no dev dependencies): keeping the console built in dist/console`);
    process.exit(0);
  }
  console.error(`${PREFIX} ERROR: vite is not installed; run \`npm ci\` (with dev dependencies) to build the web console`);
  process.exit(1);
}

// Type-check the browser sources (Vite's esbuild only strips types).
const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(src, 'tsconfig.json')], {
  stdio: 'inherit',
});
if (tsc.status !== 0) {
  console.error(`${PREFIX} ERROR: type errors in src/console`);
  process.exit(1);
}

await vite.build({ configFile: path.join(src, 'vite.config.ts'), build: { outDir: out, emptyOutDir: true } });

let raw = 0;
let br = 0;
for (const f of files(out)) {
  if (!/\.(js|css|html|svg|json)$/.test(f)) continue;
  const body = readFileSync(f);
  raw += body.length;
  const b = brotliCompressSync(body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length } });
  br += b.length;
  writeFileSync(`${f}.br`, b);
  writeFileSync(`${f}.gz`, gzipSync(body, { level: 9 }));
}
publish();
console.log(`${PREFIX} dist/console: ${(raw / 1024).toFixed(1)} KiB (${(br / 1024).toFixed(1)} KiB brotli)`);

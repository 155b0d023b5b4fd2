/**
 * The data plane's dependency direction (issue 7 item 6, data-plane side): code under
 * workers/ never imports the control plane. A worker thread may load workers/ and the
 * pure modules both sides share — src/protocol/ (messages, batch codec, event codes),
 * src/kinds/ (probe kind declarations) and src/values/ (the durations, ranges and value
 * formats the kinds are declared in; below every other folder) — plus node: builtins and
 * raw-socket; nothing
 * else of src/ (config, targets, metrics, http, ...) and none of the control plane's
 * packages (fastify, prom-client, OpenTelemetry, convict, pino ...).
 *
 * Read from the TypeScript sources: the runtime graph follows every import that survives
 * compilation (not `import type`, not an import whose names are all `type`), from every
 * file under workers/, transitively. Type-only imports are checked separately: they load
 * nothing, but they are still a dependency of the code.
 *
 * Known exceptions are listed below with the reason and what removes them; the test fails
 * on any other import, and on an exception that no longer happens (so the list shrinks).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

const SHARED = ['workers/', 'src/protocol/', 'src/kinds/', 'src/values/'];
const PACKAGES = new Set(['raw-socket']);

/** "importer -> imported" (runtime) that still cross the line, and why. */
const RUNTIME_EXCEPTIONS: Record<string, string> = {};

/** "importer -> imported" (type-only) that still cross the line, and why. */
const TYPE_EXCEPTIONS: Record<string, string> = {
  'workers/shard.ts -> src/targets/model.ts': 'ShardTarget/ProbeKind: the target as a worker receives it; issue 7 item 1 reshapes it (a union on kind)',
  'workers/probes/prober.ts -> src/targets/model.ts': 'ShardTarget, as above',
  'workers/probes/registry.ts -> src/targets/model.ts': 'ProbeKind, as above',
  'workers/probes/icmp.ts -> src/targets/model.ts': 'ShardTarget, as above',
  'workers/probes/tcp.ts -> src/targets/model.ts': 'ShardTarget, as above',
  'workers/probes/tcp-echo.ts -> src/targets/model.ts': 'ShardTarget, as above',
  'workers/probes/udp.ts -> src/targets/model.ts': 'ShardTarget, as above',
  'workers/probes/http.ts -> src/targets/model.ts': 'ShardTarget, as above',
  'src/protocol/messages.ts -> src/targets/model.ts': 'the update message carries ShardTargets, as above',
  'workers/ondemand.ts -> src/targets/model.ts': 'ProbeKind, as above',
};

interface Import {
  spec: string;
  typeOnly: boolean;
}

/** The module specifiers of a TypeScript source, and whether each import is erased at compile time. */
export function importsOf(source: string): Import[] {
  const out: Import[] = [];
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const stmt = /^\s*(import|export)\s+(type\s+)?([^;'"]*?)\s*from\s*['"]([^'"]+)['"]/gm;
  for (const m of code.matchAll(stmt)) {
    const names = m[3]
      .replace(/^\{|\}$/g, '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const allTypes = names.length > 0 && m[3].trim().startsWith('{') && names.every((n) => n.startsWith('type '));
    out.push({ spec: m[4], typeOnly: m[2] !== undefined || allTypes });
  }
  for (const m of code.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) out.push({ spec: m[1], typeOnly: false });
  for (const line of code.split('\n')) {
    for (const m of line.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      // In a type (`type X = ...import('m').T`, `: import('m').T`) it is erased.
      out.push({ spec: m[1], typeOnly: /^\s*(export\s+)?type\s/.test(line) || /:\s*import\(/.test(line) });
    }
  }
  return out;
}

/** Repository-relative path of the .ts source a relative specifier names, or null for a package. */
function resolveSpec(fromFile: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const abs = resolve(ROOT, dirname(fromFile), spec).replace(/\.js$/, '.ts');
  const rel = relative(ROOT, abs);
  if (!existsSync(abs)) throw new Error(`${fromFile}: import ${spec} does not resolve to ${rel}`);
  return rel;
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const shared = (file: string): boolean => SHARED.some((p) => file.startsWith(p));
const packageName = (spec: string): string => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);

test('the import parser tells runtime imports from type-only ones', () => {
  const src = [
    "import { a } from './a.js';",
    "import type { B } from './b.js';",
    "import { type C, type D } from './c.js';",
    "import { type E, f } from './e.js';",
    "import {\n  g,\n  h,\n} from '../g.js';",
    "export { i } from './i.js';",
    "export type { J } from './j.js';",
    "import './side-effect.js';",
    "export type F = (x: import('./k.js').K) => void;",
    "const m = await import('./m.js');",
    '// import { n } from "./commented.js";',
    "import net from 'node:net';",
  ].join('\n');
  assert.deepEqual(
    importsOf(src)
      .map((i) => `${i.spec} ${i.typeOnly ? 'type' : 'runtime'}`)
      .sort(),
    [
      './a.js runtime',
      './b.js type',
      './c.js type',
      './e.js runtime',
      '../g.js runtime',
      './i.js runtime',
      './j.js type',
      './side-effect.js runtime',
      './k.js type',
      './m.js runtime',
      'node:net runtime',
    ].sort(),
  );
});

test('workers/ loads no control-plane code at runtime: only workers/, src/protocol/, src/kinds/, src/values/, node: builtins and raw-socket', () => {
  const seen = new Set<string>();
  const queue = tsFiles('workers');
  const crossings = new Set<string>();
  const packages = new Set<string>();
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const imp of importsOf(readFileSync(join(ROOT, file), 'utf8'))) {
      if (imp.typeOnly) continue;
      const target = resolveSpec(file, imp.spec);
      if (target === null) {
        if (!imp.spec.startsWith('node:')) packages.add(`${file} -> ${packageName(imp.spec)}`);
        continue;
      }
      if (!shared(target)) crossings.add(`${file} -> ${target}`);
      queue.push(target);
    }
  }
  const unexpected = [...crossings].filter((c) => !(c in RUNTIME_EXCEPTIONS));
  assert.deepEqual(unexpected, [], 'the data plane imports the control plane');
  const stale = Object.keys(RUNTIME_EXCEPTIONS).filter((c) => !crossings.has(c));
  assert.deepEqual(stale, [], 'these exceptions no longer happen: remove them from RUNTIME_EXCEPTIONS');
  assert.deepEqual(
    [...packages].filter((p) => !PACKAGES.has(p.split(' -> ')[1])),
    [],
    'packages a worker loads',
  );
  assert.ok(seen.has('workers/shard.ts') && seen.has('src/protocol/batch.ts'), 'the walk reached the shard and the protocol');
});

test('type-only imports from workers/ stay within the shared modules too (known exceptions listed)', () => {
  const crossings = new Set<string>();
  for (const file of [...tsFiles('workers'), ...tsFiles('src/protocol')]) {
    for (const imp of importsOf(readFileSync(join(ROOT, file), 'utf8'))) {
      if (!imp.typeOnly) continue;
      const target = resolveSpec(file, imp.spec);
      if (target !== null && !shared(target)) crossings.add(`${file} -> ${target}`);
    }
  }
  assert.deepEqual(
    [...crossings].filter((c) => !(c in TYPE_EXCEPTIONS)),
    [],
    'new type dependencies of the data plane on the control plane',
  );
  assert.deepEqual(
    Object.keys(TYPE_EXCEPTIONS).filter((c) => !crossings.has(c)),
    [],
    'these exceptions no longer happen: remove them from TYPE_EXCEPTIONS',
  );
});

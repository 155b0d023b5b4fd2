/**
 * Golden files: outputs recorded from a known-good version of the code, kept in
 * test/golden/, so a refactoring can prove that what users see did not change by a
 * single byte. FLEETPROBE_UPDATE_GOLDEN=1 rewrites them (only do that on purpose, on
 * code whose output is the reference, and say why in the commit).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/** test/golden/<name> in the source tree (tests run from dist/test/...). */
function goldenPath(name: string): URL {
  return new URL(`../../../test/golden/${name}`, import.meta.url);
}

export function assertGolden(name: string, actual: string): void {
  const path = goldenPath(name);
  if (process.env.FLEETPROBE_UPDATE_GOLDEN === '1') {
    writeFileSync(path, actual);
    return;
  }
  assert.ok(existsSync(path), `golden file test/golden/${name} is missing`);
  const expected = readFileSync(path, 'utf8');
  if (actual === expected) return;
  // Name the first differing line: a byte-level diff of a 100 kB text is unreadable.
  const a = actual.split('\n');
  const e = expected.split('\n');
  let i = 0;
  while (i < a.length && i < e.length && a[i] === e[i]) i++;
  assert.fail(
    `output differs from test/golden/${name} at line ${i + 1}:\n  expected: ${JSON.stringify(e[i])}\n  actual:   ${JSON.stringify(a[i])}\n(${e.length} expected lines, ${a.length} actual)`,
  );
}

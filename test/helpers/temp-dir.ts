/**
 * Temporary directories for tests that leave nothing behind in os.tmpdir().
 *
 * makeTempDir() creates the directory and removes it (recursively) when the test
 * process exits, however it exits: passed, failed, or ended by the runner's
 * --test-force-exit (all of which emit 'exit'; only a kill by signal does not). That
 * needs no handle on the running test, so a helper deep inside a test file can use it
 * without threading a TestContext through; a test that wants its directory gone
 * earlier calls the returned remove().
 *
 * .ci/run runs the suite with TMPDIR pointing at an empty directory and fails if
 * anything is left in it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const pending = new Set<string>();
let exitHookInstalled = false;

function removeAll(): void {
  for (const path of pending) rmSync(path, { recursive: true, force: true });
  pending.clear();
}

/** A new empty directory `<tmpdir>/<prefix>-XXXXXX`, removed at process exit at the latest. */
export function makeTempDir(prefix: string): { path: string; remove(): void } {
  if (!exitHookInstalled) {
    process.once('exit', removeAll);
    exitHookInstalled = true;
  }
  const path = mkdtempSync(join(tmpdir(), `${prefix}-`));
  pending.add(path);
  return {
    path,
    remove() {
      rmSync(path, { recursive: true, force: true });
      pending.delete(path);
    },
  };
}

/**
 * api.state_file: the API targets on disk, so they survive a restart.
 *
 * Written atomically after every change and before it is applied: the document goes
 * to a new temporary file in the same directory (same file system, so the rename is
 * atomic), which is fsync()ed, renamed over the state file, and then the directory is
 * fsync()ed so the rename itself is durable. A crash at any point leaves either the
 * old file or the new one, never a torn one. A write that fails leaves the running
 * targets as they were (the request answers 500).
 *
 * Mode 0600: an entry may carry secrets (an http target's Authorization header).
 *
 * Read once, at start: a missing file is an empty set (the first start); a file that
 * cannot be read or parsed, or does not have the expected shape, or a directory that
 * does not exist or cannot be written is an error naming api.state_file (exit 2, as
 * for any configuration error: refusing to start is safer than starting without the
 * targets and overwriting the file with the next change).
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseStateDocument, stateDocument, type ApiEntries, type ApiEntry } from './api-source.js';

export type StateFileRead = { ok: true; entries: Map<string, ApiEntry>; found: boolean } | { ok: false; message: string };

const errCode = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/** Read and check the state file at `path` (absolute). Never throws. */
export async function readStateFile(path: string): Promise<StateFileRead> {
  const dir = dirname(path);
  try {
    if (!(await stat(dir)).isDirectory()) return { ok: false, message: `${dir} is not a directory` };
    await access(dir, fsConstants.W_OK);
  } catch (e) {
    return { ok: false, message: `its directory ${dir} cannot be written: ${errCode(e)}` };
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, entries: new Map(), found: false };
    return { ok: false, message: `cannot read ${path}: ${errCode(e)}` };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { ok: false, message: `${path} is not valid JSON (${(e as Error).message}); fix or remove it (it holds the targets added over the API)` };
  }
  const parsed = parseStateDocument(doc);
  if (!parsed.ok)
    return {
      ok: false,
      message: `${path}: ${parsed.problems.slice(0, 10).join('; ')}${parsed.problems.length > 10 ? `; and ${parsed.problems.length - 10} more` : ''}`,
    };
  return { ok: true, entries: parsed.entries, found: true };
}

/** The document as written: one target per line, so the file reads (and diffs) like a target file. */
export function stateText(entries: ApiEntries): string {
  const doc = stateDocument(entries);
  const lines = doc.targets.map((t) => `    ${JSON.stringify(t)}`);
  return `{\n  "version": ${doc.version},\n  "targets": [${lines.length ? `\n${lines.join(',\n')}\n  ` : ''}]\n}\n`;
}

/** Write `entries` to `path` atomically and durably (see the file header). Throws on failure, leaving the old file. */
export async function writeStateFile(path: string, entries: ApiEntries): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    try {
      await fh.writeFile(stateText(entries), 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

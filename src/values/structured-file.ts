/** Reading structured files (config, target files, peer files): format chosen by extension. */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';

export type FileFormat = 'yaml' | 'json';

/** 'yaml' for .yml/.yaml, 'json' for .json, else null. */
export function formatOf(path: string): FileFormat | null {
  const ext = extname(path).toLowerCase();
  if (ext === '.yml' || ext === '.yaml') return 'yaml';
  if (ext === '.json') return 'json';
  return null;
}

/** Thrown with a message fit for the operator ("cannot read ...", "line 3: ..."). */
export class FileParseError extends Error {
  override name = 'FileParseError';
}

export function parseText(text: string, format: FileFormat): unknown {
  try {
    // YAML 1.2 core schema: "on"/"yes" stay strings, so `labels: {x: yes}` is not silently a boolean.
    return format === 'yaml' ? parseYaml(text, { prettyErrors: true }) : JSON.parse(text);
  } catch (e) {
    throw new FileParseError(`is not valid ${format.toUpperCase()}: ${(e as Error).message.split('\n')[0]}`);
  }
}

function checkedFormat(path: string): FileFormat {
  const format = formatOf(path);
  if (format === null) throw new FileParseError(`has an unsupported extension "${extname(path)}"; use .yaml, .yml or .json`);
  return format;
}

/**
 * "cannot be read: ENOENT: no such file or directory". Node's message already starts
 * with the code ("ENOENT: no such file or directory, open '/x.yaml'"); the path after
 * the comma is cut, since every caller names the file itself.
 */
export function readErrorMessage(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  let detail = (err.message ?? String(e)).replace(/, \w+ '[^']*'$/, '');
  if (err.code && !detail.startsWith(err.code)) detail = `${err.code}: ${detail}`;
  return `cannot be read: ${detail}`;
}

function readError(e: unknown): FileParseError {
  return new FileParseError(readErrorMessage(e));
}

export function readStructuredFileSync(path: string): unknown {
  const format = checkedFormat(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw readError(e);
  }
  return parseText(text, format);
}

export async function readStructuredFile(path: string): Promise<unknown> {
  const format = checkedFormat(path);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw readError(e);
  }
  return parseText(text, format);
}

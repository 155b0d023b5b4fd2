/** A value that names a file the process can read, checked when the configuration is read. */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import type { Format } from './format.js';

export function checkReadableFile(v: unknown): string | null {
  if (typeof v !== 'string' || v === '') return 'must be a non-empty string';
  try {
    if (!statSync(v).isFile()) return `${v} is not a file`;
    accessSync(v, fsConstants.R_OK);
  } catch (e) {
    return `${v} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  return null;
}

export const readableFileFormat: Format = { check: checkReadableFile };

import { readFileSync } from 'node:fs';

let cachedVersion: string | undefined;
/** This package's version (package.json two levels above dist/src or src). */
export function packageVersion(): string {
  cachedVersion ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return cachedVersion;
}

/** systemd unit files for tests: read directives, and run systemd-analyze on a copy. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const UNIT_NAME = 'fleetprobe.service';

/** Every value of every directive, by "Section.Key" (repeated keys keep every value, in order). */
export function unitDirectives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^\[(.+)\]$/.exec(line);
    if (m) {
      section = m[1];
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = `${section}.${line.slice(0, eq).trim()}`;
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return out;
}

/**
 * The unit as it can be verified on this machine: the first word of ExecStart= must be
 * an executable that exists (systemd-analyze verify checks it), so it becomes this
 * test's node; everything else is unchanged.
 */
export function verifiableCopy(text: string, node = process.execPath): string {
  return text.replace(/^ExecStart=(\S+)/m, (_, bin: string) => `ExecStart=${existsSync(bin) ? bin : node}`);
}

export interface AnalyzeResult {
  status: number | null;
  /** Output lines about the unit itself (systemd-analyze also reports on other units of the host). */
  problems: string[];
  stdout: string;
}

/** Run `systemd-analyze <args> <copy of text>` with the copy named fleetprobe.service in a temporary directory. */
export function analyzeUnit(args: readonly string[], text: string): AnalyzeResult {
  const dir = mkdtempSync(join(tmpdir(), 'fp-unit-'));
  try {
    const file = join(dir, UNIT_NAME);
    writeFileSync(file, text);
    const r = spawnSync('systemd-analyze', [...args, file], { encoding: 'utf8', timeout: 60_000 });
    const problems = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes(file) || l.startsWith(`${UNIT_NAME}:`));
    return { status: r.status, problems, stdout: r.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

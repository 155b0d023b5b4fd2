/**
 * Child processes the benchmark starts (exporters, responders, ping, fping),
 * tracked in one set so that every exit path — normal end, an exception, SIGINT
 * or SIGTERM of the bench — kills them. Output is kept in a bounded tail for
 * error messages and parsing.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const TAIL_BYTES = 256 * 1024;

export interface Tracked {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Last bytes of stdout+stderr (bounded). */
  output(): string;
  /** Last bytes of stderr only (bounded). */
  stderr(): string;
}

const live = new Set<Tracked>();

function tailBuffer(): { push(b: Buffer): void; text(): string } {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    push(b) {
      chunks.push(b);
      size += b.length;
      while (size > TAIL_BYTES && chunks.length > 1) size -= chunks.shift()!.length;
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

/** Spawn a tracked child (no shell). stdout is kept unless `ignoreStdout`. */
export function spawnTracked(name: string, cmd: string, args: readonly string[], opts: { ignoreStdout?: boolean; cwd?: string } = {}): Tracked {
  const proc = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', opts.ignoreStdout ? 'ignore' : 'pipe', 'pipe'] });
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  const all = tailBuffer();
  const err = tailBuffer();
  proc.stdout?.on('data', (b: Buffer) => all.push(b));
  proc.stderr?.on('data', (b: Buffer) => {
    all.push(b);
    err.push(b);
  });
  const t: Tracked = {
    name,
    proc,
    pid: proc.pid,
    exited: new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        live.delete(t);
        resolve(code ?? signal ?? 'unknown');
      });
      proc.once('error', (e) => {
        live.delete(t);
        resolve(`error: ${e.message}`);
      });
    }),
    output: () => all.text(),
    stderr: () => err.text(),
  };
  live.add(t);
  return t;
}

function alive(t: Tracked): boolean {
  return t.proc.exitCode === null && t.proc.signalCode === null;
}

/** Send `signal`, wait up to `graceMs`, then SIGKILL. Resolves when the child has exited. */
export async function stopChild(t: Tracked, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<number | string> {
  if (alive(t)) t.proc.kill(signal);
  const timer = setTimeout(() => {
    if (alive(t)) t.proc.kill('SIGKILL');
  }, graceMs);
  try {
    return await t.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Stop every tracked child (graceful first, SIGKILL after `graceMs`). */
export async function stopAll(graceMs = 3000): Promise<void> {
  await Promise.all([...live].map((t) => stopChild(t, 'SIGTERM', graceMs)));
}

/** Last resort on process exit: SIGKILL whatever is still running (synchronous). */
export function killAllSync(): void {
  for (const t of live) {
    try {
      if (alive(t)) t.proc.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/**
 * Make sure children die with the bench: on exit (any cause) and on SIGINT/SIGTERM
 * (stop them, then exit 130/143). Install once.
 */
export function installChildCleanup(log: (msg: string) => void): void {
  process.once('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`\n${sig}: stopping ${live.size} child process(es)…`);
      // A second signal during the stop kills at once.
      process.once(sig, () => {
        killAllSync();
        process.exit(sig === 'SIGINT' ? 130 : 143);
      });
      void stopAll(2000).finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    });
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

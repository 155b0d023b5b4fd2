/**
 * Network namespaces for tests: created by the test, always deleted by it. Traffic
 * inside one never leaves it (its own loopback, or veths between namespaces the test
 * created), which is what keeps loss and DNS tests off every real network.
 *
 * `ip netns exec NS cmd` also bind-mounts /etc/netns/NS/<file> over /etc/<file>; we
 * use that to give a namespace its own resolv.conf (a loopback resolver), so a name
 * lookup inside it never reaches the host's DNS server.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Why namespace tests cannot run here (a skip message), or false when they can. */
export function netnsUnavailable(needs: readonly string[] = ['ip']): string | false {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root / CAP_NET_ADMIN + CAP_NET_RAW: creates network namespaces';
  const missing = needs.filter((c) => !has(c));
  if (missing.length) return `needs ${missing.join(', ')} (not installed)`;
  return false;
}

export interface Netns {
  readonly name: string;
  /** Run a command inside the namespace; throws with its stderr on failure. */
  exec(cmd: string, args: readonly string[], input?: string): string;
  /** Load an nft ruleset (nft -f -) inside the namespace. */
  nft(ruleset: string): void;
  /** Delete the namespace and its /etc/netns files; safe to call twice. */
  destroy(): void;
}

export interface CreateNetnsOptions {
  /** Write /etc/netns/<name>/resolv.conf with this content (e.g. "nameserver 127.0.0.1\n"). */
  resolvConf?: string;
}

/** Create `name` with lo up (all of 127.0.0.0/8 and ::1 answer on it). */
export function createNetns(name: string, opts: CreateNetnsOptions = {}): Netns {
  const etcDir = join('/etc/netns', name);
  let destroyed = false;
  const destroy = (): void => {
    if (destroyed) return;
    destroyed = true;
    spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    rmSync(etcDir, { recursive: true, force: true });
  };
  const exec = (cmd: string, args: readonly string[], input?: string): string => {
    try {
      return execFileSync('ip', ['netns', 'exec', name, cmd, ...args], { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 10_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`ip netns exec ${name} ${cmd} ${args.join(' ')}: ${e.stderr?.trim() || e.message}`, { cause: err });
    }
  };
  // A namespace left over by a killed earlier run of the same pid would make `add` fail.
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  execFileSync('ip', ['netns', 'add', name], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    if (opts.resolvConf !== undefined) {
      mkdirSync(etcDir, { recursive: true });
      writeFileSync(join(etcDir, 'resolv.conf'), opts.resolvConf);
    }
    exec('ip', ['link', 'set', 'lo', 'up']);
  } catch (err) {
    destroy();
    throw err;
  }
  return { name, exec, nft: (ruleset) => void exec('nft', ['-f', '-'], ruleset), destroy };
}

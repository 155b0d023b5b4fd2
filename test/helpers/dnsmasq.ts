/**
 * A real DNS server (Debian's dnsmasq) on the loopback of a network namespace the test
 * created, authoritative for one test domain and forwarding nothing: no query can leave
 * the namespace (it has only lo, and dnsmasq has no upstream). Answers come from a
 * hosts file the test rewrites; SIGHUP makes dnsmasq re-read it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, waitFor } from './exporter-process.js';

export interface Dnsmasq {
  /** Make `name` answer exactly these addresses (A and AAAA); resolves once dnsmasq re-read them. */
  answer(addresses: readonly string[]): Promise<void>;
  /** Stop the server (lookups then fail); safe to call twice. */
  stop(): Promise<void>;
}

/** Look `name` up inside the namespace as fleetprobe does (getaddrinfo); the addresses, or the error code. */
export function lookupInNetns(netns: string, name: string): string[] | string {
  const script =
    "require('dns').promises.lookup(process.argv[1],{all:true,verbatim:true}).then(a=>console.log(JSON.stringify(a.map(x=>x.address))),e=>console.log(JSON.stringify(e.code)))";
  const r = spawnSync('ip', ['netns', 'exec', netns, process.execPath, '-e', script, name], { encoding: 'utf8', timeout: 10_000 });
  return JSON.parse(r.stdout.trim() || '"no output"') as string[] | string;
}

/** Start dnsmasq on 127.0.0.1:53 inside `netns`, authoritative for `domain`, answering `name`. */
export async function startDnsmasq(netns: string, domain: string, name: string, addresses: readonly string[]): Promise<Dnsmasq> {
  const dir = mkdtempSync(join(tmpdir(), 'fp-dnsmasq-'));
  const hosts = join(dir, 'hosts');
  const write = (addrs: readonly string[]) => writeFileSync(hosts, addrs.map((a) => `${a} ${name}\n`).join(''));
  write(addresses);
  let log = '';
  const child: ChildProcess = spawn(
    'ip',
    [
      'netns',
      'exec',
      netns,
      'dnsmasq',
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--pid-file=',
      '--no-resolv',
      '--no-hosts',
      `--local=/${domain}/`, // authoritative, no upstream
      '--bind-interfaces',
      '--listen-address=127.0.0.1',
      '--port=53',
      `--addn-hosts=${hosts}`,
      '--cache-size=0',
      '--user=root',
      '--group=root',
      '--log-facility=-',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once('close', () => ((exited = true), resolve())));
  const same = (got: string[] | string, want: readonly string[]) => Array.isArray(got) && [...got].sort().join() === [...want].sort().join();
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(3000).then(() => child.kill('SIGKILL'))]);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      `dnsmasq in ${netns} to answer ${name}`,
      () => (exited ? Promise.reject(new Error(log)) : same(lookupInNetns(netns, name), addresses)),
      10_000,
      100,
    );
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${log}`, { cause: err });
  }
  return {
    async answer(addrs) {
      write(addrs);
      child.kill('SIGHUP');
      await waitFor(`dnsmasq to answer ${addrs.join(', ')}`, () => same(lookupInNetns(netns, name), addrs), 10_000, 100);
    },
    stop,
  };
}

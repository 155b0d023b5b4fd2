/**
 * Micro-benchmark of the data plane's hot paths, in process, no traffic: the cost per
 * probe of the pieces issue 7 item 5 shares (scheduler over its DeadlineTimer, the icmp
 * prober's SlotIndex + InflightWindow + timeouts), measured through public APIs only so
 * the same compiled script runs against an older tree for an A/B comparison:
 *
 *   node dist/load-tests/dataplane-bench.js [--targets 1000,10000] [--rounds 20] [--repeats 7]
 *   node dist/load-tests/dataplane-bench.js --root /old/checkout --root .   (A/B, built trees)
 *
 * With two --root, both trees are loaded into this one process and every run of A is
 * followed by the same run of B, so both see the same load on a shared machine; the
 * figure to read is the median of the paired ratios B/A.
 *
 * - schedule: N targets at 1 s, splayed; a manual clock advances through `rounds`
 *   intervals; ns per probe start (heap move, timer arming, lag stats).
 * - icmp reply: N IPv4 targets; every probe is answered at once by a fake socket (the
 *   reply is the request with its type and checksum changed, behind an IPv4 header):
 *   ns per probe for probe() + parse + match + books + deadline set and delete.
 * - icmp timeout: the same with no replies; the manual clock runs the timeout timer:
 *   ns per probe for probe() + its timeout.
 * Each figure is the median of `repeats` runs (after one warm-up run each); the sink counts
 * outcomes, which are checked so a broken run cannot print a figure.
 *
 * Prints ns/op; asserts nothing about time (timing is noisy on a shared machine).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loopbackAddress } from './loopback-fleet.js';

interface Args {
  roots: string[];
  targets: number[];
  rounds: number;
  repeats: number;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { roots: [], targets: [1000, 10000], rounds: 20, repeats: 7 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--root':
        a.roots.push(resolve(v));
        i++;
        break;
      case '--targets':
        a.targets = v.split(',').map(Number);
        i++;
        break;
      case '--rounds':
        a.rounds = Number(v);
        i++;
        break;
      case '--repeats':
        a.repeats = Number(v);
        i++;
        break;
      default:
        throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (a.roots.length === 0) a.roots.push(resolve(new URL('../../', import.meta.url).pathname));
  if (a.roots.length > 2) throw new Error('at most two --root (A and B)');
  if (a.targets.some((n) => !(n > 0 && n <= 200_000)) || !(a.rounds > 0 && a.rounds <= 1000) || !(a.repeats > 0 && a.repeats <= 50)) {
    throw new Error('--targets 1..200000 each, --rounds 1..1000, --repeats 1..50');
  }
  return a;
}

/** The manual clock of the tests (both trees have it); structurally typed, old and new option names both given. */
interface ManualTimeLike {
  t: number;
  now(): number;
  advanceTo(to: number): void;
}

interface Counting {
  sent: number;
  reply: number;
  timeout: number;
  other: number;
}

function countingSink(c: Counting): Record<string, (...args: never[]) => void> {
  return {
    sent: () => void c.sent++,
    reply: () => void c.reply++,
    timeout: () => void c.timeout++,
    error: () => void c.other++,
    duplicate: () => void c.other++,
    late: () => void c.other++,
    dropped: () => void c.other++,
    record: () => {},
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

type Case = () => number;

/** The three cases over one tree's compiled modules. */
async function casesOf(root: string, n: number, args: Args): Promise<Array<[string, Case]>> {
  const dist = (p: string): string => pathToFileURL(`${root}/dist/${p}`).href;
  const { Scheduler } = await import(dist('workers/scheduler.js'));
  const { IcmpProber } = await import(dist('workers/probes/icmp.js'));
  const { ManualTime } = await import(dist('test/helpers/manual-time.js'));
  // ---- schedule ----
  const schedule = (): number => {
    const time: ManualTimeLike = new ManualTime(0);
    let starts = 0;
    const opts = { clock: time, timers: time };
    const s = new Scheduler(() => void starts++, undefined, opts);
    for (let k = 0; k < n; k++) s.set(k, 1000, (k * 7919) % 1000);
    time.advanceTo(999); // first round: every target started once
    const from = starts;
    const t0 = process.hrtime.bigint();
    time.advanceTo(999 + args.rounds * 1000);
    const ns = Number(process.hrtime.bigint() - t0);
    s.stop();
    const did = starts - from;
    // Coalescing may pull a few starts across the window's edges.
    if (Math.abs(did - n * args.rounds) > 4 + n / 100) throw new Error(`schedule: ${did} starts, expected ${n * args.rounds}`);
    return ns / did;
  };

  // ---- icmp ----
  const icmp = (answer: boolean): number => {
    const time: ManualTimeLike = new ManualTime(0);
    const c: Counting = { sent: 0, reply: 0, timeout: 0, other: 0 };
    const queue: Buffer[] = [];
    const lens: number[] = [];
    const srcs: string[] = [];
    let handler: ((buf: Buffer, len: number, src: string, t: number, kt: number) => void) | null = null;
    // Reply buffers reused round to round: one per target.
    const pool: Buffer[] = [];
    let used = 0;
    const conn = {
      family: 4 as const,
      send(buf: Buffer, length: number, address: string): string | null {
        if (!answer) return null;
        const out = pool[used] ?? (pool[used] = Buffer.alloc(20 + 2048));
        used++;
        // IPv4 header as the kernel delivers it (only version/IHL, length, protocol, source are read).
        out[0] = 0x45;
        out.writeUInt16BE(20 + length, 2);
        out[9] = 1;
        const p = address.split('.');
        for (let k = 0; k < 4; k++) out[12 + k] = Number(p[k]);
        buf.copy(out, 20, 0, length);
        // Echo request (8) -> reply (0): RFC 1624 incremental checksum update.
        out[20] = 0;
        let sum = (~out.readUInt16BE(22) & 0xffff) + (~0x0800 & 0xffff);
        sum = (sum & 0xffff) + (sum >>> 16);
        out.writeUInt16BE(~((sum & 0xffff) + (sum >>> 16)) & 0xffff, 22);
        queue.push(out);
        lens.push(20 + length);
        srcs.push(address);
        return null;
      },
      onPacket(h: typeof handler) {
        handler = h;
      },
      setFilters: () => ({ typeFilter: true, bpf: true, problems: [] }),
      close() {},
    };
    const opts = { clock: time, timers: time, openConn: () => conn };
    const p = new IcmpProber(countingSink(c), { workerIndex: 0, cookie: 0x5eed, icmpIdentifier: 0x4242, flushIntervalMs: 1000 }, opts);
    for (let k = 0; k < n; k++) {
      p.add({
        slot: k * 3,
        name: `t${k}`,
        kind: 'icmp',
        ip: loopbackAddress(k),
        family: 4,
        port: 0,
        intervalMs: 1000,
        phaseMs: 0,
        timeoutMs: 500,
        payloadSize: 56,
        options: {},
      });
    }
    const round = (r: number): void => {
      used = 0;
      for (let k = 0; k < n; k++) p.probe(k * 3);
      for (let q = 0; q < queue.length; q++) handler!(queue[q], lens[q], srcs[q], time.t + 0.05, NaN);
      queue.length = lens.length = srcs.length = 0;
      time.advanceTo((r + 1) * 1000);
    };
    round(0); // warm: columns grown, reply buffers allocated
    const t0 = process.hrtime.bigint();
    for (let r = 1; r <= args.rounds; r++) round(r);
    const ns = Number(process.hrtime.bigint() - t0);
    p.close();
    const want = n * (args.rounds + 1);
    const outcomes = answer ? c.reply : c.timeout;
    if (c.sent !== want || outcomes !== want || c.other !== 0)
      throw new Error(`icmp: sent ${c.sent}, outcomes ${outcomes}, other ${c.other}; expected ${want}`);
    return ns / (n * args.rounds);
  };

  return [
    ['schedule', schedule],
    ['icmp reply', () => icmp(true)],
    ['icmp timeout', () => icmp(false)],
  ];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const [a, b] = args.roots;
  process.stdout.write(`dataplane-bench: node ${process.version}, median of ${args.repeats} runs of ${args.rounds} rounds each\n`);
  process.stdout.write(
    b === undefined ? `tree: ${a}\n` : `A: ${a}\nB: ${b}\n(runs of A and B alternate, AB BA AB ...; B/A is the median of the paired ratios)\n`,
  );
  for (const n of args.targets) {
    const ca = await casesOf(a, n, args);
    const cb = b === undefined ? null : await casesOf(b, n, args);
    for (let k = 0; k < ca.length; k++) {
      const [name, runA] = ca[k];
      const runB = cb?.[k][1];
      runA(); // warm-up
      runB?.();
      const xa: number[] = [];
      const xb: number[] = [];
      const ratio: number[] = [];
      for (let i = 0; i < args.repeats; i++) {
        // Alternate which goes first, so neither always inherits the other's garbage.
        if (runB && i % 2 === 1) xb.push(runB());
        xa.push(runA());
        if (runB && i % 2 === 0) xb.push(runB());
        if (runB) ratio.push(xb[i] / xa[i]);
      }
      const line = `${name.padEnd(13)} ${String(n).padStart(6)} targets: ${b === undefined ? '' : 'A '}${median(xa).toFixed(0).padStart(5)} ns/probe`;
      process.stdout.write(
        runB
          ? `${line}   B ${median(xb).toFixed(0).padStart(5)} ns/probe   B/A ${median(ratio).toFixed(2)} (pairs: ${ratio.map((r) => r.toFixed(2)).join(' ')})\n`
          : `${line}  (runs: ${xa.map((x) => x.toFixed(0)).join(' ')})\n`,
      );
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`dataplane-bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});

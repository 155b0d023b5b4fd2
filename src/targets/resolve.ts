/**
 * Host names -> addresses, on a schedule.
 *
 * Uses dns.lookup (getaddrinfo), not dns.resolve*: it honours /etc/hosts and
 * nsswitch like every other program on the host, which is what operators expect
 * ("localhost" works). getaddrinfo runs on libuv's small thread pool and cannot be
 * cancelled, so lookups are bounded in concurrency (a slow DNS server must not starve
 * file I/O) and given a timeout after which the name is reported as failed.
 *
 * A name that fails keeps its error (code + message) until a later refresh succeeds;
 * the other targets are never held up by it. IP literals never touch DNS.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { TargetSpec } from './model.js';
import { parseHostPort, parseHttpUrl } from './address.js';

/** Which address of a host name is probed (dns.prefer). */
export const DNS_PREFERENCES = ['system', 'ipv4', 'ipv6'] as const;
export type DnsPreference = (typeof DNS_PREFERENCES)[number];

export type Resolution =
  | { status: 'ok'; ip: string; family: 4 | 6; /** Every address returned, in resolver order. */ addresses: string[] }
  | { status: 'error'; /** ENOTFOUND, EAI_AGAIN, ETIMEOUT, ... */ code: string; message: string };

export interface ResolutionChange {
  name: string;
  previous: Resolution | undefined;
  current: Resolution;
}

export type LookupAll = (host: string) => Promise<Array<{ address: string; family: number }>>;

export interface ResolverOptions {
  refreshIntervalMs: number;
  prefer?: DnsPreference;
  /** Lookups in flight at once (default 4, the size of libuv's default pool). */
  concurrency?: number;
  /** A lookup slower than this is reported as ETIMEOUT (default 5000 ms). */
  timeoutMs?: number;
  /** Substitute lookup, only to inject faults the real resolver cannot produce. */
  lookup?: LookupAll;
  /** Called after a refresh with every target whose resolution changed (not called when none did). */
  onChange?: (changes: ResolutionChange[]) => void;
  /** Called when a timer-driven refresh throws (it should not); default: ignore. */
  onError?: (err: unknown) => void;
}

const realLookup: LookupAll = (host) => dnsLookup(host, { all: true, verbatim: true });

export interface LookupHostOptions {
  /** Default: dns.lookup (getaddrinfo) with every address, in resolver order. */
  lookup?: LookupAll;
  /** A lookup slower than this is reported as ETIMEOUT. */
  timeoutMs: number;
  /** Which address becomes Resolution.ip (default "system": the first). */
  prefer?: DnsPreference;
}

/**
 * One lookup of a host name with a timeout, as a Resolution (never throws). Shared by
 * the Resolver and the DNS source of mesh peers, so both report failures alike.
 */
export async function lookupHost(host: string, opts: LookupHostOptions): Promise<Resolution> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`lookup of ${host} took longer than ${opts.timeoutMs}ms`), { code: 'ETIMEOUT' })), opts.timeoutMs);
    // Not unref'ed: it is short and cleared as soon as the lookup settles, and an
    // awaited refresh must be able to finish even when nothing else keeps the loop alive.
  });
  try {
    const addrs = await Promise.race([(opts.lookup ?? realLookup)(host), timeout]);
    const pick = pickAddress(addrs, opts.prefer ?? 'system');
    if (pick === null) return { status: 'error', code: 'ENODATA', message: `${host} has no addresses` };
    return { status: 'ok', ip: pick.address, family: pick.family, addresses: addrs.map((a) => a.address) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { status: 'error', code: err.code ?? 'EUNKNOWN', message: err.message };
  } finally {
    clearTimeout(timer);
  }
}

/** The host part a target needs resolved, or null when it needs no DNS here (http resolves in its own client). */
export function hostOf(spec: Pick<TargetSpec, 'kind' | 'address' | 'url'>): string | null {
  if (spec.kind === 'http') return null;
  if (spec.kind === 'icmp') return spec.address;
  const hp = parseHostPort(spec.address);
  return typeof hp === 'string' ? spec.address : hp.host;
}

/** Pick the address to probe: first of the preferred family if any, else the first. */
export function pickAddress(addrs: ReadonlyArray<{ address: string; family: number }>, prefer: DnsPreference): { address: string; family: 4 | 6 } | null {
  if (addrs.length === 0) return null;
  let chosen = addrs[0];
  if (prefer !== 'system') {
    const want = prefer === 'ipv4' ? 4 : 6;
    chosen = addrs.find((a) => a.family === want) ?? chosen;
  }
  return { address: chosen.address, family: chosen.family === 6 ? 6 : 4 };
}

function literal(host: string): Resolution | null {
  const fam = isIP(host);
  return fam === 0 ? null : { status: 'ok', ip: host, family: fam as 4 | 6, addresses: [host] };
}

/** The resolution of an http target: its URL host as is (its HTTP client resolves and times DNS itself). */
export function httpResolution(spec: Pick<TargetSpec, 'url'>): Resolution {
  const u = parseHttpUrl(spec.url);
  if (typeof u === 'string') return { status: 'error', code: 'EINVAL', message: `url ${u}` };
  const fam = isIP(u.host);
  return { status: 'ok', ip: u.host, family: fam === 6 ? 6 : 4, addresses: fam === 0 ? [] : [u.host] };
}

function same(a: Resolution | undefined, b: Resolution): boolean {
  if (a === undefined || a.status !== b.status) return false;
  if (a.status === 'ok' && b.status === 'ok') return a.ip === b.ip && a.family === b.family;
  if (a.status === 'error' && b.status === 'error') return a.code === b.code;
  return false;
}

export class Resolver {
  readonly #opts: Required<Omit<ResolverOptions, 'onChange' | 'onError'>> & Pick<ResolverOptions, 'onChange' | 'onError'>;
  /** target name -> spec fields that matter for resolution. */
  #targets = new Map<string, Pick<TargetSpec, 'kind' | 'address' | 'url'>>();
  #results = new Map<string, Resolution>();
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<ResolutionChange[]> | undefined;

  constructor(opts: ResolverOptions) {
    this.#opts = { prefer: 'system', concurrency: 4, timeoutMs: 5000, lookup: realLookup, ...opts };
  }

  /** Replace the set of targets; results of names no longer present are forgotten. */
  setTargets(specs: Iterable<Pick<TargetSpec, 'name' | 'kind' | 'address' | 'url'>>): void {
    const next = new Map<string, Pick<TargetSpec, 'kind' | 'address' | 'url'>>();
    for (const s of specs) {
      // The spec itself (read, never changed): a copy of its three fields was one more object per target.
      next.set(s.name, s);
      const prev = this.#targets.get(s.name);
      // A changed address invalidates the old answer.
      if (prev && (prev.address !== s.address || prev.kind !== s.kind || prev.url !== s.url)) this.#results.delete(s.name);
    }
    for (const name of this.#results.keys()) if (!next.has(name)) this.#results.delete(name);
    this.#targets = next;
  }

  get(name: string): Resolution | undefined {
    return this.#results.get(name);
  }

  results(): ReadonlyMap<string, Resolution> {
    return this.#results;
  }

  /**
   * Resolve every target now (each distinct host once). Concurrent calls share one
   * run. Resolves with the changes (also passed to onChange).
   */
  refresh(): Promise<ResolutionChange[]> {
    this.#inFlight ??= this.#run([...this.#targets], true).finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /**
   * Resolve only the targets without an answer yet (names just added by setTargets),
   * without calling onChange: the caller applies them itself. A target added over the
   * API thus costs one lookup, not a refresh of the whole fleet.
   */
  async resolveMissing(): Promise<void> {
    const missing = [...this.#targets].filter(([name]) => !this.#results.has(name));
    if (missing.length > 0) await this.#run(missing, false);
  }

  /** Refresh now and then every refreshIntervalMs; the timer never keeps the process alive. */
  start(): Promise<ResolutionChange[]> {
    this.schedule();
    return this.refresh();
  }

  /**
   * Refresh every refreshIntervalMs from now on, without a refresh now: for a resolver
   * that was refreshed before it went live (a reload resolves new names first, then
   * swaps resolvers).
   */
  schedule(): void {
    this.stop();
    this.#timer = setInterval(() => {
      this.refresh().catch((e) => this.#opts.onError?.(e));
    }, this.#opts.refreshIntervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #run(targets: Array<[string, Pick<TargetSpec, 'kind' | 'address' | 'url'>]>, notify: boolean): Promise<ResolutionChange[]> {
    // Each target's host and, for IP literals, its resolution, computed once per run.
    const hostOfTarget = new Array<string | null>(targets.length);
    const literals = new Map<string, Resolution>();
    const hosts = new Map<string, Resolution | undefined>();
    for (let i = 0; i < targets.length; i++) {
      const h = hostOf(targets[i][1]);
      hostOfTarget[i] = h;
      if (h === null || literals.has(h) || hosts.has(h)) continue;
      const lit = literal(h);
      if (lit !== null) literals.set(h, lit);
      else hosts.set(h, undefined);
    }
    const queue = [...hosts.keys()];
    let next = 0; // an index, not shift(): shift() is O(n) and the queue may hold every target's host
    const worker = async () => {
      while (next < queue.length) {
        const h = queue[next++];
        hosts.set(h, await this.#resolveHost(h));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#opts.concurrency, queue.length) }, worker));

    const changes: ResolutionChange[] = [];
    for (let i = 0; i < targets.length; i++) {
      const [name, t] = targets[i];
      if (this.#targets.get(name) !== t) continue; // replaced by setTargets while we were resolving
      const h = hostOfTarget[i];
      const current = h === null ? httpResolution(t) : (literals.get(h) ?? hosts.get(h)!); // every host was resolved above
      const previous = this.#results.get(name);
      if (!same(previous, current)) changes.push({ name, previous, current });
      this.#results.set(name, current);
    }
    if (notify && changes.length > 0) this.#opts.onChange?.(changes);
    return changes;
  }

  #resolveHost(host: string): Promise<Resolution> {
    return lookupHost(host, { lookup: this.#opts.lookup, timeoutMs: this.#opts.timeoutMs, prefer: this.#opts.prefer });
  }
}

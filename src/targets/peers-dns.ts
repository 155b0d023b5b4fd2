/**
 * Mesh peers from DNS: the A/AAAA records of one name (a Kubernetes headless Service
 * lists one address per ready — or, with publishNotReadyAddresses, per running — pod).
 *
 * Re-resolved every dns.refresh_interval, so peers that join or leave are picked up
 * without a reload. Each address is a peer named by the address itself: stable for
 * as long as the peer keeps its address, and needs no reverse lookup (which would be
 * one more thing to fail). A failed lookup keeps the last good peer set — a resolver
 * hiccup must not tear the mesh down — and is reported (log, metric, status).
 */
import { isIP } from 'node:net';
import type { MeshPeer } from './model.js';
import { lookupHost, type DnsPreference, type LookupAll } from './resolve.js';
import { normaliseIp } from './mesh.js';

/**
 * The peers an answer stands for: addresses normalised and deduplicated, of the family
 * `prefer` asks for when the answer has any of it (dual-stack pods would otherwise be
 * two peers each), sorted so that a resolver rotating its answers changes nothing. Pure.
 */
export function peersFromAddresses(host: string, addresses: readonly string[], prefer: DnsPreference): MeshPeer[] {
  let ips = [...new Set(addresses.map(normaliseIp).filter((a) => isIP(a) !== 0))];
  if (prefer !== 'system') {
    const want = prefer === 'ipv4' ? 4 : 6;
    if (ips.some((a) => isIP(a) === want)) ips = ips.filter((a) => isIP(a) === want);
  }
  ips.sort(compareIps);
  return ips.map((ip) => ({ name: ip, address: ip, labels: {}, source: `mesh.peers_dns ${host}` }));
}

/** IPv4 before IPv6, numerically within a family. */
function compareIps(a: string, b: string): number {
  const fa = isIP(a);
  const fb = isIP(b);
  if (fa !== fb) return fa - fb;
  if (fa === 4) {
    const n = (s: string) => s.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    return n(a) - n(b);
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Configured peers plus DNS peers. A DNS peer whose address (or name) is already a
 * configured peer is that peer: the configured one, with its name and labels, wins.
 */
export function mergePeers(configured: readonly MeshPeer[], fromDns: readonly MeshPeer[]): MeshPeer[] {
  const names = new Set(configured.map((p) => p.name));
  const addresses = new Set(configured.filter((p) => isIP(p.address) !== 0).map((p) => normaliseIp(p.address)));
  return [...configured, ...fromDns.filter((p) => !names.has(p.name) && !addresses.has(p.address))];
}

function samePeers(a: readonly MeshPeer[], b: readonly MeshPeer[]): boolean {
  return a.length === b.length && a.every((p, i) => p.address === b[i].address);
}

export interface DnsPeersStatus {
  name: string;
  /** Addresses of the current peer set (the last good answer). */
  peers: string[];
  lookups: number;
  failures: number;
  /** Unix ms of the last successful lookup, or null before the first. */
  lastSuccessAt: number | null;
  /** The last lookup's error, or null when it succeeded. */
  error: { code: string; message: string } | null;
}

export interface DnsPeersOptions {
  host: string;
  refreshIntervalMs: number;
  prefer: DnsPreference;
  /** A lookup slower than this fails with ETIMEOUT (default 5000 ms). */
  timeoutMs?: number;
  /** Substitute lookup, only to inject faults the real resolver cannot produce. */
  lookup?: LookupAll;
  /**
   * The peer set to start from (a reload's new instance starts from the live one's last
   * good answer, so a failed lookup during the reload keeps it).
   */
  seed?: readonly MeshPeer[];
  /** After a timer-driven refresh that changed the peer set. */
  onChange?: (peers: MeshPeer[]) => void;
  /** After every lookup: error is null on success (a failure keeps the peer set). */
  onLookup?: (error: { code: string; message: string } | null) => void;
  now?: () => number;
}

export class DnsPeers {
  readonly host: string;
  readonly #opts: DnsPeersOptions;
  #peers: MeshPeer[] = [];
  #lookups = 0;
  #failures = 0;
  #lastSuccessAt: number | null = null;
  #error: { code: string; message: string } | null = null;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<boolean> | undefined;

  constructor(opts: DnsPeersOptions) {
    this.host = opts.host;
    this.#opts = opts;
    this.#peers = opts.seed ? [...opts.seed] : [];
  }

  /** The current peer set (the last good answer; empty before the first). */
  peers(): MeshPeer[] {
    return this.#peers;
  }

  status(): DnsPeersStatus {
    return {
      name: this.host,
      peers: this.#peers.map((p) => p.address),
      lookups: this.#lookups,
      failures: this.#failures,
      lastSuccessAt: this.#lastSuccessAt,
      error: this.#error,
    };
  }

  /** Look the name up now; resolves true when the peer set changed. Concurrent calls share one lookup. */
  refresh(): Promise<boolean> {
    this.#inFlight ??= this.#run().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /** The first lookup now (awaited), then one every refreshIntervalMs on an unref'ed timer. */
  async start(): Promise<void> {
    this.stop();
    await this.refresh();
    this.schedule();
  }

  /** Look the name up again every refreshIntervalMs (no lookup now); onChange reports changed sets. */
  schedule(): void {
    this.stop();
    this.#timer = setInterval(() => {
      void this.refresh().then((changed) => {
        if (changed) this.#opts.onChange?.(this.#peers);
      });
    }, this.#opts.refreshIntervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #run(): Promise<boolean> {
    const r = await lookupHost(this.host, { lookup: this.#opts.lookup, timeoutMs: this.#opts.timeoutMs ?? 5000 });
    this.#lookups++;
    if (r.status === 'error') {
      this.#failures++;
      this.#error = { code: r.code, message: r.message };
      this.#opts.onLookup?.(this.#error);
      return false;
    }
    this.#error = null;
    this.#lastSuccessAt = (this.#opts.now ?? Date.now)();
    this.#opts.onLookup?.(null);
    const next = peersFromAddresses(this.host, r.addresses, this.#opts.prefer);
    if (samePeers(this.#peers, next)) return false;
    this.#peers = next;
    return true;
  }
}

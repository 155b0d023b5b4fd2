/**
 * Pure helpers that shape a benchmark fleet on loopback: distinct 127.a.b.c
 * addresses, the target-file entries for each probe kind, and the fine RTT
 * bucket layout used to read percentiles back from the exporter's histograms.
 *
 * Loopback only, by construction: every address produced here is inside
 * 127.0.0.0/8 (network-safety rule of the project).
 */

/** Host parts 0 and 255 are skipped (network/broadcast look-alikes confuse readers and some tools). */
const HOSTS_PER_C = 254;
/** 127.a.b.c with a in 0..255, b in 0..255, c in 1..254. */
export const MAX_LOOPBACK_ADDRESSES = 256 * 256 * HOSTS_PER_C;

/**
 * The i-th benchmark address (0-based): 127.a.b.c, c in 1..254. Index 0 is
 * 127.0.0.1; consecutive indexes fill c first, then b, then a.
 */
export function loopbackAddress(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= MAX_LOOPBACK_ADDRESSES) throw new RangeError(`loopback address index ${i} out of range`);
  const c = (i % HOSTS_PER_C) + 1;
  const rest = Math.floor(i / HOSTS_PER_C);
  return `127.${Math.floor(rest / 256)}.${rest % 256}.${c}`;
}

/** `n` distinct loopback addresses, skipping the first `skip` indexes (e.g. to leave 127.0.0.1 to servers). */
export function loopbackAddresses(n: number, skip = 0): string[] {
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = loopbackAddress(i + skip);
  return out;
}

/** `k` indexes spread evenly over 0..n-1 (first and last included when k ≥ 2). */
export function spreadIndexes(n: number, k: number): number[] {
  if (n <= 0 || k <= 0) return [];
  if (k >= n) return Array.from({ length: n }, (_, i) => i);
  if (k === 1) return [0];
  const out: number[] = [];
  for (let j = 0; j < k; j++) out.push(Math.round((j * (n - 1)) / (k - 1)));
  return out;
}

export type BenchKind = 'icmp' | 'tcp' | 'tcp_echo' | 'udp' | 'http';
export const BENCH_KINDS: readonly BenchKind[] = ['icmp', 'tcp', 'tcp_echo', 'udp', 'http'];

/** One entry of a target file (tcp_ping_prometheus style JSON array). */
export interface TargetEntry {
  name: string;
  kind: BenchKind;
  address?: string;
  url?: string;
}

/** A responder endpoint the tcp/tcp_echo/udp/http targets are spread over. */
export interface Endpoint {
  host: string;
  port: number;
}

/**
 * Target entries for `n` targets of `kind`. icmp: one distinct loopback address
 * each. tcp/tcp_echo/udp/http: round-robin over the responder endpoints (a TCP listener
 * binds one address, so the responders, not the targets, bound the address count).
 * Names are short on purpose: they are repeated on every exposition line.
 */
export function targetEntries(kind: BenchKind, n: number, endpoints: readonly Endpoint[] = []): TargetEntry[] {
  if (kind === 'icmp') return loopbackAddresses(n).map((address, i) => ({ name: `t${i}`, kind, address }));
  if (endpoints.length === 0) throw new Error(`${kind} targets need at least one responder endpoint`);
  const out: TargetEntry[] = [];
  for (let i = 0; i < n; i++) {
    const ep = endpoints[i % endpoints.length];
    if (kind === 'tcp' || kind === 'tcp_echo' || kind === 'udp') out.push({ name: `t${i}`, kind, address: `${ep.host}:${ep.port}` });
    else out.push({ name: `t${i}`, kind, url: `http://${ep.host}:${ep.port}/v1/ping` });
  }
  return out;
}

/**
 * Fine RTT buckets (seconds): `stepUs` steps up to 1 ms, then a coarse tail to
 * 10 s so slow outliers still land in a finite bucket. Loopback RTTs sit well
 * under 1 ms, where the default doubling buckets (50, 100, 200, 400 µs...) are
 * too coarse to tell a p50 of 60 µs from one of 95 µs.
 */
export function fineRttBuckets(stepUs: number): number[] {
  if (!(stepUs > 0) || 1000 % stepUs !== 0) throw new RangeError(`rtt step ${stepUs} µs must divide 1000`);
  const out: number[] = [];
  for (let us = stepUs; us <= 1000; us += stepUs) out.push(us / 1e6);
  for (const ms of [1.25, 1.5, 2, 3, 5, 7.5, 10, 20, 50, 100, 250, 500, 1000, 2500, 5000, 10000]) out.push(ms / 1000);
  // Round away float noise (0.000015000000000000002) so the config and the exposition agree.
  return out.map((s) => Number(s.toPrecision(12)));
}

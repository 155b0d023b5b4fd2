/**
 * `fleetprobe run --target ADDRESS`: a target entry from the form of its address, for a
 * quick prober without a config file. Pure.
 *
 *   http://… / https://…      http   (the URL)
 *   tcp://HOST:PORT            tcp    (connect time)
 *   tcp-echo://HOST:PORT       tcp_echo (needs an echo responder at the other end)
 *   udp://HOST:PORT            udp    (needs a UDP echo server)
 *   icmp://HOST                icmp
 *   HOST:PORT, [V6]:PORT       tcp    (a connect works against any listening service)
 *   IP or host name            icmp
 *
 * Target files read "HOST:PORT" as tcp_echo instead (the tcp_ping_prometheus format they
 * follow); on the command line a bare port most likely means "is this service
 * reachable", which only a connect answers for every service.
 *
 * The target's name is the flag's value as written. The entry goes through the same
 * checks as an inline target (parseTargetEntry), so a bad address is named there.
 */
import type { ProbeKind } from './model.js';
import { parseHostPort } from './address.js';

/** URL-like prefixes and the kind each one selects. */
export const TARGET_SCHEMES: Readonly<Record<string, ProbeKind>> = {
  'http://': 'http',
  'https://': 'http',
  'tcp://': 'tcp',
  'tcp-echo://': 'tcp_echo',
  'tcp_echo://': 'tcp_echo',
  'udp://': 'udp',
  'icmp://': 'icmp',
};

export type FlagTarget = { ok: true; entry: Record<string, unknown> } | { ok: false; message: string };

export function targetFromFlag(value: string): FlagTarget {
  const v = value.trim();
  if (v === '') return { ok: false, message: 'needs an address: an IP or host name (icmp), host:port (tcp), or a URL such as udp://host:port' };
  const scheme = /^([a-z][a-z0-9+._-]*):\/\//i.exec(v);
  if (scheme) {
    const prefix = `${scheme[1].toLowerCase()}://`;
    const kind = TARGET_SCHEMES[prefix];
    if (kind === undefined) {
      return { ok: false, message: `unknown scheme "${scheme[1]}://"; use ${[...new Set(Object.keys(TARGET_SCHEMES))].join(', ')} or no scheme` };
    }
    if (kind === 'http') return { ok: true, entry: { name: v, kind, url: v } };
    const rest = v.slice(prefix.length).replace(/\/$/, '');
    return { ok: true, entry: { name: v, kind, address: rest } };
  }
  const kind: ProbeKind = typeof parseHostPort(v) === 'string' ? 'icmp' : 'tcp';
  return { ok: true, entry: { name: v, kind, address: v } };
}

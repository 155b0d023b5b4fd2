/**
 * The process's own listeners must not collide with each other: two of them on the
 * same TCP port would fail at start with EADDRINUSE, and the message would blame
 * "another process" when it is this one. Caught here, by check-config too, naming
 * both keys. Pure.
 */
import { isIP } from 'node:net';
import { parseHostPort } from '../targets/address.js';
import type { ConfigProblem } from './errors.js';

/** Listener keys that are UDP (every other listener key is TCP). */
const UDP_LISTENERS: ReadonlySet<string> = new Set(['responder.udp_echo']);

interface Bound {
  key: string;
  value: string;
  host: string;
  port: number;
  udp: boolean;
}

/** Both bind the same port: the same host, or one of them listens on every address (of its family). */
function overlaps(a: Bound, b: Bound): boolean {
  if (a.udp !== b.udp || a.port !== b.port || a.port === 0) return false;
  const wildcard = (h: string): 4 | 6 | 0 | null => (h === '' || h === '::' ? 6 : h === '0.0.0.0' ? 4 : null);
  const wa = wildcard(a.host);
  const wb = wildcard(b.host);
  // "::" (and ":port") listen dual-stack; "0.0.0.0" takes every IPv4 address.
  if (wa === 6 || wb === 6) return true;
  if (wa === 4) return isIP(b.host) !== 6;
  if (wb === 4) return isIP(a.host) !== 6;
  return a.host.toLowerCase() === b.host.toLowerCase();
}

/**
 * One problem per listener that takes a port an earlier one has. `listeners` maps a
 * config key to its "host:port" (null: off); unparseable values are skipped (their own
 * check reports them).
 */
export function listenerCollisions(listeners: Readonly<Record<string, string | null>>): ConfigProblem[] {
  const bound: Bound[] = [];
  for (const [key, value] of Object.entries(listeners)) {
    if (value === null) continue;
    const hp = parseHostPort(value, { allowEmptyHost: true, allowPortZero: true });
    if (typeof hp === 'string') continue;
    bound.push({ key, value, host: hp.host, port: hp.port, udp: UDP_LISTENERS.has(key) });
  }
  const problems: ConfigProblem[] = [];
  for (let i = 0; i < bound.length; i++) {
    const other = bound.slice(0, i).find((b) => overlaps(b, bound[i]));
    if (other) {
      problems.push({
        key: bound[i].key,
        value: bound[i].value,
        message: `takes the same ${bound[i].udp ? 'UDP' : 'TCP'} port as ${other.key} (${JSON.stringify(other.value)}); give each listener its own port`,
      });
    }
  }
  return problems;
}

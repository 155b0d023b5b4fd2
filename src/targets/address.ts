/**
 * Address syntax per probe kind. Pure: no DNS here, only "could this be sent to".
 *
 * icmp: an IP literal or a host name. tcp/tcp_echo/udp: "host:port" or "[v6]:port"
 * (a bare v6 literal with a port is ambiguous, so brackets are required).
 * http: an absolute http:// or https:// URL.
 */
import { isIP } from 'node:net';

/** RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens, <= 253 chars. */
const HOST_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

export function isHostName(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  const labels = name.split('.');
  // An all-numeric dotted name ("1.2.3.999") is a mistyped IPv4 address, not a host name.
  if (labels.every((l) => /^\d+$/.test(l))) return false;
  return labels.every((l) => HOST_LABEL.test(l));
}

/** 4 or 6 for an IP literal (no brackets), 0 otherwise. */
export function ipFamily(s: string): 0 | 4 | 6 {
  return isIP(s) as 0 | 4 | 6;
}

/** Why `s` is not an IP literal or host name, or null when it is one. */
export function checkHost(s: unknown): string | null {
  if (typeof s !== 'string' || s.trim() === '') return 'must be an IPv4/IPv6 address or a host name';
  if (s !== s.trim()) return 'must not have surrounding spaces';
  if (s.startsWith('[') && s.endsWith(']')) return 'write an IPv6 address without brackets here';
  if (isIP(s) !== 0 || isHostName(s)) return null;
  if (s.includes(':') && !s.includes('::') && /:\d+$/.test(s) && s.split(':').length === 2) {
    return 'must not have a port for this kind (icmp takes an address only)';
  }
  return 'is neither a valid IPv4/IPv6 address nor a valid host name';
}

export interface HostPort {
  /** IP literal without brackets, or host name. */
  host: string;
  port: number;
}

/**
 * Parse "host:port" / "[v6]:port". `allowEmptyHost` accepts ":9798" (listen on all
 * addresses), `allowPortZero` accepts port 0 (listen on an ephemeral port).
 */
export function parseHostPort(s: unknown, opts: { allowEmptyHost?: boolean; allowPortZero?: boolean } = {}): HostPort | string {
  if (typeof s !== 'string' || s === '') return 'must be "host:port" or "[ipv6]:port"';
  let host: string;
  let portText: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0 || s[close + 1] !== ':') return 'must be "[ipv6]:port"';
    host = s.slice(1, close);
    portText = s.slice(close + 2);
    if (isIP(host) !== 6) return `"${host}" in brackets is not an IPv6 address`;
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) return 'has no port; write "host:port" or "[ipv6]:port"';
    host = s.slice(0, colon);
    portText = s.slice(colon + 1);
    // Phrased to read after a key or a field name ("address must be written ...").
    if (host.includes(':')) return 'must be written "[ipv6]:port" (an IPv6 address with a port needs brackets)';
    if (host === '') {
      if (!opts.allowEmptyHost) return 'has an empty host';
    } else if (isIP(host) === 0 && !isHostName(host)) {
      return `"${host}" is neither a valid IP address nor a valid host name`;
    }
  }
  if (!/^\d{1,5}$/.test(portText)) return `port "${portText}" is not a number 1-65535`;
  const port = Number(portText);
  if (port > 65535 || (port === 0 && !opts.allowPortZero)) return `port ${port} is out of range 1-65535`;
  return { host, port };
}

export function checkHostPort(s: unknown): string | null {
  const r = parseHostPort(s);
  return typeof r === 'string' ? r : null;
}

export interface HttpUrl {
  url: string;
  /** Host without brackets. */
  host: string;
  port: number;
  tls: boolean;
}

/** Parse an absolute http/https URL; a string reason when it is not one. */
export function parseHttpUrl(s: unknown): HttpUrl | string {
  if (typeof s !== 'string' || s === '') return 'must be an http:// or https:// URL';
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return 'is not a valid URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `scheme "${u.protocol.slice(0, -1)}" is not http or https`;
  if (u.username !== '' || u.password !== '') return 'must not carry credentials';
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  if (host === '') return 'has no host';
  const tls = u.protocol === 'https:';
  const port = u.port === '' ? (tls ? 443 : 80) : Number(u.port);
  return { url: u.href, host, port, tls };
}

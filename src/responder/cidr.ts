/**
 * Source-address allowlist: pure parsing and matching of IPv4 / IPv6 CIDRs.
 *
 * Every address and every network is held as 128 bits (four uint32 words). An IPv4
 * address a.b.c.d is stored as its IPv4-mapped IPv6 form ::ffff:a.b.c.d and an IPv4
 * prefix /p becomes /(96+p). One representation gives the subtle cases for free:
 *  - a dual-stack listener (bound to "::") reports IPv4 peers as "::ffff:10.1.2.3";
 *    they match "10.0.0.0/8" exactly as "10.1.2.3" does;
 *  - "::ffff:0:0/96" matches every IPv4 peer, "0.0.0.0/0" matches only IPv4 peers
 *    (plain and mapped), "::/0" matches everything.
 * Zone identifiers ("fe80::1%eth0") are ignored when matching a peer address; a CIDR
 * in the configuration must not carry one.
 *
 * A CIDR whose host bits are set ("10.1.2.3/8") is rejected rather than silently
 * masked: it is almost always a typo for a different network. A bare address is
 * a /32 (IPv4) or /128 (IPv6).
 *
 * An EMPTY allowlist allows every source (the documented default: a responder is
 * meant to be probed by a whole fleet). To restrict, list the networks.
 */

export class CidrError extends Error {
  readonly code = 'FP_ERR_CIDR_INVALID';
  constructor(
    readonly input: string,
    why: string,
  ) {
    super(`invalid CIDR "${input}": ${why}`);
    this.name = 'CidrError';
  }
}

/** One parsed network: 128-bit base (host bits zero) and prefix length 0..128. */
export interface Cidr {
  /** The text as configured (for logs and errors). */
  readonly text: string;
  /** 4 for networks written in IPv4 notation, 6 otherwise. */
  readonly family: 4 | 6;
  /** Prefix length in the 128-bit space (IPv4 /p is stored as 96+p). */
  readonly prefix128: number;
  /** Network base, four big-endian uint32 words. */
  readonly words: Uint32Array;
  /** Mask words for prefix128 (precomputed so matching is four AND/compares). */
  readonly mask: Uint32Array;
}

/**
 * Parse an IPv4 or IPv6 address literal into `out` (four words) as 128 bits.
 * Returns 4 or 6 (the notation used), or 0 if the text is not an address.
 * No allocation on the IPv4 path: this runs once per accepted connection.
 */
export function parseAddress128(text: string, out: Uint32Array): 0 | 4 | 6 {
  let end = text.indexOf('%');
  if (end < 0) end = text.length;
  if (text.indexOf(':') < 0) {
    const v4 = parseIPv4(text, 0, end);
    if (v4 < 0) return 0;
    out[0] = 0;
    out[1] = 0;
    out[2] = 0xffff;
    out[3] = v4;
    return 4;
  }
  return parseIPv6(text, end, out) ? 6 : 0;
}

/** Parse a dotted quad in text[start, end) to a uint32, or -1. Strict: 4 parts, 0..255, no leading zeros. */
function parseIPv4(text: string, start: number, end: number): number {
  let value = 0;
  let parts = 0;
  let i = start;
  while (parts < 4) {
    const partStart = i;
    let part = 0;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      i++;
    }
    const digits = i - partStart;
    // Leading zeros are refused: "010" is octal to inet_aton and decimal to others.
    if (digits === 0 || (digits > 1 && text.charCodeAt(partStart) === 48)) return -1;
    value = value * 256 + part;
    parts++;
    if (parts < 4) {
      if (i >= end || text.charCodeAt(i) !== 46 /* . */) return -1;
      i++;
    }
  }
  return i === end ? value >>> 0 : -1;
}

/** Value of one hex digit, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

// Scratch for the 8 groups of an IPv6 address; module-level, used synchronously only.
const groups = new Uint16Array(8);

/** Parse IPv6 text[0, end) (with "::" and an optional dotted-quad tail) into out. */
function parseIPv6(text: string, end: number, out: Uint32Array): boolean {
  let count = 0; // groups written before "::" then after it, contiguously
  let gap = -1; // index in groups where "::" stands
  let i = 0;
  if (end >= 2 && text.charCodeAt(0) === 58 && text.charCodeAt(1) === 58) {
    gap = 0;
    i = 2;
    if (i === end) {
      groups.fill(0);
      writeGroups(out);
      return true;
    }
  } else if (end >= 1 && text.charCodeAt(0) === 58) {
    return false; // a single leading ':'
  }
  while (i < end) {
    if (count >= 8) return false;
    // A dotted-quad tail takes the last two groups.
    const nextColon = text.indexOf(':', i);
    const partEnd = nextColon < 0 || nextColon > end ? end : nextColon;
    if (partEnd === end && text.indexOf('.', i) >= 0 && text.indexOf('.', i) < end) {
      if (count > 6) return false;
      const v4 = parseIPv4(text, i, end);
      if (v4 < 0) return false;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      break;
    }
    let value = 0;
    let digits = 0;
    while (i < end) {
      const d = hexDigit(text.charCodeAt(i));
      if (d < 0) break;
      value = value * 16 + d;
      digits++;
      i++;
    }
    if (digits === 0 || digits > 4) return false;
    groups[count++] = value;
    if (i === end) break;
    if (text.charCodeAt(i) !== 58) return false;
    i++;
    if (i < end && text.charCodeAt(i) === 58) {
      if (gap >= 0) return false; // a second "::"
      gap = count;
      i++;
      if (i === end) break;
    } else if (i === end) {
      return false; // trailing single ':'
    }
  }
  if (gap < 0) {
    if (count !== 8) return false;
  } else {
    // "::" stands for at least one zero group.
    if (count > 7) return false;
    const tail = count - gap;
    for (let k = 0; k < tail; k++) groups[7 - k] = groups[count - 1 - k];
    for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  }
  writeGroups(out);
  return true;
}

function writeGroups(out: Uint32Array): void {
  for (let w = 0; w < 4; w++) out[w] = ((groups[2 * w] << 16) | groups[2 * w + 1]) >>> 0;
}

function maskWords(prefix128: number): Uint32Array {
  const mask = new Uint32Array(4);
  for (let w = 0; w < 4; w++) {
    const bits = Math.max(0, Math.min(32, prefix128 - 32 * w));
    mask[w] = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  }
  return mask;
}

/** Parse one CIDR ("10.0.0.0/8", "fd00::/8", "192.0.2.7", "::ffff:0:0/96"). Throws CidrError. */
export function parseCidr(input: string): Cidr {
  const text = input.trim();
  if (text.indexOf('%') >= 0) throw new CidrError(input, 'a zone identifier is not allowed in a network');
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const words = new Uint32Array(4);
  const family = parseAddress128(addressText, words);
  if (family === 0) throw new CidrError(input, 'not an IPv4 or IPv6 address');
  const maxPrefix = family === 4 ? 32 : 128;
  let prefix = maxPrefix;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) throw new CidrError(input, 'prefix length must be a decimal integer');
    prefix = Number(p);
    if (prefix > maxPrefix) throw new CidrError(input, `prefix length must be 0..${maxPrefix}`);
  }
  const prefix128 = family === 4 ? 96 + prefix : prefix;
  const mask = maskWords(prefix128);
  for (let w = 0; w < 4; w++) {
    if ((words[w] & ~mask[w]) !== 0) {
      throw new CidrError(input, 'host bits are set (did you mean the network address?)');
    }
  }
  return { text, family, prefix128, words, mask };
}

/** True if the 128-bit address `addr` lies inside `cidr`. */
export function cidrContains(cidr: Cidr, addr: Uint32Array): boolean {
  const m = cidr.mask;
  const n = cidr.words;
  return (addr[0] & m[0]) >>> 0 === n[0] && (addr[1] & m[1]) >>> 0 === n[1] && (addr[2] & m[2]) >>> 0 === n[2] && (addr[3] & m[3]) >>> 0 === n[3];
}

/** Compiled allowlist of source networks. */
export class Allowlist {
  /** True when the list is empty: every source is allowed and nothing is parsed. */
  readonly allowsAll: boolean;
  readonly cidrs: readonly Cidr[];
  // One scratch per allowlist; allows() is synchronous so it is never shared mid-use.
  private readonly scratch = new Uint32Array(4);

  constructor(cidrs: readonly string[]) {
    this.cidrs = cidrs.map(parseCidr);
    this.allowsAll = this.cidrs.length === 0;
  }

  /**
   * May a peer with this address (as node reports it: "127.0.0.1", "::1",
   * "::ffff:127.0.0.1", "fe80::1%lo") talk to us? An unparsable or missing address
   * is refused (fail closed) unless the list allows all.
   */
  allows(address: string | undefined): boolean {
    if (this.allowsAll) return true;
    if (address === undefined || parseAddress128(address, this.scratch) === 0) return false;
    const list = this.cidrs;
    for (let i = 0; i < list.length; i++) if (cidrContains(list[i], this.scratch)) return true;
    return false;
  }
}

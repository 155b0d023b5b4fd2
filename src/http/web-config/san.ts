/**
 * client_allowed_sans: a client certificate is accepted only when one of its Subject
 * Alternative Names (DNS, IP, e-mail or URI) is exactly one of the configured values,
 * as exporter-toolkit's VerifyPeerCertificate does. Pure.
 *
 * Node gives the SANs as one string (PeerCertificate.subjectaltname,
 * X509Certificate.subjectAltName): "DNS:a.example, IP Address:127.0.0.1, email:x@y,
 * URI:spiffe://td/x", a value with special characters written as a JSON string
 * (DNS:"a, b"), IPv6 addresses expanded in capitals (IP Address:FE80:0:0:0:0:0:1:2).
 * Go writes IPs in their short form (fe80::1:2), so IPs are compared canonicalized.
 */
import { isIP } from 'node:net';

export interface SubjectAltNames {
  dns: string[];
  ip: string[];
  email: string[];
  uri: string[];
}

const TYPES: Readonly<Record<string, keyof SubjectAltNames>> = {
  DNS: 'dns',
  'IP Address': 'ip',
  email: 'email',
  URI: 'uri',
};

/** An IP address in one spelling per address (IPv6 compressed, lower case); other strings unchanged. */
export function canonicalIp(s: string): string {
  const v = isIP(s);
  if (v === 6) return new URL(`http://[${s}]/`).hostname.slice(1, -1);
  return s;
}

/** Parse Node's subjectaltname string. Types other than DNS, IP, email and URI are skipped. */
export function parseSubjectAltNames(s: string | undefined): SubjectAltNames {
  const out: SubjectAltNames = { dns: [], ip: [], email: [], uri: [] };
  if (!s) return out;
  let i = 0;
  while (i < s.length) {
    const colon = s.indexOf(':', i);
    if (colon < 0) break;
    const type = s.slice(i, colon);
    let value: string;
    let next: number;
    if (s[colon + 1] === '"') {
      // A JSON string: find its closing quote (a backslash escapes the next character).
      let j = colon + 2;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(s.slice(colon + 1, j + 1)) as string;
      } catch {
        value = s.slice(colon + 2, j);
      }
      next = s.indexOf(', ', j + 1);
    } else {
      next = s.indexOf(', ', colon + 1);
      value = s.slice(colon + 1, next < 0 ? s.length : next);
    }
    const field = TYPES[type];
    if (field !== undefined) out[field].push(field === 'ip' ? canonicalIp(value) : value);
    if (next < 0) break;
    i = next + 2;
  }
  return out;
}

/** Whether a certificate with these SANs may connect (one SAN equals one allowed value). */
export function sanAllowed(sans: SubjectAltNames, allowed: readonly string[]): boolean {
  const values = new Set([...sans.dns, ...sans.email, ...sans.uri, ...sans.ip]);
  return allowed.some((a) => values.has(a) || values.has(canonicalIp(a)));
}

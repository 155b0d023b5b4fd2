/**
 * Who may change the running exporter (add or delete targets, reload, start tests):
 * the mutation rule of the HTTP API, declared once. Pure; the Fastify side is
 * src/http/mutation-auth.ts.
 *
 *   - a token is configured (api.token / api.token_file): every mutation must carry it
 *     as `Authorization: Bearer <token>`; without it 401 `missing_token`, with another
 *     one 401 `bad_token` — on loopback too;
 *   - no token, and every address the web server listens on is loopback: mutations are
 *     allowed (only local processes reach the port);
 *   - no token, and the web server listens on any other address (":9798", "0.0.0.0",
 *     a LAN address): mutations are refused, 403 `mutations_disabled`, with the fix in
 *     the message. A token sent then changes nothing: none is configured to match.
 *
 * Fail closed: while the listener's addresses are unknown (before it is bound) the
 * rule is `refused`.
 */
import { BlockList, isIP } from 'node:net';
import { checkBearer } from './token.js';

export type MutationRuleKind = 'token' | 'loopback' | 'refused';

export interface MutationRule {
  kind: MutationRuleKind;
  /** The web listener's addresses the rule was derived from ("127.0.0.1:9798"), for messages. */
  listen: string;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
// The IPv4 loopback net written as IPv4-mapped IPv6 (::ffff:127.0.0.1).
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** The IP of a bound address: "127.0.0.1:9798" / "[::1]:9798" / "::1" / "127.0.0.1" (zone ids dropped). */
function ipOf(address: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d+)?$/.exec(address);
  let ip = bracketed ? bracketed[1] : address;
  // One colon: IPv4 (or a name) with a port; more: a bare IPv6 address.
  if (!bracketed && ip.split(':').length === 2) ip = ip.slice(0, ip.indexOf(':'));
  return ip.replace(/%.*$/, '');
}

/** Whether a bound address (an IP literal, with or without a port) is a loopback address. */
export function isLoopbackAddress(address: string): boolean {
  const a = ipOf(address);
  const family = isIP(a);
  if (family === 0) return false;
  return LOOPBACK.check(a, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * The rule for a token (null: none configured) and the addresses the web server is
 * bound to (empty: not bound yet). Any non-loopback address among them, or none,
 * means "not on loopback".
 */
export function mutationRule(token: string | null, boundAddresses: readonly string[]): MutationRule {
  const listen = boundAddresses.length === 0 ? '(not listening yet)' : boundAddresses.join(', ');
  if (token !== null) return { kind: 'token', listen };
  const onLoopback = boundAddresses.length > 0 && boundAddresses.every((a) => isLoopbackAddress(a));
  return { kind: onLoopback ? 'loopback' : 'refused', listen };
}

export type MutationDecision = { ok: true } | { ok: false; status: 401 | 403; code: 'missing_token' | 'bad_token' | 'mutations_disabled'; message: string };

/** Whether a mutation carrying `authorization` (the raw header, if any) may proceed under `rule`. */
export function authorizeMutation(rule: MutationRule, token: string | null, authorization: string | undefined): MutationDecision {
  if (rule.kind === 'token' && token !== null) {
    const r = checkBearer(token, authorization);
    return r.ok ? r : { ok: false, status: 401, code: r.code, message: r.message };
  }
  if (rule.kind === 'loopback') return { ok: true };
  return {
    ok: false,
    status: 403,
    code: 'mutations_disabled',
    message:
      `changes over the API are disabled: no API token is configured and the web server listens on ${rule.listen}, not only on loopback; ` +
      'set api.token_file (then send "Authorization: Bearer <token>"), or listen on 127.0.0.1 (web.listen_address)',
  };
}

/** One line for the start-up log (and after a reload that changed the rule). */
export function describeMutationRule(rule: MutationRule): string {
  switch (rule.kind) {
    case 'token':
      return 'API changes (POST/DELETE /api/v1/targets and /api/v1/tests, POST /-/reload) need the API token (Authorization: Bearer)';
    case 'loopback':
      return `no API token configured: API changes (POST/DELETE /api/v1/targets and /api/v1/tests, POST /-/reload) are allowed without one because the web server listens on loopback only (${rule.listen})`;
    case 'refused':
      return `no API token configured and the web server listens on ${rule.listen}, not only on loopback: API changes (POST/DELETE /api/v1/targets and /api/v1/tests, POST /-/reload) are refused; set api.token_file to allow them`;
  }
}

/**
 * The API bearer token: its validation (config), its comparison with what a client
 * sent (HTTP `Authorization: Bearer …`, gRPC `authorization` metadata) and the rule of
 * which requests need it. Pure: the token file is read by the config loader.
 *
 * Comparison is constant-time over SHA-256 digests, so neither the token's content
 * nor its length leaks through response timing (timingSafeEqual needs equal lengths;
 * hashing first gives that without revealing the real length).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Why a token (from api.token or api.token_file) cannot be used, or null. Never echoes the token. */
export function tokenProblem(token: string): string | null {
  if (token === '') return 'is empty';
  // It travels in an HTTP header and gRPC metadata: visible ASCII only, no spaces.
  if (!/^[\x21-\x7e]+$/.test(token)) return 'must be printable ASCII without spaces or control characters';
  return null;
}

/** The token of an `Authorization` header value ("Bearer abc"; scheme case-insensitive), or null. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : null;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time equality of a presented token and the configured one. */
export function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The token settings a request is judged by (Config.api fits). */
export interface TokenPolicy {
  /** Configured token (from api.token or api.token_file), or null. */
  token: string | null;
  requireTokenForReads: boolean;
}

export type AuthResult = { ok: true } | { ok: false; code: 'missing_token' | 'bad_token'; message: string };

const OK: AuthResult = { ok: true };

/**
 * Whether a read (a live stream) may proceed: open unless a token is configured
 * and api.require_token_for_reads is on; then the request must carry it.
 */
export function authorizeRead(policy: TokenPolicy, authorization: string | undefined): AuthResult {
  if (policy.token === null || !policy.requireTokenForReads) return OK;
  return checkBearer(policy.token, authorization);
}

/** The request must carry exactly the configured token (for mutations; the caller decides what to do with no token configured). */
export function checkBearer(token: string, authorization: string | undefined): AuthResult {
  const presented = bearerToken(authorization);
  if (presented === null) return { ok: false, code: 'missing_token', message: 'this endpoint needs the API token: send "Authorization: Bearer <api.token>"' };
  if (!tokenMatches(presented, token)) return { ok: false, code: 'bad_token', message: 'the API token sent is not the configured one' };
  return OK;
}

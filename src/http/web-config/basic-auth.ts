/**
 * HTTP Basic authentication against basic_auth_users (bcrypt hashes), as
 * exporter-toolkit does it, with its two defences against bcrypt's cost:
 *
 * - A successful verification is cached. bcrypt is slow on purpose (~85 ms of CPU at
 *   cost 10 here); without a cache, Prometheus scraping every 15 s would pay that on
 *   every scrape. The cache holds a SHA-256 digest of (user, hash, password), never the
 *   password, so a changed hash (a reload) or password misses it. An entry expires
 *   after `cacheTtlMs` without use, and at most `cacheSize` are kept (the least
 *   recently used goes first). Failures are not cached: a guesser changes password on
 *   every try anyway, and a client fixed with the right password must not stay refused.
 * - Verifications run one at a time (exporter-toolkit's bcryptMtx), so a flood of
 *   wrong passwords costs at most one thread-pool thread, and at most `maxWaiting` wait
 *   (more are answered "busy" at once, 429) so the flood cannot pile up requests in
 *   memory either. The native bcrypt runs on libuv's thread pool: the main thread (the
 *   control plane: batches, scrapes) never computes a hash.
 *
 * An unknown user is verified against a configured user's hash (and refused whatever the
 * result), so the answer takes as long as for a known user: response times do not tell
 * which user names exist.
 */
import { createHash } from 'node:crypto';
import bcrypt from 'bcrypt';
import { compareForm } from './bcrypt-hash.js';

export interface BasicAuthOptions {
  /** A cached success expires after this long without use (ms). */
  cacheTtlMs?: number;
  cacheSize?: number;
  /** Verifications queued or running at once; beyond, "busy". */
  maxWaiting?: number;
  /** bcrypt comparison (default: the native library on the thread pool). */
  compare?: (password: Buffer, hash: string) => Promise<boolean>;
  /** Monotonic clock (ms). */
  now?: () => number;
}

export const BASIC_AUTH_DEFAULTS = { cacheTtlMs: 60_000, cacheSize: 100, maxWaiting: 8 } as const;

/** Why a request was refused (bounded `reason` label values). */
export type BasicAuthFailure = 'missing' | 'bad_credentials' | 'busy';

export type BasicAuthResult = { ok: true; user: string; cached: boolean } | { ok: false; reason: BasicAuthFailure };

/** User and password bytes of an `Authorization: Basic …` header, or null (absent, other scheme, not base64, no ":"). */
export function parseBasicAuthorization(header: string | undefined): { user: string; password: Buffer } | null {
  if (header === undefined) return null;
  const m = /^basic +(\S+) *$/i.exec(header);
  if (m === null) return null;
  const b64 = m[1];
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return null;
  const raw = Buffer.from(b64, 'base64');
  const colon = raw.indexOf(0x3a);
  if (colon < 0) return null;
  return { user: raw.subarray(0, colon).toString('utf8'), password: raw.subarray(colon + 1) };
}

const nativeCompare = (password: Buffer, hash: string): Promise<boolean> => bcrypt.compare(password, compareForm(hash));

export class BasicAuth {
  private users: ReadonlyMap<string, string>;
  /** A hash to verify unknown users against (see the file header). */
  private decoy: string | null;
  /** digest -> last use (ms); Map order is least recently used first. */
  private readonly cache = new Map<string, number>();
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;
  private readonly cacheTtlMs: number;
  private readonly cacheSize: number;
  private readonly maxWaiting: number;
  private readonly compare: (password: Buffer, hash: string) => Promise<boolean>;
  private readonly now: () => number;
  /** bcrypt comparisons run (the cache's misses), for the metrics. */
  verifications = 0;

  constructor(users: ReadonlyMap<string, string>, opts: BasicAuthOptions = {}) {
    this.users = users;
    this.decoy = users.values().next().value ?? null;
    this.cacheTtlMs = opts.cacheTtlMs ?? BASIC_AUTH_DEFAULTS.cacheTtlMs;
    this.cacheSize = opts.cacheSize ?? BASIC_AUTH_DEFAULTS.cacheSize;
    this.maxWaiting = opts.maxWaiting ?? BASIC_AUTH_DEFAULTS.maxWaiting;
    this.compare = opts.compare ?? nativeCompare;
    this.now = opts.now ?? (() => performance.now());
  }

  /** Basic authentication is asked for (some user is configured). */
  get enabled(): boolean {
    return this.users.size > 0;
  }

  /** New users (a reload): every cached success is dropped. */
  setUsers(users: ReadonlyMap<string, string>): void {
    this.users = users;
    this.decoy = users.values().next().value ?? null;
    this.cache.clear();
  }

  /** Cached successes (for tests and the status). */
  get cached(): number {
    return this.cache.size;
  }

  /**
   * Judge an Authorization header. A cached success (the usual case: the same scraper
   * again) is answered synchronously; a verification returns a promise.
   */
  check(authorization: string | undefined): BasicAuthResult | Promise<BasicAuthResult> {
    const creds = parseBasicAuthorization(authorization);
    if (creds === null) return { ok: false, reason: 'missing' };
    const hash = this.users.get(creds.user);
    const known = hash !== undefined;
    const against = hash ?? this.decoy;
    if (against === null) return { ok: false, reason: 'bad_credentials' };
    const key = createHash('sha256').update(creds.user).update('\0').update(against).update('\0').update(creds.password).digest('base64');
    const now = this.now();
    if (known) {
      const last = this.cache.get(key);
      if (last !== undefined) {
        this.cache.delete(key);
        if (now - last <= this.cacheTtlMs) {
          this.cache.set(key, now);
          return { ok: true, user: creds.user, cached: true };
        }
      }
    }
    if (this.waiting >= this.maxWaiting) return { ok: false, reason: 'busy' };
    return this.verify(creds.user, creds.password, against, known, key);
  }

  private async verify(user: string, password: Buffer, hash: string, known: boolean, key: string): Promise<BasicAuthResult> {
    this.waiting++;
    const run = this.tail.then(() => {
      this.verifications++;
      return this.compare(password, hash);
    });
    this.tail = run.catch(() => undefined);
    let match: boolean;
    try {
      match = await run;
    } catch {
      match = false;
    } finally {
      this.waiting--;
    }
    // The user's hash replaced (a reload) while this ran: the result is about the old one.
    if (!known || !match || this.users.get(user) !== hash) return { ok: false, reason: 'bad_credentials' };
    this.remember(key);
    return { ok: true, user, cached: false };
  }

  private remember(key: string): void {
    this.cache.delete(key);
    while (this.cache.size >= this.cacheSize) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
    this.cache.set(key, this.now());
  }
}

/**
 * bcrypt hashes as basic_auth_users holds them: "$2y$10$" + 53 characters of bcrypt's
 * base64 (22 of salt, 31 of hash). Pure: a hash is checked when the web configuration
 * is read, so a mistyped one is a configuration error naming the user, not a login that
 * can never succeed.
 *
 * $2a$, $2b$ and $2y$ are the same algorithm for any password a file can hold (they
 * differ only in bugs of old implementations with non-ASCII or 255+ byte passwords);
 * htpasswd writes $2y$, Go's bcrypt $2a$, most others $2b$. The native bcrypt library
 * knows $2a$ and $2b$ only, so $2y$ is compared as $2b$ (see compareForm()).
 */

export const BCRYPT_MIN_COST = 4;
export const BCRYPT_MAX_COST = 31;

const HASH = /^\$2([aby])\$(\d{2})\$([./A-Za-z0-9]{53})$/;

export type BcryptHashCheck = { ok: true; cost: number } | { ok: false; message: string };

/** Whether `hash` is a bcrypt hash fleetprobe can verify, and its cost. Never echoes the hash. */
export function checkBcryptHash(hash: unknown): BcryptHashCheck {
  if (typeof hash !== 'string')
    return { ok: false, message: 'must be a bcrypt hash (a string such as "$2y$10$..." from htpasswd -nBC 10 "" | tr -d \':\\n\')' };
  const m = HASH.exec(hash);
  if (m === null) {
    if (/^\$2[^aby$]?\$/.test(hash)) return { ok: false, message: 'is a bcrypt hash of an unsupported variant (use $2a$, $2b$ or $2y$)' };
    return {
      ok: false,
      message:
        'is not a bcrypt hash ("$2y$" or "$2a$"/"$2b$", a two-digit cost, "$", then 53 characters of [./A-Za-z0-9]); plain-text passwords are not accepted',
    };
  }
  const cost = Number(m[2]);
  if (cost < BCRYPT_MIN_COST || cost > BCRYPT_MAX_COST)
    return { ok: false, message: `has cost ${cost}; bcrypt costs are ${BCRYPT_MIN_COST} to ${BCRYPT_MAX_COST}` };
  return { ok: true, cost };
}

/** The form the native library compares: $2y$ as $2b$ (the same algorithm). */
export function compareForm(hash: string): string {
  return hash.startsWith('$2y$') ? `$2b$${hash.slice(4)}` : hash;
}

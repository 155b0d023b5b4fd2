// Shared by the k6 scripts: the loopback rule every script obeys, the API token header,
// and numbers read from the environment with bounds (a typo must not become an
// unbounded load).

/**
 * `url` with trailing slashes removed, or an Error when it is not an http(s) URL on
 * loopback (127.0.0.0/8, localhost, [::1]): the project sends traffic nowhere else.
 * @param {string} url
 * @param {string} name the variable it came from, for the message
 * @returns {string}
 */
export function loopbackUrl(url, name) {
  const m = /^https?:\/\/(\[[^\]]+\]|[^/:]+)(:\d+)?(\/.*)?$/.exec(url);
  const host = m ? m[1] : '';
  const loopback = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === 'localhost' || host === '[::1]';
  if (!loopback) throw new Error(`${name} must be an http(s) URL on loopback (127.0.0.0/8, localhost, [::1]), got ${url}`);
  return url.replace(/\/+$/, '');
}

/**
 * A number from the environment, its default when unset, an Error outside [min, max].
 * @param {string | undefined} raw
 * @param {number} dflt
 * @param {number} min
 * @param {number} max
 * @param {string} name
 * @returns {number}
 */
export function boundedNumber(raw, dflt, min, max, name) {
  const v = raw === undefined || raw === '' ? dflt : Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) throw new Error(`${name} must be a number from ${min} to ${max}, got ${raw}`);
  return v;
}

/**
 * Request headers for fleetprobe's API: JSON, and the bearer token when one is given
 * (changes such as starting a test need it whenever the exporter has api.token set).
 * @param {string | undefined} token
 * @returns {Record<string, string>}
 */
export function apiHeaders(token) {
  /** @type {Record<string, string>} */
  const h = { 'Content-Type': 'application/json' };
  if (token) h.Authorization = `Bearer ${token}`;
  return h;
}

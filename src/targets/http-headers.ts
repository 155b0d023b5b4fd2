/**
 * What an http probe's extra request headers may be, declared once: the config checks
 * options.headers with these rules (so a bad header is a config error or a rejected
 * file entry, with its reason), and the http prober (workers/probes/http-request.ts)
 * applies the same ones defensively when it builds the request.
 */

/**
 * Headers that belong to the prober's own framing: a probe that asked for an upgrade
 * or a chunked upload would not be the request the prober can read the answer to.
 */
export const HTTP_FRAMING_HEADERS: ReadonlySet<string> = new Set(['connection', 'content-length', 'transfer-encoding', 'upgrade', 'te', 'expect', 'keep-alive']);

/** RFC 9110 token: a header name. */
export const HTTP_HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A header value the prober writes as latin1: no CR, LF, NUL or other controls but tab (no header injection). */
export const HTTP_HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

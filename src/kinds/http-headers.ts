/**
 * What an http probe's extra request headers may be, declared once: the http kind
 * checks its `headers` option with these rules (so a bad header is a config error or a
 * rejected file entry, with its reason), and the http prober's request builder
 * (workers/probes/http-request.ts) applies the same ones defensively when it frames
 * the request, since a header that slipped through would be an injection.
 */
import { clip } from '../values/clip.js';
import type { ElementProblem } from '../values/format.js';

/** Bounds of the headers option: every header ends up in every request. */
export const HTTP_HEADER_BOUNDS = {
  /** Extra request headers per target. */
  headers: 64,
  /** Bytes of one header value. */
  headerValueBytes: 8192,
} as const;

/**
 * Headers that belong to the prober's own framing: a probe that asked for an upgrade
 * or a chunked upload would not be the request the prober can read the answer to.
 */
export const HTTP_FRAMING_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'content-length',
  'transfer-encoding',
  'upgrade',
  'te',
  'expect',
  'keep-alive',
]);

/** RFC 9110 token: a header name. */
export const HTTP_HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A header value the prober writes as latin1: no CR, LF, NUL or other controls but tab (no header injection). */
export const HTTP_HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Every problem of a headers mapping, each named by its header. */
export function headerProblems(v: unknown): ElementProblem[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [{ at: '', value: v, message: 'must be a mapping of header name to string' }];
  const out: ElementProblem[] = [];
  const entries = Object.entries(v);
  const B = HTTP_HEADER_BOUNDS;
  if (entries.length > B.headers) out.push({ at: '', value: `(${entries.length} headers)`, message: `has ${entries.length} headers; at most ${B.headers}` });
  for (const [k, val] of entries) {
    const at = `.${clip(k)}`;
    if (!HTTP_HEADER_NAME.test(k)) out.push({ at, value: clip(k), message: `"${clip(k)}" is not a valid header name` });
    else if (HTTP_FRAMING_HEADERS.has(k.toLowerCase()))
      out.push({ at, value: k, message: `header "${k}" is set by the prober (use keep_alive for Connection)` });
    if (typeof val !== 'string' || !HTTP_HEADER_VALUE.test(val))
      out.push({ at, value: val, message: `header "${clip(k)}" must be a single-line string without control characters` });
    else if (Buffer.byteLength(val, 'utf8') > B.headerValueBytes) {
      out.push({
        at,
        value: `(${Buffer.byteLength(val, 'utf8')} bytes)`,
        message: `header "${clip(k)}" value is ${Buffer.byteLength(val, 'utf8')} bytes; at most ${B.headerValueBytes}`,
      });
    }
  }
  return out;
}

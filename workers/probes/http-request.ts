/**
 * The request of an http probe, built once per target as a fixed buffer (pure).
 *
 * What node:http would send for the same request, minus what a probe does not need:
 *   <METHOD> <path?query> HTTP/1.1
 *   Host: <host[:port]>            (the URL's host; port only when not the default)
 *   User-Agent: fleetprobe
 *   Accept: *\/*
 *   Authorization: Basic ...       (when the URL has user:password)
 *   <options.headers>              (may override the ones above, including Host)
 *   Content-Length: 0              (POST/PUT/PATCH: a request that has a body, empty)
 *   Connection: close|keep-alive   (close unless options.keep_alive)
 * Connection, Content-Length, Transfer-Encoding, Upgrade, TE and Expect belong to the
 * prober's framing and are refused in options.headers: a probe that asked for an upgrade
 * or chunked upload would not be the request this prober can read the answer to.
 * Names must be tokens and values must not contain CR, LF or NUL (no header injection).
 */

import { HTTP_FRAMING_HEADERS, HTTP_HEADER_NAME, HTTP_HEADER_VALUE } from '../../src/kinds/http-headers.js';

export const HTTP_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);
// Declared once with the config's check of options.headers.
const FRAMING_HEADERS = HTTP_FRAMING_HEADERS;
const TOKEN = HTTP_HEADER_NAME;
const FIELD_VALUE = HTTP_HEADER_VALUE;

export interface HttpRequestSpec {
  method: string;
  url: URL;
  keepAlive: boolean;
  /** options.headers (already checked to be an object of strings). */
  headers: Record<string, string>;
}

/** Throws Error('option headers...') on a header the prober cannot send. */
export function buildHttpRequest(spec: HttpRequestSpec): Buffer {
  const { method, url } = spec;
  if (!HTTP_METHODS.has(method)) throw new Error(`option method: unsupported ${JSON.stringify(method)}`);
  const fields = new Map<string, [string, string]>(); // lower-case name → [name as given, value]
  fields.set('host', ['Host', url.host]);
  fields.set('user-agent', ['User-Agent', 'fleetprobe']);
  fields.set('accept', ['Accept', '*/*']);
  if (url.username !== '' || url.password !== '') {
    const creds = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    fields.set('authorization', ['Authorization', `Basic ${Buffer.from(creds, 'utf8').toString('base64')}`]);
  }
  for (const [name, value] of Object.entries(spec.headers)) {
    const lower = name.toLowerCase();
    if (!TOKEN.test(name)) throw new Error(`option headers: ${JSON.stringify(name)} is not a valid header name`);
    if (!FIELD_VALUE.test(value)) throw new Error(`option headers.${name}: value contains CR, LF or a control character`);
    if (FRAMING_HEADERS.has(lower)) throw new Error(`option headers.${name}: set by the prober (use keep_alive for Connection)`);
    fields.set(lower, [name, value]);
  }
  if (METHODS_WITH_BODY.has(method)) fields.set('content-length', ['Content-Length', '0']);
  fields.set('connection', ['Connection', spec.keepAlive ? 'keep-alive' : 'close']);
  let text = `${method} ${url.pathname}${url.search} HTTP/1.1\r\n`;
  for (const [name, value] of fields.values()) text += `${name}: ${value}\r\n`;
  text += '\r\n';
  // latin1, as node:http writes header values; URL paths are already percent-encoded ASCII.
  return Buffer.from(text, 'latin1');
}

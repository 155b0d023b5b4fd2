/**
 * http: one request per probe with phase timings (workers/probes/http.ts): DNS,
 * connect, TLS, first byte, total, and the status code.
 */
import { boolFormat, intFormat, mappingFormat, oneOf, stringFormat, type Format } from '../values/format.js';
import { readableFileFormat } from '../values/readable-file.js';
import type { Range } from '../values/range.js';
import { HTTP_HEADER_BOUNDS, headerProblems } from './http-headers.js';
import { parseExpectStatus, type StatusRanges } from './http-expect-status.js';
import type { KindModule } from './kind.js';
import { CONNECT_REASONS } from './tcp.js';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export const HTTP_BOUNDS = {
  /** Bytes of a target's url. */
  urlBytes: 2048,
  /** max_body_bytes read per response. */
  maxBodyBytes: { min: 0, max: 1 << 30 },
} as const satisfies Record<string, Range | number>;

export type HttpOptions = {
  readonly kind: 'http';
  readonly method: HttpMethod;
  /** Accepted status codes. */
  readonly expectStatus: StatusRanges;
  readonly keepAlive: boolean;
  readonly maxBodyBytes: number;
  /** PEM file of trusted CAs; null: the system store. */
  readonly caFile: string | null;
  readonly insecureSkipVerify: boolean;
  /** TLS server name; null: the URL's host when it is a name. */
  readonly serverName: string | null;
  /** Extra request headers, checked against http-headers.ts. */
  readonly headers: Readonly<Record<string, string>>;
};

const expectStatusFormat: Format = {
  check: (v) => {
    const r = parseExpectStatus(v);
    return typeof r === 'string' ? r : null;
  },
};

export const httpKind: KindModule<'http', HttpOptions> = {
  kind: 'http',
  addressing: 'url',
  options: {
    method: { format: { check: oneOf(HTTP_METHODS), coerce: (s) => s.toUpperCase() }, default: 'GET', doc: 'HTTP method of the probe request.' },
    expect_status: {
      format: expectStatusFormat,
      default: '2xx',
      doc: 'Status codes counted as success: "2xx", "200", "200-399", or a comma list. Others count as errors (reason status_4xx/status_5xx/status_other).',
    },
    keep_alive: {
      format: boolFormat,
      default: false,
      doc: 'Reuse the connection between probes. false (default): a new connection per probe, so the connect and tls phases are measured every time.',
    },
    max_body_bytes: {
      format: intFormat(HTTP_BOUNDS.maxBodyBytes),
      default: 1_048_576,
      doc: 'Response body bytes read (and discarded) before the probe stops reading.',
    },
    ca_file: {
      format: readableFileFormat,
      default: null,
      nullable: true,
      doc: 'PEM file of CA certificates trusted for https targets (unset: the system store).',
    },
    insecure_skip_verify: { format: boolFormat, default: false, doc: 'Accept any TLS certificate (measures latency, not identity). Off by default.' },
    server_name: { format: stringFormat, default: null, nullable: true, doc: 'TLS server name (SNI) to send instead of the URL host.' },
    headers: {
      format: mappingFormat(headerProblems, `at most ${HTTP_HEADER_BOUNDS.headers} headers; values up to ${HTTP_HEADER_BOUNDS.headerValueBytes} bytes`),
      default: {},
      noEnv: true,
      doc: 'Extra request headers (name: value).',
    },
  },
  normalise: (v) => {
    const expect = parseExpectStatus(v.expect_status);
    if (typeof expect === 'string') throw new Error(`expect_status ${expect}`);
    return {
      kind: 'http',
      method: String(v.method).toUpperCase() as HttpMethod,
      expectStatus: expect,
      keepAlive: v.keep_alive as boolean,
      maxBodyBytes: v.max_body_bytes as number,
      caFile: v.ca_file as string | null,
      insecureSkipVerify: v.insecure_skip_verify as boolean,
      serverName: v.server_name as string | null,
      headers: { ...(v.headers as Record<string, string>) },
    };
  },
  // Connect failures, a connection lost mid-answer, TLS, an answer that is not HTTP,
  // and a status outside expect_status (workers/probes/http-status.ts statusErrorReason).
  reasons: [...CONNECT_REASONS, 'closed', 'tls', 'protocol', 'status_4xx', 'status_5xx', 'status_other'],
  zeroReasons: ['connect_failed', 'tls', 'status_4xx', 'status_5xx'],
  families: ['httpPhase', 'httpStatus'],
};

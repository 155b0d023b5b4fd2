/**
 * One /metrics response: fleetprobe's self metrics (prom-client registry) and
 * the per-target families (streaming serializers), in one body in the text format
 * or, when the scraper asks for it, the protobuf exposition; optionally gzip-compressed. Framework-neutral: the HTTP layer sends `body`
 * (a byte stream) with `headers`.
 *
 * The store is snapshotted once, at the start, so the response is a consistent
 * picture even though batches keep merging while the body streams out; the
 * serializer then runs chunk by chunk (SCRAPE_CHUNK_BYTES, either format) as the
 * socket (or gzip) asks for more,
 * so a 50k-target scrape never holds the whole text in memory nor blocks the
 * event loop for the whole serialization.
 */
import { Readable, pipeline } from 'node:stream';
import { constants as zlibConstants, createGzip } from 'node:zlib';
import type { Registry } from 'prom-client';
import type { StoreSnapshot, TargetStore } from '../aggregate/store.js';
import { expositionChunks } from './exposition.js';
import { PROTOBUF_CONTENT_TYPE, protobufChunks, selfMetricsProtobuf, type SelfMetricJson } from './protobuf-exposition.js';

export const PROMETHEUS_TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * Chunk size of a scrape body. Smaller than the serializer's 1 MiB default because a
 * scrape whose client reads slowly (or not at all) holds about three chunks (one
 * being written, one buffered, one being filled) besides its snapshot: 0.75 MiB
 * here instead of 3 MiB, times web.max_requests. Scrape time at 10k targets was the
 * same within noise (A/B on loopback with curl, 12 scrapes each, plain and gzip).
 */
export const SCRAPE_CHUNK_BYTES = 256 * 1024;

export type ExpositionFormat = 'text' | 'protobuf';

export interface RenderOptions {
  /** Compress the body with gzip (when the client's Accept-Encoding allows it). */
  gzip: boolean;
  /**
   * More families computed from the same snapshot (the group rollups), written after
   * the per-target ones. Called in the tick the snapshot is taken: compute then, and
   * serialize lazily in the returned chunks.
   */
  snapshotFamilies?: (snap: StoreSnapshot, chunkBytes: number) => Iterable<Buffer>;
  /** What the scraper's Accept header chose (acceptedFormat); default text. */
  format?: ExpositionFormat;
  /** Protobuf: classic buckets next to the native ones (metrics.classic_histograms; default true). */
  classicHistograms?: boolean;
}

const PROTOBUF_TYPE = 'application/vnd.google.protobuf';

/**
 * The exposition format an Accept header asks for: protobuf when it accepts
 * `application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
 * encoding=delimited` with a q-value above that of every text type it accepts
 * (text/plain, application/openmetrics-text, *\/*: all served as the text format);
 * text otherwise, and on a tie (text is the default). What Prometheus sends with
 * native histograms enabled: protobuf;q=0.7 (or 0.8), text/plain;q=0.3 or lower.
 */
export function acceptedFormat(accept: string | string[] | undefined): ExpositionFormat {
  if (accept === undefined) return 'text';
  const v = Array.isArray(accept) ? accept.join(',') : accept;
  let protobufQ = 0;
  let textQ = 0;
  for (const part of v.split(',')) {
    const [type, ...params] = part.split(';').map((x) => x.trim().toLowerCase());
    const param = new Map(
      params.map((p) => {
        const eq = p.indexOf('=');
        return eq < 0
          ? [p, '']
          : [
              p.slice(0, eq).trim(),
              p
                .slice(eq + 1)
                .trim()
                .replace(/^"(.*)"$/, '$1'),
            ];
      }),
    );
    const qs = param.get('q');
    const q = qs === undefined ? 1 : Number(qs);
    if (!(q > 0)) continue;
    if (type === PROTOBUF_TYPE) {
      if (param.get('proto') === 'io.prometheus.client.metricfamily' && param.get('encoding') === 'delimited') protobufQ = Math.max(protobufQ, q);
    } else if (type === 'text/plain' || type === 'application/openmetrics-text' || type === '*/*' || type === 'text/*') {
      textQ = Math.max(textQ, q);
    }
  }
  return protobufQ > textQ ? 'protobuf' : 'text';
}

export interface RenderedMetrics {
  /** The body as a byte stream; errors are emitted on it. */
  body: Readable;
  headers: Record<string, string>;
}

/** True when an Accept-Encoding header value accepts gzip (q > 0). */
export function acceptsGzip(acceptEncoding: string | string[] | undefined): boolean {
  if (acceptEncoding === undefined) return false;
  const v = Array.isArray(acceptEncoding) ? acceptEncoding.join(',') : acceptEncoding;
  for (const part of v.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding !== 'gzip' && coding !== '*' && coding !== 'x-gzip') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

function* body(selfText: string, snap: StoreSnapshot, more: Iterable<Buffer>): Generator<Buffer, void, undefined> {
  // prom-client ends its text with '\n' (a lone '\n' when empty): families stay line-separated.
  if (selfText.trim().length > 0) yield Buffer.from(selfText, 'utf8');
  yield* expositionChunks(snap, SCRAPE_CHUNK_BYTES);
  yield* more;
}

function* protobufBody(self: Buffer, snap: StoreSnapshot, classicHistograms: boolean): Generator<Buffer, void, undefined> {
  if (self.length > 0) yield self;
  // The same chunk size as the text: the same bounded buffering per scrape, the same first byte early.
  yield* protobufChunks(snap, { classicHistograms }, SCRAPE_CHUNK_BYTES);
}

/**
 * Render self metrics (if a registry is given) followed by the per-target
 * families. The self metrics are collected first, then the store is
 * snapshotted before this resolves; merges after that do not show in the body.
 */
export async function renderMetrics(store: TargetStore, selfRegistry: Registry | undefined, opts: RenderOptions): Promise<RenderedMetrics> {
  let raw: Readable;
  let contentType: string;
  if (opts.format === 'protobuf') {
    const self = selfRegistry === undefined ? [] : ((await selfRegistry.getMetricsAsJSON()) as unknown as SelfMetricJson[]);
    const snap = store.snapshot();
    const classicHistograms = opts.classicHistograms ?? true;
    raw = Readable.from(protobufBody(selfMetricsProtobuf(self), snap, classicHistograms), { objectMode: false });
    contentType = PROTOBUF_CONTENT_TYPE;
  } else {
    const selfText = selfRegistry === undefined ? '' : await selfRegistry.metrics();
    // Snapshot now, not when the consumer first reads: the body is the state at render time.
    // The text format has no use for the exponential histograms: not copied.
    const snap = store.snapshot({ native: false });
    const more = opts.snapshotFamilies?.(snap, SCRAPE_CHUNK_BYTES) ?? [];
    raw = Readable.from(body(selfText, snap, more), { objectMode: false });
    contentType = PROMETHEUS_TEXT_CONTENT_TYPE;
  }
  const headers: Record<string, string> = { 'content-type': contentType };
  if (!opts.gzip) return { body: raw, headers };
  headers['content-encoding'] = 'gzip';
  // Level 1: this text is so repetitive that level 1 already shrinks it ~25x,
  // at a fraction of the CPU of the default level (measured in load-tests/exposition-bench).
  const gz = createGzip({ level: zlibConstants.Z_BEST_SPEED });
  pipeline(raw, gz, () => {
    /* errors surface on `gz` (pipeline destroys it with the error) */
  });
  return { body: gz, headers };
}

/** Read a rendered body to the end (tests, small stores, non-streaming callers). */
export async function readBody(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(parts);
}

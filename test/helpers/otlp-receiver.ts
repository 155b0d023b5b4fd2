/**
 * A real OTLP metrics receiver on 127.0.0.1 for the tests, over each protocol:
 *
 *   gRPC           a @grpc/grpc-js server implementing
 *                  opentelemetry.proto.collector.metrics.v1.MetricsService/Export
 *   http/protobuf  POST /v1/metrics, application/x-protobuf
 *   http/json      POST /v1/metrics, application/json
 *
 * Everything is decoded with the OFFICIAL schema: the opentelemetry-proto .proto
 * files (collector/metrics/v1/metrics_service.proto and its imports) loaded with
 * protobufjs. They come from the npm package `otlp-proto-files`, an alias of
 * @opentelemetry/otlp-grpc-exporter-base@0.38.0, the newest release of the OTel JS
 * project that ships the .proto files themselves (later ones compile them away, and
 * the 0.223 exporters serialize with hand-written code, which is exactly why a
 * schema-driven decoder is the right referee). The gRPC method path is read from
 * the service descriptor, and OTLP/JSON is checked key by key against the message
 * types (an unknown field is an error) before protobufjs converts it.
 *
 * Decoded requests are normalized into one shape (NRequest) so the same assertions
 * check every protocol.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
/** Root of the official .proto tree (…/opentelemetry/proto/…). */
export const PROTO_ROOT = join(dirname(require.resolve('otlp-proto-files/package.json')), 'build', 'protos');
const SERVICE_PROTO = 'opentelemetry/proto/collector/metrics/v1/metrics_service.proto';
const SERVICE_NAME = 'opentelemetry.proto.collector.metrics.v1.MetricsService';

let loaded: protobuf.Root | undefined;
/** The official schema, loaded once. */
export function otlpSchema(): protobuf.Root {
  if (loaded !== undefined) return loaded;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(PROTO_ROOT, target));
  root.loadSync(SERVICE_PROTO);
  root.resolveAll();
  return (loaded = root);
}

function exportMethod(): { path: string; request: protobuf.Type; response: protobuf.Type } {
  const service = otlpSchema().lookupService(SERVICE_NAME);
  const method = service.methods['Export'];
  method.resolve();
  return { path: `/${service.fullName.replace(/^\./, '')}/${method.name}`, request: method.resolvedRequestType!, response: method.resolvedResponseType! };
}

// ---- normalized request ---------------------------------------------------------------

export interface NPoint {
  attrs: Record<string, string>;
  start: bigint;
  time: bigint;
  value?: number;
  count?: number;
  sum?: number;
  counts?: number[];
  bounds?: number[];
  /** Exponential histograms: scale, zero bucket and the positive/negative bucket ranges. */
  scale?: number;
  zeroCount?: number;
  positive?: { offset: number; counts: number[] };
  negative?: { offset: number; counts: number[] };
}
export interface NMetric {
  scope: string;
  name: string;
  unit: string;
  description: string;
  type: 'sum' | 'gauge' | 'histogram' | 'exponentialHistogram';
  monotonic?: boolean;
  /** 1 = DELTA, 2 = CUMULATIVE (AggregationTemporality of the proto). */
  temporality?: number;
  points: NPoint[];
}
export interface NRequest {
  resource: Record<string, string>;
  metrics: NMetric[];
}

export const TEMPORALITY_DELTA = 1;
export const TEMPORALITY_CUMULATIVE = 2;

/** protobufjs' plain-object form of a message, as toObject() makes it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, arrays: true, defaults: false };

function anyValue(v: Obj | undefined): string {
  if (v === undefined) return '';
  if (v.stringValue !== undefined) return String(v.stringValue);
  if (v.intValue !== undefined) return String(v.intValue);
  if (v.doubleValue !== undefined) return String(v.doubleValue);
  if (v.boolValue !== undefined) return String(v.boolValue);
  return JSON.stringify(v);
}
function attrs(kvs: Obj[] | undefined): Record<string, string> {
  return Object.fromEntries((kvs ?? []).map((kv) => [kv.key as string, anyValue(kv.value)]));
}

function normalize(req: Obj): NRequest {
  const out: NRequest = { resource: {}, metrics: [] };
  for (const rm of req.resourceMetrics ?? []) {
    Object.assign(out.resource, attrs(rm.resource?.attributes));
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const type = m.sum ? 'sum' : m.gauge ? 'gauge' : m.histogram ? 'histogram' : 'exponentialHistogram';
        const body = m.sum ?? m.gauge ?? m.histogram ?? m.exponentialHistogram;
        const points: NPoint[] = (body.dataPoints ?? []).map((p: Obj): NPoint => ({
          attrs: attrs(p.attributes),
          start: BigInt(p.startTimeUnixNano ?? 0),
          time: BigInt(p.timeUnixNano ?? 0),
          value: p.asInt !== undefined ? Number(p.asInt) : p.asDouble !== undefined ? Number(p.asDouble) : undefined,
          count: p.count !== undefined ? Number(p.count) : undefined,
          sum: p.sum !== undefined ? Number(p.sum) : undefined,
          counts: p.bucketCounts?.map(Number),
          bounds: p.explicitBounds?.map(Number),
          scale: p.scale,
          zeroCount: p.zeroCount !== undefined ? Number(p.zeroCount) : undefined,
          positive: p.positive ? { offset: p.positive.offset ?? 0, counts: (p.positive.bucketCounts ?? []).map(Number) } : undefined,
          negative: p.negative ? { offset: p.negative.offset ?? 0, counts: (p.negative.bucketCounts ?? []).map(Number) } : undefined,
        }));
        out.metrics.push({
          scope: sm.scope?.name ?? '',
          name: m.name,
          unit: m.unit ?? '',
          description: m.description ?? '',
          type,
          monotonic: m.sum ? m.sum.isMonotonic === true : undefined,
          temporality: body.aggregationTemporality,
          points,
        });
      }
    }
  }
  return out;
}

/** ExportMetricsServiceRequest from protobuf bytes. */
export function decodeProtobufRequest(body: Uint8Array): NRequest {
  const { request } = exportMethod();
  return normalize(request.toObject(request.decode(body), TO_OBJECT));
}

/**
 * ExportMetricsServiceRequest from OTLP/JSON: every key must be a field of its
 * message type (lowerCamelCase, as the OTLP/JSON mapping requires), then protobufjs
 * converts it (int64 as decimal strings, enums as integers).
 */
export function decodeJsonRequest(text: string): NRequest {
  const { request } = exportMethod();
  const json = JSON.parse(text) as Obj;
  checkKeys(json, request, 'ExportMetricsServiceRequest');
  return normalize(request.toObject(request.fromObject(json), TO_OBJECT));
}

function checkKeys(value: Obj, type: protobuf.Type, where: string): void {
  for (const [key, v] of Object.entries(value)) {
    const field = type.fields[key];
    if (field === undefined) throw new Error(`OTLP/JSON: ${where} has no field ${JSON.stringify(key)} in the official schema`);
    const sub = field.resolve().resolvedType;
    if (!(sub instanceof protobuf.Type) || v === null) continue;
    const items = field.repeated ? (v as Obj[]) : [v as Obj];
    items.forEach((item, i) => checkKeys(item, sub, `${where}.${key}${field.repeated ? `[${i}]` : ''}`));
  }
}

// ---- the receiver -------------------------------------------------------------------------

export interface Received {
  protocol: 'grpc' | 'http/protobuf' | 'http/json';
  path: string;
  /** HTTP headers, or the gRPC metadata as a header map. */
  headers: IncomingHttpHeaders | Record<string, string>;
  bytes: number;
  decoded: NRequest;
  /** Date.now() when the request was decoded. */
  at: number;
}

export class OtlpReceiver {
  readonly requests: Received[] = [];
  /** HTTP status to answer with (a real collector rejecting data); gRPC answers INVALID_ARGUMENT when not 200. */
  status = 200;
  /** A request that could not be decoded with the schema: fails the test that looks. */
  readonly decodeErrors: string[] = [];
  private http: Server | undefined;
  private grpcServer: grpc.Server | undefined;
  private waiters: (() => void)[] = [];

  /** Start the OTLP/HTTP side; returns the base URL (http://127.0.0.1:PORT). */
  async listenHttp(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const ct = String(req.headers['content-type'] ?? '');
        const json = ct.includes('json');
        if (this.status === 200 && req.method === 'POST') {
          try {
            const decoded = json ? decodeJsonRequest(body.toString('utf8')) : decodeProtobufRequest(body);
            this.push({
              protocol: json ? 'http/json' : 'http/protobuf',
              path: req.url ?? '',
              headers: req.headers,
              bytes: body.length,
              decoded,
              at: Date.now(),
            });
          } catch (err) {
            this.decodeErrors.push((err as Error).message);
          }
        }
        res.statusCode = this.status;
        res.setHeader('content-type', json ? 'application/json' : 'application/x-protobuf');
        // An empty ExportMetricsServiceResponse is valid in both encodings.
        res.end(json ? '{}' : '');
        this.wake();
      });
    });
    this.http = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Start the gRPC side; returns the endpoint (http://127.0.0.1:PORT: plaintext). */
  async listenGrpc(): Promise<string> {
    const { path, request, response } = exportMethod();
    const definition: grpc.ServiceDefinition = {
      Export: {
        path,
        requestStream: false,
        responseStream: false,
        requestSerialize: (m: protobuf.Message) => Buffer.from(request.encode(m).finish()),
        requestDeserialize: (b: Buffer) => b, // decoded in the handler, so a bad message is recorded
        responseSerialize: (m: Obj) => Buffer.from(response.encode(response.fromObject(m)).finish()),
        responseDeserialize: (b: Buffer) => response.decode(b),
      },
    };
    const server = new grpc.Server();
    server.addService(definition, {
      Export: (call: grpc.ServerUnaryCall<Buffer, Obj>, callback: grpc.sendUnaryData<Obj>) => {
        if (this.status !== 200) {
          callback({ code: grpc.status.INVALID_ARGUMENT, details: 'rejected by the test' });
          this.wake();
          return;
        }
        try {
          const decoded = decodeProtobufRequest(call.request);
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(call.metadata.getMap())) headers[k] = String(v);
          this.push({ protocol: 'grpc', path, headers, bytes: call.request.length, decoded, at: Date.now() });
        } catch (err) {
          this.decodeErrors.push((err as Error).message);
        }
        callback(null, {});
        this.wake();
      },
    });
    this.grpcServer = server;
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    return `http://127.0.0.1:${port}`;
  }

  /** Requests of one protocol received since index `from`. */
  since(from: number, protocol?: Received['protocol']): Received[] {
    return this.requests.slice(from).filter((r) => protocol === undefined || r.protocol === protocol);
  }

  /** Resolve once `count` requests have been stored, or reject after `ms`. */
  async waitFor(count: number, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.requests.length < count) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `receiver got ${this.requests.length} requests, wanted ${count}${this.decodeErrors.length ? `; decode errors: ${this.decodeErrors.join('; ')}` : ''}`,
        );
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    const http = this.http;
    if (http !== undefined) {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
    this.grpcServer?.forceShutdown();
  }

  private push(r: Received): void {
    this.requests.push(r);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

// ---- reading a normalized request --------------------------------------------------------

export function metricOf(r: NRequest, name: string): NMetric {
  const m = r.metrics.find((x) => x.name === name);
  if (m === undefined) throw new Error(`no ${name} in ${r.metrics.map((x) => x.name).join(', ')}`);
  return m;
}

/** The one point of `name` whose attributes include `match`. */
export function pointOf(r: NRequest, name: string, match: Record<string, string>): NPoint {
  const ps = metricOf(r, name).points.filter((p) => Object.entries(match).every(([k, v]) => p.attrs[k] === v));
  if (ps.length !== 1) throw new Error(`${name} ${JSON.stringify(match)}: ${ps.length} points`);
  return ps[0];
}

/** Several requests of one export (a large fleet is split) merged into one. */
export function mergeRequests(rs: readonly NRequest[]): NRequest {
  const out: NRequest = { resource: {}, metrics: [] };
  for (const r of rs) {
    Object.assign(out.resource, r.resource);
    for (const m of r.metrics) {
      const same = out.metrics.find((x) => x.name === m.name && x.scope === m.scope);
      if (same) same.points.push(...m.points);
      else out.metrics.push({ ...m, points: [...m.points] });
    }
  }
  return out;
}

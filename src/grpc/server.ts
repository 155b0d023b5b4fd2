/**
 * The gRPC server: fleetprobe.v1.Telemetry/Subscribe (proto/fleetprobe/v1/telemetry.proto)
 * on @grpc/grpc-js, plus server reflection (@grpc/reflection, the grpc-node project's
 * own implementation of the reflection protocol, v1 and v1alpha) so grpcurl and other
 * generic clients can list and call it without the .proto.
 *
 * Subscribe is bidirectional: the first client message is a SubscriptionList (mode
 * and selection), later ones Poll requests (POLL mode only). The hub (src/stream/hub.ts)
 * does the rest, as for SSE. Credentials are a parameter: insecure on loopback by
 * default; TLS from the web configuration can be passed in without touching this file.
 */
import { Server, ServerCredentials, status as Status, type Metadata, type ServiceDefinition } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import type { Logger } from 'pino';
import { authorizeRead, type TokenPolicy } from '../auth/token.js';
import { StreamError, type StreamHub, type Subscription } from '../stream/hub.js';
import { GrpcFormat, type Serialize } from './format.js';
import { loadTelemetryProto, TELEMETRY_SERVICE } from './proto.js';
import { parseSubscribeRequest, type DecodedSubscribeRequest } from './request.js';
import { GrpcSink, type SubscribeCall } from './sink.js';

export interface TelemetryService {
  /** The service definition to register: responses that are already bytes pass through unserialized. */
  definition: ServiceDefinition;
  /** The hub's format for gRPC subscribers (serializes with the .proto's response type). */
  format: GrpcFormat;
  /** For reflection. */
  packageDefinition: ReturnType<typeof loadTelemetryProto>;
}

export function telemetryService(): TelemetryService {
  const packageDefinition = loadTelemetryProto();
  const svc = packageDefinition[TELEMETRY_SERVICE] as ServiceDefinition;
  const subscribe = svc.Subscribe;
  const serialize = subscribe.responseSerialize as Serialize;
  const definition: ServiceDefinition = {
    Subscribe: { ...subscribe, responseSerialize: (v: unknown) => (Buffer.isBuffer(v) ? v : serialize(v as object)) },
  };
  return { definition, format: new GrpcFormat(serialize), packageDefinition };
}

export interface GrpcServerOptions {
  /** "host:port" as configured (grpc.listen_address); an empty host listens on every address. */
  host: string;
  port: number;
  service: TelemetryService;
  hub: StreamHub;
  tokenPolicy: () => TokenPolicy;
  logger: Logger;
  /** Default: insecure (plaintext HTTP/2). */
  credentials?: ServerCredentials;
}

export interface GrpcServer {
  /** The bound port (the configured one, or the kernel's pick for port 0). */
  readonly port: number;
  /** End every call, then stop; calls still open after `timeoutMs` are cut. */
  close(timeoutMs?: number): Promise<void>;
}

function metadataValue(md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return typeof v === 'string' ? v : undefined;
}

function subscribeHandler(o: GrpcServerOptions): (call: SubscribeCall) => void {
  const { hub } = o;
  return (call) => {
    const auth = authorizeRead(o.tokenPolicy(), metadataValue(call.metadata, 'authorization'));
    if (!auth.ok) {
      hub.countRejected('grpc', 'unauthorized');
      call.emit('error', { code: Status.UNAUTHENTICATED, details: auth.message });
      return;
    }
    let sub: Subscription | null = null;
    let sink: GrpcSink | null = null;
    let failed = false;
    const fail = (code: Status, details: string): void => {
      failed = true;
      if (code === Status.INVALID_ARGUMENT) hub.countRejected('grpc', 'invalid');
      if (sink) sink.fail(code, details);
      else call.emit('error', { code, details });
    };
    call.on('data', (msg: DecodedSubscribeRequest) => {
      if (failed) return;
      if (sub === null) {
        const p = parseSubscribeRequest(msg);
        if (!p.ok) {
          fail(Status.INVALID_ARGUMENT, p.problems.join('; '));
          return;
        }
        sink = new GrpcSink(call);
        try {
          sub = hub.subscribe('grpc', { selection: p.selection, mode: p.mode, sink });
        } catch (e) {
          if (!(e instanceof StreamError)) throw e;
          sink = null;
          fail(e.code === 'limit' ? Status.RESOURCE_EXHAUSTED : Status.NOT_FOUND, e.message);
        }
        return;
      }
      if (msg.request === 'poll' && sub.mode === 'poll') {
        hub.poll(sub);
        return;
      }
      fail(
        Status.INVALID_ARGUMENT,
        msg.request === 'subscribe' ? 'only one subscribe per call' : `poll is only accepted in POLL mode (this call is ${sub.mode.toUpperCase()})`,
      );
    });
    call.on('end', () => {
      // The client closed its side. Before subscribing: nothing to serve. In POLL mode
      // no more polls can come, so the call is done; STREAM and ONCE go on.
      if (failed) return;
      if (sub === null) fail(Status.INVALID_ARGUMENT, 'the call ended before a subscribe message');
      else if (sub.mode === 'poll') sink?.end();
    });
  };
}

export async function startGrpcServer(o: GrpcServerOptions): Promise<GrpcServer> {
  const server = new Server();
  server.addService(o.service.definition, { Subscribe: subscribeHandler(o) });
  new ReflectionService(o.service.packageDefinition).addToServer(server);
  const host = o.host === '' ? '::' : o.host;
  const address = host.includes(':') ? `[${host}]:${o.port}` : `${host}:${o.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, o.credentials ?? ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  o.logger.info({ address: `${host.includes(':') ? `[${host}]` : host}:${port}`, service: TELEMETRY_SERVICE }, 'gRPC listening');
  return {
    port,
    close(timeoutMs = 2000) {
      return new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, timeoutMs);
        force.unref();
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}

/**
 * gRPC clients for tests, built the way a user would build them: the shipped
 * proto/fleetprobe/v1/telemetry.proto loaded with @grpc/proto-loader (not the
 * exporter's own modules), and the reflection protocol's .proto from
 * @grpc/reflection for a reflection client. Every wait has a deadline.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  credentials,
  loadPackageDefinition,
  Metadata,
  type ChannelCredentials,
  type Client,
  type ClientDuplexStream,
  type GrpcObject,
  type ServiceClientConstructor,
  type StatusObject,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { REPO_ROOT } from './exporter-process.js';

const LOADER = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true } as const;

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Message = Record<string, any>;

function service(pkg: GrpcObject, path: string): ServiceClientConstructor {
  let o: any = pkg;
  for (const part of path.split('.')) o = o[part];
  return o as ServiceClientConstructor;
}

/** `creds`: e.g. credentials.createSsl(ca, key, cert) for a TLS listener; plaintext by default. */
export function telemetryClient(
  address: string,
  creds: ChannelCredentials = credentials.createInsecure(),
): Client & { Subscribe(md?: Metadata): ClientDuplexStream<Message, Message> } {
  const def = loadSync('fleetprobe/v1/telemetry.proto', { ...LOADER, includeDirs: [join(REPO_ROOT, 'proto')] });
  const Ctor = service(loadPackageDefinition(def), 'fleetprobe.v1.Telemetry');
  return new Ctor(address, creds) as any;
}

export function reflectionClient(address: string): Client & { ServerReflectionInfo(): ClientDuplexStream<Message, Message> } {
  const require = createRequire(import.meta.url);
  const root = join(dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');
  const def = loadSync('grpc/reflection/v1/reflection.proto', { ...LOADER, includeDirs: [root] });
  const Ctor = service(loadPackageDefinition(def), 'grpc.reflection.v1.ServerReflection');
  return new Ctor(address, credentials.createInsecure()) as any;
}

export function bearer(token: string): Metadata {
  const md = new Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

/** One Subscribe call: what it received, and its final status. */
export class Subscription {
  readonly responses: Message[] = [];
  status: StatusObject | null = null;
  readonly done: Promise<StatusObject>;
  private readonly waiters = new Set<() => void>();

  constructor(readonly call: ClientDuplexStream<Message, Message>) {
    call.on('data', (m: Message) => {
      this.responses.push(m);
      this.notify();
    });
    this.done = new Promise((resolve) => {
      call.on('status', (s: StatusObject) => {
        this.status = s;
        this.notify();
        resolve(s);
      });
      // The status carries the error; 'error' only must not be unhandled.
      call.on('error', () => {});
    });
  }

  static open(client: ReturnType<typeof telemetryClient>, md: Metadata = new Metadata(), first?: Message): Subscription {
    const s = new Subscription(client.Subscribe(md));
    if (first) s.call.write(first);
    return s;
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Responses of one kind: 'state', 'result' or 'sync_response'. */
  of(kind: string): Message[] {
    return this.responses.filter((r) => r.response === kind);
  }

  async until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(t);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${this.responses.length} responses, status ${JSON.stringify(this.status)}`));
      }, timeoutMs);
      const t = (): void => {
        if (check()) {
          clearTimeout(timer);
          this.waiters.delete(t);
          resolve();
        } else if (this.status) {
          clearTimeout(timer);
          this.waiters.delete(t);
          reject(new Error(`call ended (${this.status.code} ${this.status.details}) while waiting for ${what}`));
        }
      };
      this.waiters.add(t);
    });
  }

  /** The final status, or throw after `timeoutMs`. */
  async ended(timeoutMs = 5000): Promise<StatusObject> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`call did not end within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The live streams as the exporter wires them: one hub fed by the store's batches,
 * the SSE route's options, the optional gRPC server and the self metrics. The
 * exporter calls onBatch() after each merged batch and targetsChanged() after each
 * registry update; everything else lives here.
 */
import type { ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { TargetStore } from '../aggregate/store.js';
import type { TokenPolicy } from '../auth/token.js';
import type { Config } from '../config/index.js';
import { parseHostPort } from '../targets/address.js';
import { ConfigError } from '../config/index.js';
import type { GrpcServer, TelemetryService } from '../grpc/server.js';
import type { StreamRouteOptions } from '../http/routes/stream.js';
import { StreamHub } from './hub.js';
import { registerStreamMetrics } from './metrics.js';
import type { CatalogEntry } from './selection.js';
import { SseFormat } from './sse-format.js';

export interface LiveStreamsOptions {
  store: TargetStore;
  /** The current targets (the registry's entries). */
  catalog: () => Iterable<CatalogEntry>;
  /** The current configuration (read on use, so reloads apply to tokens and limits). */
  config: () => Config;
  registry: Registry;
  logger: Logger;
}

/** The gRPC server module, imported only when gRPC is on. */
type GrpcModule = typeof import('../grpc/server.js');

export class LiveStreams {
  readonly hub: StreamHub;
  private readonly grpcService: TelemetryService | null;
  private grpc: GrpcServer | null = null;

  /**
   * The gRPC server module (grpc-js, its reflection service, the .proto loader: about
   * 15 MB of resident memory) is imported only when grpc.listen_address is set, which is
   * read once at start (a reload does not start or stop the gRPC listener).
   */
  static async create(o: LiveStreamsOptions): Promise<LiveStreams> {
    const grpc = o.config().grpc.listenAddress !== null ? await import('../grpc/server.js') : null;
    return new LiveStreams(o, grpc);
  }

  private constructor(
    private readonly o: LiveStreamsOptions,
    private readonly grpcModule: GrpcModule | null,
  ) {
    // The format needs the .proto's serializer.
    this.grpcService = grpcModule?.telemetryService() ?? null;
    this.hub = new StreamHub({
      catalog: o.catalog,
      state: (slot) => o.store.slotState(slot),
      limits: () => o.config().stream,
      formats: { sse: new SseFormat(), ...(this.grpcService ? { grpc: this.grpcService.format } : {}) },
    });
    registerStreamMetrics(o.registry, this.hub);
  }

  private tokenPolicy = (): TokenPolicy => this.o.config().api;

  routeOptions(): StreamRouteOptions {
    return { hub: this.hub, tokenPolicy: this.tokenPolicy, stallTimeoutMs: () => this.o.config().stream.stallTimeoutMs };
  }

  onBatch(buf: ArrayBuffer): void {
    this.hub.onBatch(buf);
  }

  targetsChanged(): void {
    this.hub.targetsChanged();
  }

  /** Bind the gRPC server when grpc.listen_address is set; `credentials` default to insecure. */
  async startGrpc(credentials?: ServerCredentials): Promise<number | null> {
    const listen = this.o.config().grpc.listenAddress;
    if (listen === null || this.grpcService === null || this.grpcModule === null) return null;
    const hp = parseHostPort(listen, { allowEmptyHost: true, allowPortZero: true });
    if (typeof hp === 'string') throw new ConfigError([{ key: 'grpc.listen_address', value: listen, message: hp }]);
    this.grpc = await this.grpcModule.startGrpcServer({
      host: hp.host,
      port: hp.port,
      service: this.grpcService,
      hub: this.hub,
      tokenPolicy: this.tokenPolicy,
      logger: this.o.logger,
      credentials,
    });
    return this.grpc.port;
  }

  /** End every subscriber (SSE: `event: end`, gRPC: UNAVAILABLE), then stop the gRPC server. */
  async close(grpcTimeoutMs = 1000): Promise<void> {
    this.hub.close();
    await this.grpc?.close(grpcTimeoutMs);
    this.grpc = null;
  }
}

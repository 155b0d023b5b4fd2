/** The typed configuration: camelCase, durations in milliseconds, paths absolute. */
import type { ProbeKind, TargetSpec } from '../targets/model.js';
import type { ResponderLimits } from '../responder/limits.js';
import type { LOG_LEVELS, LOG_FORMATS, HTTP_METHODS, DNS_PREFERENCES } from './formats.js';

export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];
export type HttpMethod = (typeof HTTP_METHODS)[number];
export type DnsPreference = (typeof DNS_PREFERENCES)[number];

/**
 * TargetSpec.options of an http target, as the prober reads it (snake_case, ms).
 * Unset options are absent. (Documentation type: options travel as Record<string, unknown>.)
 */
export interface HttpProbeOptions {
  method: HttpMethod;
  expect_status: string;
  keep_alive: boolean;
  max_body_bytes: number;
  ca_file?: string;
  insecure_skip_verify: boolean;
  server_name?: string;
  headers: Record<string, string>;
}
export interface UdpProbeOptions {
  source_ports: number;
}
export interface TcpProbeOptions {
  close: 'reset' | 'fin';
}
export interface TcpEchoProbeOptions {
  reconnect_min_backoff_ms: number;
  reconnect_max_backoff_ms: number;
  connect_timeout_ms?: number;
}

export interface ProbeDefaults {
  kind: ProbeKind;
  intervalMs: number;
  timeoutMs: number;
  lossWindow: number;
  payloadSize: number;
  labels: Record<string, string>;
  /** Default TargetSpec.options of each kind, in the probers' form (see HttpProbeOptions, ...). */
  options: Record<ProbeKind, Record<string, unknown>>;
}

/** The responder's limits (shared with its options, validated there; every one set here) and its listeners as configured. */
export interface ResponderConfig extends Required<ResponderLimits> {
  /** "host:port" or null when that listener is off. */
  tcpEcho: string | null;
  udpEcho: string | null;
  http: string | null;
}

export interface MeshPeer {
  name: string;
  address: string;
  labels: Record<string, string>;
  /** "mesh.peers[2]" or "peers.json[2]". */
  source: string;
}

export interface MeshConfig {
  name: string | null;
  /** Inline peers followed by those of peersFile. */
  peers: MeshPeer[];
  peersFile: string | null;
  /** DNS name whose addresses are more peers (resolved at run time), or null. */
  peersDns: string | null;
  kinds: ProbeKind[];
}

/** api.*: the bearer token (read from api.token_file at load when that is set) and the Targets API. */
export interface ApiConfig {
  token: string | null;
  /** Absolute path, or null. */
  tokenFile: string | null;
  requireTokenForReads: boolean;
  /** Targets added over the API are kept here across restarts (absolute path), or null: in memory only. */
  stateFile: string | null;
  /** Most targets the API may hold. */
  maxTargets: number;
}

export interface GrpcConfig {
  /** "host:port", or null when the gRPC server is off. */
  listenAddress: string | null;
}

/** stream.*: limits of the live result streams (SSE and gRPC). */
export interface StreamConfig {
  maxClients: number;
  maxBufferBytes: number;
  stateIntervalMs: number;
  stallTimeoutMs: number;
}

export interface Config {
  /** Absolute path of the config file read, or "(embedded default)". */
  configFile: string;
  workers: number;
  flushIntervalMs: number;
  /** workers_stall_timeout with "auto" resolved (see stallTimeoutMs()). */
  workersStallTimeoutMs: number;
  /** workers_heap_limit_mb: resourceLimits.maxOldGenerationSizeMb of each worker. */
  workersHeapLimitMb: number;
  log: { level: LogLevel; format: LogFormat };
  web: { listenAddress: string; telemetryPath: string };
  dns: { refreshIntervalMs: number; prefer: DnsPreference };
  metrics: { rttBuckets: number[] };
  shard: { index: number; count: number };
  probeDefaults: ProbeDefaults;
  /** Inline targets, validated (bad ones make loadConfig throw ConfigError). */
  targets: TargetSpec[];
  /** Absolute paths. */
  targetFiles: string[];
  /** file_watch: re-read target files and the mesh peers file when they change. */
  fileWatch: { enabled: boolean; checkIntervalMs: number };
  responder: ResponderConfig;
  mesh: MeshConfig;
  api: ApiConfig;
  grpc: GrpcConfig;
  stream: StreamConfig;
}

/** The typed configuration: camelCase, durations in milliseconds, paths absolute. */
import type { MeshConfig, ProbeDefaults, TargetSpec } from '../targets/model.js';
import type { DnsPreference } from '../targets/resolve.js';
import type { ResponderLimits } from '../responder/limits.js';
import type { WebLimits } from '../http/limits.js';
import type { LOG_LEVELS, LOG_FORMATS } from './formats.js';
import type { IcmpSocketChoice as IcmpSocketMode } from '../protocol/icmp-socket-mode.js';
import type { WebSecurityConfig } from '../http/web-config/load.js';
import type { ProbeEndpointConfig } from './schema-probe.js';
import type { SeriesLabels } from '../aggregate/label-arena.js';

export type { ProbeEndpointConfig } from './schema-probe.js';

// Declared with the targets (targets/ does not import config/); re-exported for the
// code that has always found them here.
export type { ProbeDefaults, MeshPeer, MeshConfig } from '../targets/model.js';
export type { DnsPreference } from '../targets/resolve.js';

export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The responder's limits (shared with its options, validated there; every one set here) and its listeners as configured. */
export interface ResponderConfig extends Required<ResponderLimits> {
  /** "host:port" or null when that listener is off. */
  tcpEcho: string | null;
  udpEcho: string | null;
  http: string | null;
}

/** The web port: where it listens and its limits (README: "Limits and abusive clients"). */
export interface WebConfig extends WebLimits {
  listenAddress: string;
  telemetryPath: string;
  /** web.config_file: absolute path, or null. What it holds is Config.webSecurity. */
  configFile: string | null;
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

/** tests.*: limits of on-demand tests (POST /api/v1/tests). */
export interface TestsConfig {
  maxCount: number;
  /** Probes per second. */
  maxRate: number;
  maxDurationMs: number;
  maxConcurrent: number;
  resultsKept: number;
  /** Bytes. */
  maxHttpSize: number;
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
  /** icmp.socket: which ICMP socket the workers open. */
  icmpSocket: IcmpSocketMode;
  log: { level: LogLevel; format: LogFormat };
  web: WebConfig;
  /** The web configuration file (web.config_file), read and checked with the certificates it names; null without one. */
  webSecurity: WebSecurityConfig | null;
  dns: { refreshIntervalMs: number; prefer: DnsPreference };
  /**
   * groupBy: labels of the group rollups ([]: none); groupLimit: groups with series of their own; classicHistograms:
   * see metrics.classic_histograms; seriesLabels: metrics.series_labels.
   */
  metrics: { rttBuckets: number[]; groupBy: string[]; groupLimit: number; classicHistograms: boolean; seriesLabels: SeriesLabels };
  /** In-memory history rings (web console); retentionMs 0: off. */
  history: { retentionMs: number; resolutionMs: number };
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
  tests: TestsConfig;
  grpc: GrpcConfig;
  stream: StreamConfig;
  /** GET /probe (probe_endpoint.*). */
  probeEndpoint: ProbeEndpointConfig;
}

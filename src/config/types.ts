/** The typed configuration: camelCase, durations in milliseconds, paths absolute. */
import type { ProbeKind, TargetSpec } from '../targets/model.js';
import type { ResponderLimits } from '../responder/limits.js';
import type { LOG_LEVELS, HTTP_METHODS, DNS_PREFERENCES } from './formats.js';

export type LogLevel = (typeof LOG_LEVELS)[number];
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

/** The responder's limits (shared with its options, validated there) and its listeners as configured. */
export interface ResponderConfig extends ResponderLimits {
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

export interface Config {
  /** Absolute path of the config file read, or "(embedded default)". */
  configFile: string;
  workers: number;
  flushIntervalMs: number;
  log: { level: LogLevel };
  web: { listenAddress: string; telemetryPath: string };
  dns: { refreshIntervalMs: number; prefer: DnsPreference };
  metrics: { rttBuckets: number[] };
  /** In-memory history rings (web console); retentionMs 0: off. */
  history: { retentionMs: number; resolutionMs: number };
  shard: { index: number; count: number };
  probeDefaults: ProbeDefaults;
  /** Inline targets, validated (bad ones make loadConfig throw ConfigError). */
  targets: TargetSpec[];
  /** Absolute paths. */
  targetFiles: string[];
  responder: ResponderConfig;
  mesh: MeshConfig;
}

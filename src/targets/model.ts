/** The target model shared by config, targets, pool and workers. */
import type { KindOptions, ProbeKind } from '../kinds/index.js';

// The kinds are declared by their modules (src/kinds/); re-exported here, where the
// rest of the tree has always found them.
export { PROBE_KINDS, type ProbeKind, type KindOptions } from '../kinds/index.js';

/** A target as the user configured it, after validation and defaults. */
export interface TargetSpec {
  /** Unique name; the `target` label and the stable key for placement. */
  name: string;
  kind: ProbeKind;
  /**
   * icmp: IPv4/IPv6 literal or host name. tcp/tcp_echo/udp: "host:port" or "[v6]:port".
   * http: absent (see url).
   */
  address: string;
  /** http only. */
  url?: string;
  /** Extra metric labels (validated Prometheus label names, no reserved ones). */
  labels: Record<string, string>;
  intervalMs: number;
  timeoutMs: number;
  /** ICMP/UDP payload bytes. */
  payloadSize: number;
  /** Probes in the sliding loss window. */
  lossWindow: number;
  /**
   * The kind's options with every default applied (see src/kinds/<kind>.ts); the same
   * object for every target that sets none of its own.
   */
  options: KindOptions;
  /** Where it came from, for error messages: "config.yaml targets[3]" or "file.json[12]". */
  source: string;
}

/**
 * A target placed on a worker: the spec plus its store slot and resolved address.
 * Plain data: it crosses the thread boundary by structured clone.
 */
export interface ShardTarget {
  /** Global slot in the main thread's store; stable for the life of the target. */
  slot: number;
  name: string;
  kind: ProbeKind;
  /** Resolved IP literal (no brackets) for icmp/tcp/tcp_echo/udp; host for http. */
  ip: string;
  family: 4 | 6;
  /** tcp/tcp_echo/udp; for http the URL's port. */
  port: number;
  url?: string;
  intervalMs: number;
  /**
   * Stable start offset within the interval, in [0, intervalMs), derived from a hash
   * of the name by the main thread, so starts are splayed and survive restarts.
   */
  phaseMs: number;
  timeoutMs: number;
  payloadSize: number;
  /** As TargetSpec.options: normalised and typed; the prober applies no defaults of its own. */
  options: KindOptions;
}

/** Defaults of every target field, from probe_defaults (typed, durations in ms). */
export interface ProbeDefaults {
  kind: ProbeKind;
  intervalMs: number;
  timeoutMs: number;
  lossWindow: number;
  payloadSize: number;
  labels: Record<string, string>;
  /**
   * Option values of each kind as configured under probe_defaults.<kind> (validated,
   * as written: durations as strings; every declared key present). A target's own
   * values override them before the kind normalises them (targets/options.ts).
   */
  optionValues: Readonly<Record<ProbeKind, Readonly<Record<string, unknown>>>>;
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

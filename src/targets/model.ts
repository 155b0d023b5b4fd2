/** The target model shared by config, targets, pool and workers. */

export const PROBE_KINDS = ['icmp', 'tcp', 'tcp_echo', 'udp', 'http'] as const;
export type ProbeKind = (typeof PROBE_KINDS)[number];

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
  /** Per-kind options (validated by the kind's own schema). */
  options: Record<string, unknown>;
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
  options: Record<string, unknown>;
}

/**
 * The configuration schema (convict). Every leaf has a doc string, a format, a
 * default, and — where a scalar makes sense — an environment variable
 * (FLEETPROBE_<PATH>, dots and case folded: web.listen_address ->
 * FLEETPROBE_WEB_LISTEN_ADDRESS) and a flag (--<path> with "_" -> "-":
 * --web.listen-address). Names are derived in one place (withNames) so they
 * cannot drift from the keys.
 *
 * Precedence, lowest first: defaults < config file < environment < flags.
 */
import { availableParallelism } from 'node:os';
import { kindOptionFormatName, registerFormats } from './formats.js';
import { KINDS, PROBE_KINDS, type OptionDecl } from '../kinds/index.js';
import { HTTP_BOUNDS } from '../kinds/http.js';
import { TIMEOUT_MAX_INTERVALS } from '../kinds/timing.js';
import { DEFAULT_RTT_BUCKETS as STORE_DEFAULT_RTT_BUCKETS } from '../aggregate/buckets.js';
import { DEFAULT_HEAP_LIMIT_MB } from '../pool/failures.js';
import { DEFAULT_GROUP_LIMIT } from '../aggregate/groups.js';
import { RATE_LIMIT_DEFAULTS } from '../responder/limits.js';
import { apiSections } from './schema-api.js';
import { probeEndpointSection } from './schema-probe.js';
import { DEFAULT_MAX_REQUESTS, defaultMaxConnections } from '../http/limits.js';
import { readFdLimits } from '../http/fd-limit.js';

export interface SchemaLeaf {
  doc: string;
  format: string | ObjectConstructor;
  default: unknown;
  /** Our own check when `format` is convict's Object (which must stay 'object' for convict's merge). */
  check?: string;
  nullable?: boolean;
  env?: string;
  arg?: string;
  /** Set false to give the leaf no env variable / flag (structured values). */
  noEnv?: boolean;
}
export interface SchemaSection {
  [key: string]: SchemaLeaf | SchemaSection;
}

export function isLeaf(node: SchemaLeaf | SchemaSection): node is SchemaLeaf {
  return Object.prototype.hasOwnProperty.call(node, 'default');
}

/** Default RTT histogram bounds (seconds): the store's, 50µs doubling up to ~13s. */
export const DEFAULT_RTT_BUCKETS: readonly number[] = Array.from(STORE_DEFAULT_RTT_BUCKETS);

export { RESPONDER_DEFAULTS } from '../responder/defaults.js';

/** probe_defaults.<kind> sections, generated from the kind modules' option declarations. */
function kindSections(): SchemaSection {
  const out: SchemaSection = {};
  for (const k of KINDS) {
    const fields = Object.entries<OptionDecl>(k.options);
    if (fields.length === 0) continue;
    const section: SchemaSection = {};
    for (const [key, f] of fields) {
      const format = kindOptionFormatName(k.kind, key);
      const leaf: SchemaLeaf = { doc: f.doc, format, default: structuredClone(f.default) };
      if (f.nullable) leaf.nullable = true;
      if (f.noEnv) {
        // Object-valued: convict must see format Object to merge it as one value.
        leaf.format = Object;
        leaf.check = format;
        leaf.noEnv = true;
      }
      section[key] = leaf;
    }
    out[k.kind] = section;
  }
  return out;
}

export function buildSchema(): SchemaSection {
  registerFormats();
  const schema: SchemaSection = {
    workers: {
      doc: 'Worker threads (probe shards). Default: os.availableParallelism().',
      format: 'fp-workers',
      default: availableParallelism(),
    },
    flush_interval: {
      doc: 'How often each worker ships its batch of results to the main thread. Shorter: fresher metrics, more messages.',
      format: 'fp-flush-interval',
      default: '500ms',
    },
    workers_stall_timeout: {
      doc:
        'A worker that delivers no result batch for this long is reported as stalled and replaced (its targets resume on a new thread). ' +
        '"auto" (default): the larger of 5s and 10 x flush_interval. Otherwise a duration from 1s to 1h, at least 3 x flush_interval.',
      format: 'fp-stall-timeout',
      default: 'auto',
    },
    workers_heap_limit_mb: {
      doc:
        'V8 old-generation heap limit of each worker thread in MiB (resourceLimits.maxOldGenerationSizeMb): a worker that reaches it ' +
        'is ended and replaced like a crashed one instead of growing without bound. A shard holds about 0.5 KiB of heap per target. 64 to 65536.',
      format: 'fp-heap-limit-mb',
      default: DEFAULT_HEAP_LIMIT_MB,
    },
    icmp: {
      socket: {
        doc:
          'Which ICMP socket the workers open: raw (needs CAP_NET_RAW), dgram (a Linux "ping socket": no capability, but the process\'s group ' +
          'must be inside sysctl net.ipv4.ping_group_range), or auto (raw when it opens, else dgram). A change restarts the workers.',
        format: 'fp-icmp-socket',
        default: 'auto',
      },
    },
    log: {
      level: { doc: 'Log level (pino levels): fatal, error, warn, info, debug, trace, silent.', format: 'fp-log-level', default: 'info' },
      format: {
        doc: 'Log line format on stdout: json (pino JSON lines) or logfmt (key=value, as Prometheus exporters log).',
        format: 'fp-log-format',
        default: 'json',
      },
    },
    web: {
      listen_address: {
        doc: 'Address of the HTTP server (/metrics, /healthz, /api). "host:port", "[v6]:port" or ":port" for all addresses; port 0 picks a free port.',
        format: 'fp-listen',
        default: '127.0.0.1:9798',
      },
      telemetry_path: { doc: 'Path where Prometheus metrics are served.', format: 'fp-url-path', default: '/metrics' },
      max_requests: {
        doc: 'Concurrent scrapes of the telemetry path (as node_exporter --web.max-requests); beyond, 503 at once unless a scrape whose client stopped reading can be closed. 0: no limit.',
        format: 'fp-web-count',
        default: DEFAULT_MAX_REQUESTS,
      },
      max_connections: {
        doc: 'Open connections to the web port; at the cap a new connection closes the longest-idle one, or is refused when all are busy. 0: no limit. Default: a quarter of the open-file limit, 16 to 1024.',
        format: 'fp-web-count',
        default: defaultMaxConnections(readFdLimits()?.soft ?? null),
      },
      read_timeout: {
        doc: "A request's headers and body must arrive within this long (and a new connection must send one); else 408 and closed.",
        format: 'fp-web-timeout',
        default: '10s',
      },
      write_timeout: {
        doc: 'A response whose client takes no bytes for this long is dropped (its buffers are freed).',
        format: 'fp-web-timeout',
        default: '10s',
      },
      idle_timeout: { doc: 'A keep-alive connection idle this long after its last response is closed.', format: 'fp-web-timeout', default: '90s' },
      config_file: {
        doc:
          'Web configuration file in the Prometheus exporter-toolkit format (TLS, client certificates, basic_auth_users, response headers, rate_limit) ' +
          'for the web port, and TLS for the gRPC port. Relative to the config file; read again on reload; its certificate files are re-read when they change. ' +
          'Also --web.config.file. Unset: plain HTTP, no authentication.',
        format: 'fp-string',
        default: null,
        nullable: true,
      },
    },
    dns: {
      refresh_interval: {
        doc: 'How often host names are resolved again. A name that fails is reported and retried at the next refresh.',
        format: 'fp-dns-refresh',
        default: '60s',
      },
      prefer: {
        doc: 'Which address of a host name is probed: "system" (the first the resolver returns), "ipv4" or "ipv6" (first of that family, else any).',
        format: 'fp-dns-prefer',
        default: 'system',
      },
    },
    metrics: {
      rtt_buckets: {
        doc: 'Upper bounds (seconds) of the RTT histogram buckets, strictly increasing. Default: 50µs doubling to ~13s (19 buckets), like smokeping_prober.',
        format: 'fp-buckets',
        default: [...DEFAULT_RTT_BUCKETS],
      },
      group_by: {
        doc:
          'Target labels whose values group targets into rollups (fleetprobe_group_* families): per group and probe kind, the probes sent, ' +
          "received and lost and the RTT histogram, summed over the group's targets. In mesh mode per pair of this node's group " +
          "(src_<label>) and the targets' group (dst_<label>). [] (default): no rollups.",
        format: 'fp-group-by',
        default: [],
      },
      group_limit: {
        doc: 'Most groups with series of their own; the targets of further groups are summed into one group whose labels read __other__ (fleetprobe_rollup_groups{state="folded"} counts them).',
        format: 'fp-group-limit',
        default: DEFAULT_GROUP_LIMIT,
      },
      classic_histograms: {
        doc:
          'In the protobuf exposition (scrapers that ask for it, e.g. Prometheus with native histograms on), also write the classic ' +
          'buckets of the RTT histogram next to its native one. The text exposition always has them.',
        format: 'fp-bool',
        default: true,
      },
      series_labels: {
        doc:
          'Labels of every per-target series, in the text and protobuf expositions. "full" (default): target, address, kind and the ' +
          'user labels. "compact": target and the user labels only, plus one fleetprobe_target_info series per target with its address ' +
          'and kind (join on target); fewer bytes per scrape. OTLP data points keep every attribute either way.',
        format: 'fp-series-label-mode',
        default: 'full',
      },
    },
    history: {
      retention: {
        doc:
          "How far back the in-memory history of each target reaches (the web console's graphs and matrix). " +
          'A whole number of history.resolution periods; 0s turns the history off. About 7 bytes per period per target.',
        format: 'fp-history-retention',
        default: '1h',
      },
      resolution: {
        doc: 'Length of one history period: per target, its answered and lost probes and RTT p50/p90/p99.',
        format: 'fp-history-resolution',
        default: '30s',
      },
    },
    shard: {
      index: {
        doc: "This instance's shard (0-based, below shard.count) when several instances split one target list by rendezvous hashing.",
        format: 'fp-shard-index',
        default: 0,
      },
      count: { doc: 'Number of instances splitting the target list (1: this instance probes every target).', format: 'fp-shard-count', default: 1 },
    },
    probe_defaults: {
      kind: { doc: `Probe kind of targets that do not say: ${PROBE_KINDS.join(', ')}.`, format: 'fp-kind', default: 'icmp' },
      interval: { doc: 'Time between two probes of one target.', format: 'fp-interval', default: '1s' },
      timeout: {
        doc: `A probe without an answer after this long counts as lost. At most ${TIMEOUT_MAX_INTERVALS} x interval (for every target, after its own overrides).`,
        format: 'fp-timeout',
        default: '1s',
      },
      loss_window: { doc: 'Probes in the sliding window of the loss ratio gauge.', format: 'fp-loss-window', default: 100 },
      payload_size: { doc: 'ICMP/UDP payload bytes (at least the 16-byte probe header is always sent).', format: 'fp-payload-size', default: 56 },
      labels: {
        doc: "Labels added to every target (targets may override single labels); they count towards each target's label cap.",
        format: Object,
        check: 'fp-labels',
        default: {},
        noEnv: true,
      },
      ...kindSections(),
    },
    targets: {
      doc:
        'Inline targets: {name, kind?, address (icmp: IP or host; tcp/tcp_echo/udp: host:port or [v6]:port) | url (http), labels?, ' +
        'interval?, timeout?, loss_window?, payload_size?, + the per-kind options of probe_defaults.<kind> written flat on the target}. ' +
        `Each field has the range of its probe_defaults key; labels as probe_defaults.labels; url at most ${HTTP_BOUNDS.urlBytes} bytes; no limit on the number of targets.`,
      format: 'fp-list',
      default: [],
      noEnv: true,
    },
    target_files: {
      doc:
        'Files of more targets: a JSON array of {name, address, ...} (tcp_ping_prometheus format) or a Prometheus file_sd file (JSON/YAML). ' +
        'Relative paths are relative to the config file. Bad entries are rejected one by one; the rest load.',
      format: 'fp-paths',
      default: [],
    },
    file_watch: {
      enabled: {
        doc:
          'Re-read target_files, mesh.peers_file and web.config_file when they change on disk (a watch on their directories, debounced 500ms), ' +
          'with the same transactional reload as SIGHUP. The config file itself is not watched: reload it with SIGHUP or POST /-/reload.',
        format: 'fp-bool',
        default: true,
      },
      check_interval: {
        doc: 'How often the watched files are also checked by stat (inode, size, mtime), for changes the watch misses (network file systems, a replaced directory).',
        format: 'fp-file-check-interval',
        default: '30s',
      },
    },
    responder: {
      tcp_echo: {
        doc: 'Listen address of the TCP echo responder (tcp_ping_prometheus frames); "off" (or null in a file): no listener.',
        format: 'fp-responder-listen',
        default: null,
        nullable: true,
      },
      udp_echo: {
        doc: 'Listen address of the UDP echo responder; "off" (or null in a file): no listener.',
        format: 'fp-responder-listen',
        default: null,
        nullable: true,
      },
      http: {
        doc: 'Listen address of the HTTP responder (GET /v1/ping); "off" (or null in a file): no listener.',
        format: 'fp-responder-listen',
        default: null,
        nullable: true,
      },
      max_connections: {
        doc: 'TCP echo and HTTP (each): concurrent connections accepted; more are closed at once.',
        format: 'fp-max-connections',
        default: 4096,
      },
      max_frame_bytes: {
        doc: 'TCP echo: bytes held for one connection that does not read its echoes; past that the connection is closed.',
        format: 'fp-max-frame-bytes',
        default: 65_536,
      },
      max_datagram_bytes: { doc: 'UDP echo: longer datagrams are dropped, not echoed.', format: 'fp-max-datagram-bytes', default: 9216 },
      idle_timeout: { doc: 'TCP echo / HTTP: connections idle this long are closed.', format: 'fp-idle-timeout', default: '5m' },
      allow_cidrs: {
        doc: 'Only peers inside these CIDRs are answered. Empty (default): everyone is answered.',
        format: 'fp-cidrs',
        default: [],
      },
      http_body_bytes: {
        doc: 'HTTP: body size of a /v1/ping answer without ?size=. At most responder.http_max_body_bytes.',
        format: 'fp-http-body-bytes',
        default: 0,
      },
      http_max_body_bytes: { doc: 'HTTP: largest body a ?size= request may ask for.', format: 'fp-http-max-body-bytes', default: 1_048_576 },
      udp_rate_per_source: {
        doc: 'UDP echo: datagrams per second answered per source address (token bucket); more are dropped (rejected reason rate_limited). 0: no limit.',
        format: 'fp-udp-rate',
        default: RATE_LIMIT_DEFAULTS.udpRatePerSource,
      },
      udp_burst_per_source: {
        doc: 'UDP echo: datagrams a source may send at once above its rate (the bucket size).',
        format: 'fp-udp-burst',
        default: RATE_LIMIT_DEFAULTS.udpBurstPerSource,
      },
      tcp_connect_rate_per_source: {
        doc: 'TCP echo: connections per second accepted per source address; more are closed at once (rejected reason rate_limited). 0: no limit.',
        format: 'fp-tcp-connect-rate',
        default: RATE_LIMIT_DEFAULTS.tcpConnectRatePerSource,
      },
      tcp_connect_burst_per_source: {
        doc: 'TCP echo: connections a source may open at once above its rate.',
        format: 'fp-tcp-connect-burst',
        default: RATE_LIMIT_DEFAULTS.tcpConnectBurstPerSource,
      },
      rate_limit_sources: {
        doc: 'Source addresses each per-source rate limit remembers; when full, the oldest is forgotten.',
        format: 'fp-rate-limit-sources',
        default: RATE_LIMIT_DEFAULTS.rateLimitSources,
      },
    },
    mesh: {
      name: {
        doc: "This node's name in the peer list. Unset: self is the peer whose address the responder listens on, else the one with one of this host's interface addresses.",
        format: 'fp-string',
        default: null,
        nullable: true,
      },
      peers: {
        doc: 'Peers of a full mesh: [{name, address (IP or host name), labels?}]. Every peer but self is probed with every kind of mesh.kinds; targets are named "<peer>/<kind>".',
        format: 'fp-list',
        default: [],
        noEnv: true,
      },
      peers_file: {
        doc: 'JSON or YAML file with the peer list (added to mesh.peers). Relative to the config file.',
        format: 'fp-string',
        default: null,
        nullable: true,
      },
      peers_dns: {
        doc:
          'DNS name whose A/AAAA records are more peers, e.g. a Kubernetes headless Service (fleetprobe-mesh.<namespace>.svc.cluster.local). ' +
          'Re-resolved every dns.refresh_interval; each address is a peer named by the address (of the family dns.prefer asks for, when it has one). ' +
          'A failed lookup keeps the last peers and is reported.',
        format: 'fp-dns-name',
        default: null,
        nullable: true,
      },
      kinds: {
        doc: 'Kinds probed to every peer. tcp_echo/udp use the responder ports (default 4000), http uses http://<peer>:<http port>/v1/ping (default 4001), tcp connects to the tcp_echo port.',
        format: 'fp-kinds',
        default: ['icmp'],
      },
    },
    ...apiSections(),
    ...probeEndpointSection(),
  };
  withNames(schema, '');
  return schema;
}

/** Give every leaf its env variable and flag, derived from its path. */
function withNames(section: SchemaSection, prefix: string): void {
  for (const [key, node] of Object.entries(section)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isLeaf(node)) {
      if (!node.noEnv) {
        node.env = `FLEETPROBE_${path.toUpperCase().replace(/\./g, '_')}`;
        node.arg = path.replace(/_/g, '-');
      }
    } else {
      withNames(node, path);
    }
  }
}

/** Every leaf with its dotted path, in schema order. */
export function leaves(section: SchemaSection, prefix = ''): Array<[string, SchemaLeaf]> {
  const out: Array<[string, SchemaLeaf]> = [];
  for (const [key, node] of Object.entries(section)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isLeaf(node)) out.push([path, node]);
    else for (const l of leaves(node, path)) out.push(l);
  }
  return out;
}

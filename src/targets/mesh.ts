/**
 * Mesh mode: every node probes every other node with the configured kinds.
 * Self is the peer named mesh.name, or (without a name) any peer whose address is one
 * of this host's interface addresses. A peer given by host name cannot be matched by
 * address without DNS, so name the node when peers are host names.
 *
 * Every mesh target carries the labels `peer` (the peer probed) and `prober` (this
 * node), besides the peer's own labels.
 */
import { hostname as osHostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import type { MeshConfig, ProbeDefaults, TargetSpec } from './model.js';
import { parseHostPort } from './address.js';
import { targetOptions } from './options.js';
import { RESPONDER_DEFAULTS } from '../responder/defaults.js';

/** The responder's listen addresses ("host:port", or null when off), as configured. */
export interface ResponderListeners {
  tcpEcho: string | null;
  udpEcho: string | null;
  http: string | null;
}

export interface MeshPorts {
  tcpEcho: number;
  udpEcho: number;
  http: number;
  httpPath: string;
}

/** Ports the peers' responders listen on: this node's responder config, else the defaults (4000/4000/4001). */
export function meshPorts(responder: ResponderListeners | null): MeshPorts {
  const port = (listen: string | null | undefined, fallback: number) => {
    if (!listen) return fallback;
    const hp = parseHostPort(listen, { allowEmptyHost: true, allowPortZero: true });
    return typeof hp === 'string' || hp.port === 0 ? fallback : hp.port;
  };
  return {
    tcpEcho: port(responder?.tcpEcho, RESPONDER_DEFAULTS.tcpEchoPort),
    udpEcho: port(responder?.udpEcho, RESPONDER_DEFAULTS.udpEchoPort),
    http: port(responder?.http, RESPONDER_DEFAULTS.httpPort),
    httpPath: RESPONDER_DEFAULTS.httpPath,
  };
}

/** Normalised IP literals of this host's interfaces (I/O at the edge; pass your own in tests). */
export function ownAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.add(normaliseIp(a.address));
  }
  return out;
}

/** Lower case, zone id dropped, IPv4-mapped IPv6 folded to IPv4. */
export function normaliseIp(ip: string): string {
  let s = ip.toLowerCase();
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  if (s.startsWith('::ffff:') && isIP(s.slice(7)) === 4) s = s.slice(7);
  if (isIP(s) === 6) {
    // Canonical text form via URL parsing, so "0:0::1" equals "::1".
    try {
      s = new URL(`http://[${s}]/`).hostname.slice(1, -1);
    } catch {
      /* keep as is */
    }
  }
  return s;
}

export interface MeshResult {
  targets: TargetSpec[];
  /** The peer recognised as this node, or null (then every peer is probed). */
  self: string | null;
  /** This node's name as a prober: self, else mesh.name, else the host name. */
  prober: string;
}

/**
 * Labels fleetprobe puts on every mesh target: the peer probed and the node probing
 * (a target is named "<peer>/<kind>", but a matrix or a rollup wants them apart).
 * They override probe_defaults.labels of the same name; peer labels may not use them.
 */
export const MESH_TARGET_LABELS = ['peer', 'prober'] as const;

function hostForPort(address: string): string {
  return isIP(address) === 6 ? `[${address}]` : address;
}

/**
 * Host parts of the responder's listen addresses, minus wildcards: the addresses this
 * node answers mesh probes on. They identify self more precisely than interface
 * addresses, which several nodes can share (all of 127/8 on one machine).
 */
export function responderListenHosts(responder: ResponderListeners | null): Set<string> {
  const hosts = new Set<string>();
  for (const v of [responder?.tcpEcho, responder?.udpEcho, responder?.http]) {
    if (!v) continue;
    const hp = parseHostPort(v, { allowEmptyHost: true, allowPortZero: true });
    if (typeof hp === 'string' || hp.host === '' || isIP(hp.host) === 0) continue;
    const ip = normaliseIp(hp.host);
    if (ip !== '0.0.0.0' && ip !== '::') hosts.add(ip);
  }
  return hosts;
}

/** This node's name as a prober (the `prober` label, the matrix row): self, else mesh.name, else the host name. */
export function meshProberName(self: string | null, meshName: string | null, hostname: () => string = osHostname): string {
  return self ?? meshName ?? hostname();
}

export function meshTargets(
  mesh: MeshConfig,
  defaults: ProbeDefaults,
  ports: MeshPorts,
  own: ReadonlySet<string>,
  listenHosts: ReadonlySet<string> = new Set(),
  hostname: () => string = osHostname,
): MeshResult {
  let self: string | null;
  if (mesh.name !== null) {
    self = mesh.peers.some((p) => p.name === mesh.name) ? mesh.name : null;
  } else {
    // The responder's own listen address first; interface addresses as the fallback.
    const isLiteral = (p: { address: string }): boolean => isIP(p.address) !== 0;
    const mine =
      mesh.peers.find((p) => isLiteral(p) && listenHosts.has(normaliseIp(p.address))) ??
      mesh.peers.find((p) => isLiteral(p) && own.has(normaliseIp(p.address)));
    self = mine ? mine.name : null;
  }
  const prober = meshProberName(self, mesh.name, hostname);
  const targets: TargetSpec[] = [];
  for (const peer of mesh.peers) {
    if (peer.name === self) continue;
    for (const kind of mesh.kinds) {
      const spec: TargetSpec = {
        name: `${peer.name}/${kind}`,
        kind,
        address: '',
        labels: { ...defaults.labels, ...peer.labels, peer: peer.name, prober },
        intervalMs: defaults.intervalMs,
        timeoutMs: defaults.timeoutMs,
        payloadSize: defaults.payloadSize,
        lossWindow: defaults.lossWindow,
        options: targetOptions(kind, defaults, null, defaults.timeoutMs),
        source: `${peer.source} (mesh ${kind})`,
      };
      const h = hostForPort(peer.address);
      switch (kind) {
        case 'icmp':
          spec.address = peer.address;
          break;
        case 'tcp':
        case 'tcp_echo':
          spec.address = `${h}:${ports.tcpEcho}`;
          break;
        case 'udp':
          spec.address = `${h}:${ports.udpEcho}`;
          break;
        case 'http':
          spec.address = `${h}:${ports.http}`;
          spec.url = `http://${h}:${ports.http}${ports.httpPath}`;
          break;
      }
      targets.push(spec);
    }
  }
  return { targets, self, prober };
}

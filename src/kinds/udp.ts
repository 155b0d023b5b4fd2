/** udp: RFC 862 echo RTT over shared unconnected sockets (workers/probes/udp.ts). */
import { intFormat } from '../values/format.js';
import type { Range } from '../values/range.js';
import type { KindModule } from './kind.js';

export const UDP_BOUNDS = {
  /** source_ports: the prober opens one socket per port per worker and address family. */
  sourcePorts: { min: 1, max: 64 },
} as const satisfies Record<string, Range>;

export type UdpOptions = {
  readonly kind: 'udp';
  /** Distinct source ports successive probes rotate through. */
  readonly sourcePorts: number;
};

export const udpKind: KindModule<'udp', UdpOptions> = {
  kind: 'udp',
  addressing: 'host_port',
  options: {
    source_ports: {
      format: intFormat(UDP_BOUNDS.sourcePorts),
      default: 1,
      doc: 'Distinct UDP source ports a udp target rotates through, so probes take several ECMP paths.',
    },
  },
  normalise: (v) => ({ kind: 'udp', sourcePorts: v.source_ports as number }),
  reasons: ['send_failed'],
  // port_unreachable is never reported today (the shared unconnected sockets do not see
  // ICMP errors; a closed port shows as timeouts), but its series has always been
  // exported at 0 for udp targets and alerts may select it: kept so nothing disappears.
  zeroReasons: ['port_unreachable', 'send_failed'],
  families: [],
};

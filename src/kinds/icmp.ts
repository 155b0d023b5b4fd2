/**
 * icmp: echo request → reply over one raw socket per address family per worker
 * (workers/probes/icmp.ts). No options of its own: the payload size is a field every
 * target has (payload_size).
 */
import type { KindModule } from './kind.js';

export type IcmpOptions = {
  readonly kind: 'icmp';
};

export const icmpKind: KindModule<'icmp', IcmpOptions> = {
  kind: 'icmp',
  addressing: 'host',
  options: {},
  normalise: () => ({ kind: 'icmp' }),
  // sendto() failures, and every ICMP error message the codec maps (workers/probes/icmp-codec.ts).
  reasons: [
    'send_failed',
    'net_unreachable',
    'host_unreachable',
    'port_unreachable',
    'protocol_unreachable',
    'admin_prohibited',
    'unreachable_other',
    'ttl_exceeded',
    'packet_too_big',
  ],
  zeroReasons: ['send_failed', 'host_unreachable', 'admin_prohibited'],
  families: [],
};

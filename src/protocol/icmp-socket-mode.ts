/**
 * icmp.socket: which ICMP socket a worker opens. Declared here, below both planes: the
 * configuration validates it, the workers act on it.
 *   raw   SOCK_RAW; needs CAP_NET_RAW.
 *   dgram a Linux "ping socket" (SOCK_DGRAM, IPPROTO_ICMP/ICMPV6); needs no capability,
 *         only a group inside sysctl net.ipv4.ping_group_range.
 *   auto  raw when it opens, else dgram.
 */
export const ICMP_SOCKET_MODES = ['auto', 'raw', 'dgram'] as const;
export type IcmpSocketChoice = (typeof ICMP_SOCKET_MODES)[number];

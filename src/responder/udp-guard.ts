/**
 * Which UDP sources the echo never answers, whatever the allowlist says (pure).
 *
 * An echo answers whatever arrives, to whatever source the datagram claims. Two
 * services that each answer the other never stop, and one forged datagram starts
 * them ("UDP packet storm", CVE-1999-0103: echo <-> chargen, echo <-> echo). The
 * rules below are about the SOURCE PORT only, because the source address of a UDP
 * datagram is whatever the sender wrote:
 *
 *  1. `self` — the source port equals the echo socket's own port, from ANY address.
 *     From one of our own addresses it is a forged self-addressed datagram: the
 *     answer would arrive at this same socket and be answered again, forever (one
 *     such datagram kept a core busy with 1.14 M echoes in 10 s). From another
 *     address it is another echo responder: every fleetprobe of a mesh listens on
 *     the same port, so answering starts a ping-pong between two responders that
 *     never ends. A real prober never sends from the responder's port: probers send
 *     from ephemeral ports (Linux: 32768-60999), so keep the responder's port out
 *     of that range (the default, 4000, is).
 *  2. `reflector_port` — the source port is 0 (RFC 768: "no reply wanted"; sending
 *     to it fails anyway), below 1024, or one of REFLECTOR_PORTS_ABOVE_1023. Below
 *     1024 is OpenBSD inetd's rule (dg_badinput) for its own echo: that is where
 *     the services live that answer any datagram or generate traffic — echo 7,
 *     discard 9, systat 11, daytime 13, netstat 15, qotd 17, chargen 19, time 37,
 *     DNS 53, NTP 123, NetBIOS 137, SNMP 161, CLDAP 389 — and where a service may
 *     trust a client by its privileged port. Above 1023 the list holds services
 *     that answer unsolicited datagrams (a loop or an amplifier) and sit below
 *     10000, under every common ephemeral range (Linux 32768, Windows 49152,
 *     FreeBSD 10000), so no prober's ephemeral port is refused by it.
 *
 * What port rules cannot stop — a loop with a reflector on an ordinary high port,
 * or with another echo on a different port — the per-source rate limit ends after
 * one burst (rate-limit.ts).
 */

/**
 * Services above 1023 that answer datagrams nobody asked for (each one an echo
 * loop or an amplifier when our echo of their answer reaches them):
 * 1900 SSDP, 2049 NFS (OpenBSD's rule too), 3283 Apple Remote Desktop,
 * 3702 WS-Discovery, 5353 mDNS, 5683 CoAP. (memcached 11211 and Ubiquiti
 * discovery 10001 are amplifiers too, but inside FreeBSD's ephemeral range; the
 * rate limit covers them.)
 */
export const REFLECTOR_PORTS_ABOVE_1023: readonly number[] = [1900, 2049, 3283, 3702, 5353, 5683];

const FIRST_UNPRIVILEGED_PORT = 1024;
const reflectorAbove = new Set(REFLECTOR_PORTS_ABOVE_1023);

/** True when a datagram from source port `port` must never be answered (rule 2). */
export function isReflectorPort(port: number): boolean {
  return port < FIRST_UNPRIVILEGED_PORT || reflectorAbove.has(port);
}

export const enum UdpVerdict {
  Answer = 0,
  Self = 1,
  ReflectorPort = 2,
}

/** The verdict for a datagram from `sourcePort` arriving at the echo bound to `localPort`. */
export function udpSourceVerdict(sourcePort: number, localPort: number): UdpVerdict {
  if (sourcePort === localPort) return UdpVerdict.Self;
  if (isReflectorPort(sourcePort)) return UdpVerdict.ReflectorPort;
  return UdpVerdict.Answer;
}

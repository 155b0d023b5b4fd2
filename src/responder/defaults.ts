/** Ports and path the responder listens on unless configured otherwise, and that mesh probes of peers use. */
export const RESPONDER_DEFAULTS = { tcpEchoPort: 4000, udpEchoPort: 4000, httpPort: 4001, httpPath: '/v1/ping' } as const;

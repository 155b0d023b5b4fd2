/** tcp: the time of a TCP handshake (workers/probes/tcp.ts). */
import { oneOf } from '../values/format.js';
import type { KindModule } from './kind.js';

export const TCP_CLOSE_MODES = ['reset', 'fin'] as const;
export type TcpCloseMode = (typeof TCP_CLOSE_MODES)[number];

export type TcpOptions = {
  readonly kind: 'tcp';
  /** reset: close with RST (no TIME_WAIT left on the prober); fin: an orderly close. */
  readonly close: TcpCloseMode;
};

/** Reasons of a failed connect (workers/probes/tcp-errors.ts connectErrorReason). */
export const CONNECT_REASONS = ['refused', 'net_unreachable', 'host_unreachable', 'reset', 'dns', 'connect_failed'] as const;

export const tcpKind: KindModule<'tcp', TcpOptions> = {
  kind: 'tcp',
  addressing: 'host_port',
  options: {
    close: {
      format: { check: oneOf(TCP_CLOSE_MODES) },
      default: 'reset',
      doc: 'How a tcp probe closes its connection: "reset" (RST: no TIME_WAIT left behind on the prober; default) or "fin".',
    },
  },
  normalise: (v) => ({ kind: 'tcp', close: v.close as TcpCloseMode }),
  reasons: CONNECT_REASONS,
  zeroReasons: ['refused', 'connect_failed'],
  families: [],
};

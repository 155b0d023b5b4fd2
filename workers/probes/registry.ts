/**
 * Probe kind → prober factory. The shard creates one prober per kind, lazily, the
 * first time a target of that kind arrives. A kind missing here is rejected per
 * target (target_rejected), never fatal to the shard.
 */
import type { ProbeKind } from '../../src/targets/model.js';
import { icmpProberFactory } from './icmp.js';
import { tcpProberFactory } from './tcp.js';
import { tcpEchoProberFactory } from './tcp-echo.js';
import { udpProberFactory } from './udp.js';
import { httpProberFactory } from './http.js';
import type { ProberFactory } from './prober.js';

export const proberFactories: Partial<Record<ProbeKind, ProberFactory>> = {
  icmp: icmpProberFactory,
  tcp: tcpProberFactory,
  tcp_echo: tcpEchoProberFactory,
  udp: udpProberFactory,
  http: httpProberFactory,
};

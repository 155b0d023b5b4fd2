/**
 * One port number free on several loopback addresses at once, for both TCP and UDP.
 *
 * Mesh nodes derive their peers' responder ports from their own responder config
 * (src/targets/mesh.ts meshPorts), so every node of a test mesh must listen on the
 * SAME port, each on its own 127.0.0.X. The tcp_echo and udp_echo listeners share that
 * number too (different protocols), as the embedded default does with 4000.
 * Like free-port.ts there is a small window between our check and the child binding.
 */
import { createSocket } from 'node:dgram';
import { freePort, portIsFree } from './free-port.js';

/** True when a UDP socket can bind `host:port` right now. */
export function udpPortIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.unref();
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind({ address: host, port, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/**
 * A port free for TCP (and, with `udp`, UDP) on every address of `hosts`
 * (IPv4 loopback only). Tries kernel-chosen candidates; throws after `attempts`.
 */
export async function portFreeOnAll(hosts: readonly string[], opts: { udp?: boolean; avoid?: readonly number[]; attempts?: number } = {}): Promise<number> {
  for (const h of hosts) {
    if (!/^127\.\d+\.\d+\.\d+$/.test(h)) throw new Error(`refusing a non-loopback address: ${h}`);
  }
  const attempts = opts.attempts ?? 20;
  for (let i = 0; i < attempts; i++) {
    const port = await freePort(hosts[0]);
    if (opts.avoid?.includes(port)) continue;
    let ok = true;
    for (const h of hosts) {
      if (!(await portIsFree(port, h)) || (opts.udp && !(await udpPortIsFree(port, h)))) {
        ok = false;
        break;
      }
    }
    if (ok) return port;
  }
  throw new Error(`no port free on all of ${hosts.join(', ')} after ${attempts} attempts`);
}

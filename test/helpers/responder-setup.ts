/**
 * Shared setup of the responder integration tests: a silent logger, options that
 * listen on loopback with any free port, reading one value back from the
 * responder's prom-client registry, and one UDP round trip.
 */
import { createSocket } from 'node:dgram';
import type { Registry } from 'prom-client';
import type { ResponderOptions } from '../../src/responder/index.js';

export const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/**
 * All three listeners on 127.0.0.1 port 0 and generous limits; `over` replaces
 * what a test is about (a listener set to undefined is not started).
 */
export function loopbackResponderOptions(over: Partial<ResponderOptions> = {}): ResponderOptions {
  return {
    tcpEcho: { host: '127.0.0.1', port: 0 },
    udpEcho: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    maxConnections: 100,
    maxFrameBytes: 65536,
    maxDatagramBytes: 9000,
    idleTimeoutMs: 10_000,
    allowCidrs: [],
    httpBodyBytes: 5,
    httpMaxBodyBytes: 1 << 20,
    ...over,
  };
}

/** The value of the first series of `name` whose labels include `labels`; undefined if none. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const all = (await registry.getMetricsAsJSON()) as Array<{ name: string; values: Array<{ value: number; labels: Record<string, string | number> }> }>;
  return all.find((x) => x.name === name)?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value;
}

/** Send one datagram from `bindAddress` to 127.0.0.1:`port`; the first datagram back, or null after `waitMs`. */
export function udpRoundTrip(port: number, payload: Buffer, waitMs: number, bindAddress = '127.0.0.1'): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const timer = setTimeout(() => {
      sock.close();
      resolve(null);
    }, waitMs);
    sock.on('error', reject);
    sock.on('message', (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(msg);
    });
    sock.bind({ address: bindAddress, port: 0 }, () => sock.send(payload, port, '127.0.0.1'));
  });
}

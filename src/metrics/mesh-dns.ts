/**
 * Metrics of the DNS source of mesh peers (mesh.peers_dns), after Prometheus' own
 * prometheus_sd_dns_lookups_total / _lookup_failures_total. Totals live here, not in
 * the DnsPeers instance, so they stay monotonic when a reload replaces it; values are
 * copied into prom-client at scrape time.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export class MeshDnsMetrics {
  #lookups = 0;
  #failures = 0;
  #lastSuccessSeconds = 0;

  /** `peers` is read at scrape time: the current DNS peer count (0 without mesh.peers_dns). */
  constructor(registry: Registry, peers: () => number) {
    const lookups: Counter = new Counter({
      name: 'fleetprobe_mesh_dns_lookups_total',
      help: 'Lookups of mesh.peers_dns.',
      registers: [registry],
      collect: () => {
        lookups.reset();
        lookups.inc(this.#lookups);
      },
    });
    const failures: Counter = new Counter({
      name: 'fleetprobe_mesh_dns_lookup_failures_total',
      help: 'Failed lookups of mesh.peers_dns (the last good peer set is kept).',
      registers: [registry],
      collect: () => {
        failures.reset();
        failures.inc(this.#failures);
      },
    });
    const count: Gauge = new Gauge({
      name: 'fleetprobe_mesh_dns_peers',
      help: 'Mesh peers from the last successful lookup of mesh.peers_dns.',
      registers: [registry],
      collect: () => count.set(peers()),
    });
    const lastSuccess: Gauge = new Gauge({
      name: 'fleetprobe_mesh_dns_last_success_timestamp_seconds',
      help: 'Unix time of the last successful lookup of mesh.peers_dns (0 before the first).',
      registers: [registry],
      collect: () => lastSuccess.set(this.#lastSuccessSeconds),
    });
  }

  onLookup(ok: boolean, nowMs = Date.now()): void {
    this.#lookups++;
    if (ok) this.#lastSuccessSeconds = nowMs / 1000;
    else this.#failures++;
  }
}

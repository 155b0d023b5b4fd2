/**
 * Every non-ICMP probe kind end to end through the real CLI: the exporter probes its
 * own responder (tcp connect, tcp_echo, udp echo, http GET /v1/ping) on free loopback
 * ports, as the embedded default configuration does. Each target must be accepted by
 * its worker, answered, and counted on both sides (prober series and responder
 * counters). Needs no privileges (no raw sockets).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExporterProcess, tempDir, waitFor } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';

const NAMES = ['k-tcp', 'k-echo', 'k-udp', 'k-http'];

test("tcp, tcp_echo, udp and http targets probe the exporter's own responder", { timeout: 40_000 }, async (t) => {
  const dir = tempDir('fp-kinds');
  const webPort = await freePort();
  const echoPort = await freePort();
  const httpPort = await freePort();
  const listen = `127.0.0.1:${webPort}`;
  const echo = `127.0.0.1:${echoPort}`;
  const cfg = dir.file('c.yaml', {
    workers: 2,
    flush_interval: '100ms',
    web: { listen_address: listen },
    probe_defaults: { interval: '100ms', timeout: '1s' },
    responder: { tcp_echo: echo, udp_echo: echo, http: `127.0.0.1:${httpPort}`, allow_cidrs: ['127.0.0.0/8'] },
    targets: [
      { name: 'k-tcp', kind: 'tcp', address: echo },
      { name: 'k-echo', kind: 'tcp_echo', address: echo },
      { name: 'k-udp', kind: 'udp', address: echo },
      { name: 'k-http', kind: 'http', url: `http://127.0.0.1:${httpPort}/v1/ping` },
    ],
  });
  const exp = new ExporterProcess(['run', '--config', cfg], listen);
  t.after(async () => {
    await exp.stop(2000);
    dir.cleanup();
  });
  await exp.waitReady(15_000);

  const api = JSON.parse((await exp.request('/api/v1/targets')).text()) as { targets: Array<{ name: string; kind: string; state: string; error?: string }> };
  const notOk = api.targets.filter((x) => x.state !== 'ok');
  assert.deepEqual(
    notOk.map((x) => `${x.name} (${x.kind}): ${x.state}: ${x.error}`),
    [],
    'every kind is accepted by its worker (a kind missing from workers/probes/registry.ts is rejected here)',
  );

  const m = await waitFor(
    '5 answers on every target',
    async () => {
      const x = await exp.scrape();
      return NAMES.every((n) => (x.value('fleetprobe_probe_received_total', { target: n }) ?? 0) >= 5) && x;
    },
    10_000,
    250,
  ).catch(async (err: Error) => {
    const x = await exp.scrape();
    const got = NAMES.map(
      (n) =>
        `${n}: sent ${x.value('fleetprobe_probe_sent_total', { target: n })} received ${x.value('fleetprobe_probe_received_total', { target: n })} errors ${x.sum('fleetprobe_probe_errors_total', { target: n })}`,
    );
    throw new Error(`${err.message}\n${got.join('\n')}`);
  });
  for (const n of NAMES) {
    assert.equal(m.value('fleetprobe_probe_timeouts_total', { target: n }), 0, `${n}: timeouts`);
    assert.equal(m.sum('fleetprobe_probe_errors_total', { target: n }), 0, `${n}: errors`);
    const rtt = m.value('fleetprobe_probe_last_rtt_seconds', { target: n })!;
    assert.ok(rtt > 0 && rtt < 1, `${n}: last RTT ${rtt}`);
  }
  assert.equal(m.value('fleetprobe_http_status_code', { target: 'k-http' }), 200);
  assert.ok(m.value('fleetprobe_http_phase_seconds_count', { target: 'k-http', phase: 'total' })! >= 5, 'http phase timings recorded');
  assert.ok(m.value('fleetprobe_connects_total', { target: 'k-echo' })! >= 1, 'tcp_echo connected');
  assert.equal(m.value('fleetprobe_connected', { target: 'k-echo' }), 1);
  // The responder saw the other side of the same probes.
  assert.ok(m.value('fleetprobe_responder_frames_total')! >= 5, 'responder echoed tcp frames');
  assert.ok(m.value('fleetprobe_responder_datagrams_total')! >= 5, 'responder echoed datagrams');
  assert.ok(m.value('fleetprobe_responder_http_requests_total')! >= 5, 'responder answered http pings');
});

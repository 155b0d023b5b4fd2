/**
 * "Both" mode (tcp_ping_prometheus -mode=both): ONE fleetprobe process runs its
 * responder and probes it with every kind (icmp to the responder's address, tcp
 * connect, tcp_echo, udp, http). The exporter starts the responder before the
 * worker pool, so no probe should ever meet a closed port: every kind answers, and
 * no timeout or error is counted after warm-up.
 * The icmp target needs root / CAP_NET_RAW; without it the other kinds still run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExporterProcess, isRoot, tempDir, waitFor, type Metrics } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { portFreeOnAll } from '../helpers/mesh-ports.js';
import { describeTargets, snapshot, totalsDelta } from '../helpers/mesh-totals.js';
import { HTTP_PHASE_NAMES } from '../../src/protocol/events.js';

const HOST = '127.0.0.1';
const WARM = 3; // answers per target before the measured window
const MEASURED = 8; // answers per target inside it

test('one process responds and probes itself with every kind: all answered, no loss after warm-up', { timeout: 40_000 }, async (t) => {
  if (!isRoot) t.diagnostic('not root: the icmp target is left out (needs CAP_NET_RAW)');
  const dir = tempDir('fp-both');
  const webPort = await freePort();
  const echoPort = await portFreeOnAll([HOST], { udp: true, avoid: [webPort] });
  const httpPort = await portFreeOnAll([HOST], { avoid: [webPort, echoPort] });
  const listen = `${HOST}:${webPort}`;
  const echo = `${HOST}:${echoPort}`;
  const targets = [
    ...(isRoot ? [{ name: 'self-icmp', kind: 'icmp', address: HOST }] : []),
    { name: 'self-tcp', kind: 'tcp', address: echo },
    { name: 'self-tcp-echo', kind: 'tcp_echo', address: echo },
    { name: 'self-udp', kind: 'udp', address: echo },
    { name: 'self-http', kind: 'http', url: `http://${HOST}:${httpPort}/v1/ping` },
  ];
  const names = targets.map((x) => x.name);
  const cfg = dir.file('both.yaml', {
    workers: 2,
    flush_interval: '100ms',
    web: { listen_address: listen },
    probe_defaults: { interval: '100ms', timeout: '1s' },
    responder: { tcp_echo: echo, udp_echo: echo, http: `${HOST}:${httpPort}` },
    targets,
  });
  const proc = new ExporterProcess(['run', '--config', cfg], listen);
  t.after(async () => {
    await proc.stop(3000);
    dir.cleanup();
  });
  await proc.waitReady(15_000);

  const atLeast = (m: Metrics, base: Map<string, { received: number }> | null, n: number) =>
    names.every((name) => (m.value('fleetprobe_probe_received_total', { target: name }) ?? 0) - (base?.get(name)?.received ?? 0) >= n);
  const explain = async (err: Error): Promise<never> => {
    throw new Error(`${err.message}\n${describeTargets(await proc.scrape(), names)}\n${proc.tail(10)}`);
  };

  const warm = await waitFor(
    `${WARM} answers on every target`,
    async () => {
      const m = await proc.scrape();
      return atLeast(m, null, WARM) && m;
    },
    15_000,
    200,
  ).catch(explain);
  const before = snapshot(warm, names);
  const respBefore = {
    frames: warm.value('fleetprobe_responder_frames_total') ?? 0,
    datagrams: warm.value('fleetprobe_responder_datagrams_total') ?? 0,
    http: warm.value('fleetprobe_responder_http_requests_total') ?? 0,
  };

  const m = await waitFor(
    `${MEASURED} more answers on every target`,
    async () => {
      const x = await proc.scrape();
      return atLeast(x, before, MEASURED) && x;
    },
    15_000,
    200,
  ).catch(explain);
  const after = snapshot(m, names);

  for (const name of names) {
    const d = totalsDelta(before.get(name)!, after.get(name)!);
    const all = after.get(name)!;
    assert.ok(d.received >= MEASURED, `${name}: ${d.received} answers in the window`);
    assert.equal(d.timeouts, 0, `${name}: no timeouts after warm-up\n${describeTargets(m, names)}`);
    assert.equal(d.errors, 0, `${name}: no errors after warm-up\n${describeTargets(m, names)}`);
    // Sent but unanswered at the scrape: at most the one probe in flight.
    assert.ok(d.sent - d.received <= 1, `${name}: sent ${d.sent} vs received ${d.received} in the window`);
    // The responder was up before the first probe: nothing was ever lost, even in warm-up.
    assert.equal(all.timeouts + all.errors, 0, `${name}: no timeout or error since start\n${describeTargets(m, names)}`);
    const rtt = m.value('fleetprobe_probe_last_rtt_seconds', { target: name }) ?? NaN;
    assert.ok(rtt > 0 && rtt < 0.5, `${name}: last RTT ${rtt}s`);
    assert.equal(m.value('fleetprobe_probe_loss_ratio', { target: name }), 0, `${name}: loss ratio`);
  }

  assert.equal(m.value('fleetprobe_connected', { target: 'self-tcp-echo' }), 1, 'the tcp_echo connection is up');
  assert.equal(m.value('fleetprobe_connects_total', { target: 'self-tcp-echo' }), 1, 'one persistent connection, never re-made');
  assert.equal(m.value('fleetprobe_http_status_code', { target: 'self-http' }), 200);
  const phaseCounts = HTTP_PHASE_NAMES.map((phase) => m.value('fleetprobe_http_phase_seconds_count', { target: 'self-http', phase }) ?? 0);
  for (const [i, phase] of HTTP_PHASE_NAMES.entries()) {
    assert.ok(phaseCounts[i] >= WARM + MEASURED, `http phase ${phase} recorded (${phaseCounts[i]})`);
  }
  const firstByte = m.value('fleetprobe_http_phase_seconds_sum', { target: 'self-http', phase: 'first_byte' }) ?? NaN;
  const total = m.value('fleetprobe_http_phase_seconds_sum', { target: 'self-http', phase: 'total' }) ?? NaN;
  assert.ok(total > 0 && firstByte <= total, `first_byte (${firstByte}s) is part of total (${total}s)`);

  // The other side of the same probes: the responder in this very process counted them.
  // Totals, not deltas: the responder counts before it answers, the prober after a
  // flush, so responder >= prober holds at any one scrape (deltas could lag by a batch).
  const got = (n: string) => after.get(n)!.received;
  const frames = m.value('fleetprobe_responder_frames_total') ?? 0;
  const datagrams = m.value('fleetprobe_responder_datagrams_total') ?? 0;
  const http = m.value('fleetprobe_responder_http_requests_total') ?? 0;
  assert.ok(frames >= got('self-tcp-echo'), `responder echoed ${frames} frames, prober got ${got('self-tcp-echo')}`);
  assert.ok(datagrams >= got('self-udp'), `responder echoed ${datagrams} datagrams, prober got ${got('self-udp')}`);
  assert.ok(http >= got('self-http'), `responder answered ${http} pings, prober got ${got('self-http')}`);
  assert.ok(frames > respBefore.frames && datagrams > respBefore.datagrams && http > respBefore.http, 'responder counters grew during the window');
});

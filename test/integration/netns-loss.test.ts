/**
 * Measured loss against known injected loss. Inside a network namespace this test
 * creates, an nft ruleset drops a known share of probes per destination:
 *   127.0.0.1: 0%, 127.0.0.2: 30% (numgen random mod 100 < 30), 127.0.0.3: 100%.
 * The exporter (and, for 127.0.0.2, a second process in responder mode) run inside
 * the namespace with `ip netns exec`, so every probe stays on the namespace's own
 * loopback; the test scrapes from inside it too.
 *
 * Drops happen in the input hook: the probe left the prober's socket and is lost on
 * its way to the answering side, as on a real lossy path (a probe dropped in the
 * OUTPUT hook instead fails its sendto() with EPERM, which the exporter rightly
 * reports as errors{reason="send_failed"}, not as a timeout; 127.0.0.4 checks that).
 * With ~600 probes per target, the 30% target's measured loss must be within 5 sigma
 * of 0.3 (binomial: sqrt(0.3*0.7/600) ~ 0.0187, 5 sigma ~ 0.094), and every sent probe
 * must be accounted for: sent = received + timeouts + errors + (probes in flight).
 *
 * TCP echo is a stream: a dropped segment is retransmitted, so loss there shows as
 * timeouts of delayed answers, not as a binomial share; only bounds that follow from
 * that are checked. Needs root, ip and nft.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ExporterProcess, tempDir, waitFor, type Metrics } from '../helpers/exporter-process.js';
import { createNetns, netnsUnavailable, type Netns } from '../helpers/netns.js';

const SKIP = netnsUnavailable(['ip', 'nft']);
const INTERVAL_MS = 20;
const TIMEOUT_MS = 200;
const PROBES = 600;
/** Probes that can be in flight at a scrape: one per interval within a timeout, plus one. */
const MAX_IN_FLIGHT = Math.ceil(TIMEOUT_MS / INTERVAL_MS) + 1;
const P = 0.3;
const FIVE_SIGMA = 5 * Math.sqrt((P * (1 - P)) / PROBES);
const ECHO_PORT = 4000;

const RULESET = `
table inet fploss {
  chain out {
    type filter hook output priority 0; policy accept;
    ip daddr 127.0.0.4 icmp type echo-request drop
  }
  chain in {
    type filter hook input priority 0; policy accept;
    ip daddr 127.0.0.2 icmp type echo-request numgen random mod 100 < 30 drop
    ip daddr 127.0.0.3 icmp type echo-request drop
    ip daddr 127.0.0.2 udp dport ${ECHO_PORT} numgen random mod 100 < 30 drop
    ip daddr 127.0.0.3 udp dport ${ECHO_PORT} drop
    ip daddr 127.0.0.2 tcp dport ${ECHO_PORT} numgen random mod 100 < 30 drop
    ip daddr 127.0.0.3 tcp dport ${ECHO_PORT} drop
  }
}
`;

type Kind = 'icmp' | 'udp' | 'tcp_echo';
const PREFIX: Record<Kind, string> = { icmp: 'i', udp: 'u', tcp_echo: 'e' };
const LOSS = [0, 30, 100] as const;
const ADDR: Record<(typeof LOSS)[number], string> = { 0: '127.0.0.1', 30: '127.0.0.2', 100: '127.0.0.3' };
const nameOf = (kind: Kind, loss: number): string => `${PREFIX[kind]}-${loss}`;

function targets(): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const kind of ['icmp', 'udp', 'tcp_echo'] as const) {
    for (const loss of LOSS) {
      out.push({ name: nameOf(kind, loss), kind, address: kind === 'icmp' ? ADDR[loss] : `${ADDR[loss]}:${ECHO_PORT}` });
    }
  }
  out.push({ name: LOCAL_DROP, kind: 'icmp', address: '127.0.0.4' });
  return out;
}

/** ICMP target whose echo requests are dropped in the output hook (sendto fails). */
const LOCAL_DROP = 'i-local-drop';

interface Books {
  sent: number;
  received: number;
  timeouts: number;
  errors: number;
  late: number;
  lossRatioGauge: number;
}

function books(m: Metrics, target: string): Books {
  const v = (f: string): number => {
    const x = m.value(`fleetprobe_probe_${f}`, { target });
    assert.ok(x !== undefined, `${f}{target="${target}"} missing`);
    return x;
  };
  return {
    sent: v('sent_total'),
    received: v('received_total'),
    timeouts: v('timeouts_total'),
    errors: m.sum('fleetprobe_probe_errors_total', { target }),
    late: v('late_total'),
    lossRatioGauge: v('loss_ratio'),
  };
}

function assertAccounted(name: string, b: Books): void {
  const inFlight = b.sent - b.received - b.timeouts - b.errors;
  assert.ok(
    inFlight >= 0 && inFlight <= MAX_IN_FLIGHT,
    `${name}: sent ${b.sent} = received ${b.received} + timeouts ${b.timeouts} + errors ${b.errors} + ${inFlight} in flight (max ${MAX_IN_FLIGHT})`,
  );
}

/** Loss among the probes that have an outcome (in-flight ones excluded). */
const measuredLoss = (b: Books): number => (b.timeouts + b.errors) / (b.received + b.timeouts + b.errors);

test('loss injected with nft in a namespace is measured within statistical bounds', { skip: SKIP, timeout: 60_000 }, async (t) => {
  const dir = tempDir('fp-loss');
  const ns: Netns = createNetns(`fp-loss-${process.pid}`);
  const procs: ExporterProcess[] = [];
  t.after(async () => {
    await Promise.all(procs.map((p) => p.stop(2000)));
    ns.destroy();
    dir.cleanup();
  });
  ns.nft(RULESET);
  assert.match(ns.exec('nft', ['list', 'ruleset']), /numgen random mod 100 < 30/, 'ruleset loaded in the namespace');

  // Responder for 127.0.0.2 (the exporter's own responder answers on 127.0.0.1).
  const responderCfg = dir.file('responder.yaml', {
    web: { listen_address: '127.0.0.2:9798' },
    responder: { tcp_echo: `127.0.0.2:${ECHO_PORT}`, udp_echo: `127.0.0.2:${ECHO_PORT}` },
  });
  const responder = new ExporterProcess(['responder', '--config', responderCfg], '127.0.0.2:9798', { netns: ns.name });
  procs.push(responder);
  await responder.waitReady(15_000);

  const listen = '127.0.0.1:9798';
  const cfg = dir.file('c.yaml', {
    workers: 2,
    flush_interval: '100ms',
    web: { listen_address: listen },
    probe_defaults: { interval: `${INTERVAL_MS}ms`, timeout: `${TIMEOUT_MS}ms`, loss_window: 100 },
    responder: { tcp_echo: `127.0.0.1:${ECHO_PORT}`, udp_echo: `127.0.0.1:${ECHO_PORT}` },
    targets: targets(),
  });
  const exp = new ExporterProcess(['run', '--config', cfg], listen, { netns: ns.name });
  procs.push(exp);
  await exp.waitReady(15_000);
  const api = JSON.parse((await exp.request('/api/v1/targets')).text()) as { targets: Array<{ name: string; state: string; error?: string }> };
  const notProbed = (kind: Kind): string | false => {
    const x = api.targets.find((a) => a.name === nameOf(kind, 0));
    return x?.state === 'ok' ? false : `${kind} targets are not probed (${x?.state}: ${x?.error}); is the kind registered in workers/probes/registry.ts?`;
  };

  // ~PROBES probes per target at 20 ms: about 12 s, bounded by the deadline.
  const m = await waitFor(
    `${PROBES} ICMP probes to 127.0.0.2`,
    async () => {
      const x = await exp.scrape();
      return x.value('fleetprobe_probe_sent_total', { target: nameOf('icmp', 30) })! >= PROBES + MAX_IN_FLIGHT && x;
    },
    30_000,
    500,
  );

  const checkBinomial = (kind: Kind): void => {
    const b0 = books(m, nameOf(kind, 0));
    const b30 = books(m, nameOf(kind, 30));
    const b100 = books(m, nameOf(kind, 100));
    for (const [loss, b] of [
      [0, b0],
      [30, b30],
      [100, b100],
    ] as const)
      assertAccounted(nameOf(kind, loss), b);
    assert.ok(b30.sent >= PROBES, `${kind}: only ${b30.sent} probes`);
    assert.equal(b0.timeouts + b0.errors, 0, `${kind} 0%: ${JSON.stringify(b0)}`);
    assert.equal(b0.lossRatioGauge, 0);
    assert.equal(b100.received, 0, `${kind} 100%: ${JSON.stringify(b100)}`);
    assert.ok(b100.timeouts >= b100.sent - MAX_IN_FLIGHT, `${kind} 100%: every resolved probe timed out: ${JSON.stringify(b100)}`);
    assert.equal(b100.lossRatioGauge, 1);
    const loss = measuredLoss(b30);
    assert.ok(
      Math.abs(loss - P) <= FIVE_SIGMA,
      `${kind} 30%: measured ${loss.toFixed(4)} over ${b30.sent} probes, outside ${P} ± ${FIVE_SIGMA.toFixed(4)}: ${JSON.stringify(b30)}`,
    );
    t.diagnostic(`${kind}: 30% target measured loss ${(loss * 100).toFixed(1)}% over ${b30.received + b30.timeouts + b30.errors} probes`);
  };

  await t.test('ICMP: 0% → no loss, 100% → all timeouts, 30% → within 5 sigma; every probe accounted for', () => checkBinomial('icmp'));

  await t.test('ICMP dropped by the local output hook counts as errors{reason="send_failed"}, not timeouts', () => {
    const b = books(m, LOCAL_DROP);
    assertAccounted(LOCAL_DROP, b);
    assert.ok(b.sent >= PROBES, JSON.stringify(b));
    assert.equal(b.received + b.timeouts, 0, JSON.stringify(b));
    assert.equal(m.value('fleetprobe_probe_errors_total', { target: LOCAL_DROP, reason: 'send_failed' }), b.errors, 'every error is send_failed');
    assert.equal(b.lossRatioGauge, 1);
  });

  await t.test('UDP echo: 0% → no loss, 100% → all timeouts, 30% → within 5 sigma; every probe accounted for', (tt: TestContext) => {
    const why = notProbed('udp');
    if (why) return tt.skip(why);
    checkBinomial('udp');
  });

  await t.test('TCP echo: 0% → no loss, 100% → never answered, 30% → some answers and some loss; every probe accounted for', (tt: TestContext) => {
    const why = notProbed('tcp_echo');
    if (why) return tt.skip(why);
    const b0 = books(m, nameOf('tcp_echo', 0));
    const b30 = books(m, nameOf('tcp_echo', 30));
    const b100 = books(m, nameOf('tcp_echo', 100));
    for (const [loss, b] of [
      [0, b0],
      [30, b30],
      [100, b100],
    ] as const)
      assertAccounted(nameOf('tcp_echo', loss), b);
    assert.ok(b0.sent >= PROBES / 2, `tcp_echo 0%: only ${b0.sent} probes: ${JSON.stringify(b0)}`);
    assert.equal(b0.timeouts + b0.errors, 0, `tcp_echo 0%: ${JSON.stringify(b0)}`);
    assert.equal(b100.received, 0, `tcp_echo 100%: ${JSON.stringify(b100)}`);
    // A dropped segment comes back after a retransmission timeout (>= 200 ms), past the
    // probe timeout: so loss is seen, but it is not the per-packet drop rate.
    assert.ok(b30.received > 0, `tcp_echo 30%: some answers: ${JSON.stringify(b30)}`);
    assert.ok(b30.timeouts + b30.errors > 0, `tcp_echo 30%: some loss: ${JSON.stringify(b30)}`);
    t.diagnostic(`tcp_echo: 30% target measured loss ${(measuredLoss(b30) * 100).toFixed(1)}%, late ${b30.late}`);
  });

  const stop = await exp.stop(5000);
  assert.equal(stop.killed, false, exp.tail());
});

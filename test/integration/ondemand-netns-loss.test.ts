/**
 * On-demand tests against injected loss. Inside a network namespace this test creates,
 * nft drops 20% of the echo requests to 127.0.0.2 (input hook, `numgen random mod 100
 * < 20`: the probe left the socket and is lost on the way, as on a lossy path). The
 * exporter runs inside the namespace (its own responder answers udp on 127.0.0.2), so
 * every probe stays on the namespace's loopback.
 *
 * An icmp test of 1,000 probes and a udp test of 2,000 probes at 1,000/s each measure
 * a loss within 5 sigma of 0.2 (binomial: sqrt(0.2 x 0.8 / n)), and every probe is
 * accounted for (sent = received + timeouts + errors). Needs root, ip and nft.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExporterProcess, tempDir } from '../helpers/exporter-process.js';
import { createNetns, netnsUnavailable, type Netns } from '../helpers/netns.js';

const SKIP = netnsUnavailable(['ip', 'nft']);
const P = 0.2;
const ECHO_PORT = 4000;

const RULESET = `
table inet fpondemand {
  chain in {
    type filter hook input priority 0; policy accept;
    ip daddr 127.0.0.2 icmp type echo-request numgen random mod 100 < 20 drop
    ip daddr 127.0.0.2 udp dport ${ECHO_PORT} numgen random mod 100 < 20 drop
  }
}
`;

interface Result {
  sent: number;
  received: number;
  timeouts: number;
  loss_ratio: number;
  errors: Record<string, number>;
}

test('on-demand tests measure nft-injected 20% loss within binomial bounds (icmp, udp at 1,000/s)', { skip: SKIP, timeout: 90_000 }, async (t) => {
  const dir = tempDir('fp-ondemand-loss');
  const ns: Netns = createNetns(`fp-odl-${process.pid}`);
  let exp: ExporterProcess | null = null;
  t.after(async () => {
    await exp?.stop(3000);
    ns.destroy();
    dir.cleanup();
  });
  ns.nft(RULESET);
  const listen = '127.0.0.1:9798';
  const cfg = dir.file('c.yaml', {
    workers: 2,
    flush_interval: '100ms',
    web: { listen_address: listen },
    responder: { tcp_echo: null, udp_echo: `127.0.0.2:${ECHO_PORT}`, http: null },
    targets: [],
  });
  exp = new ExporterProcess(['run', '--config', cfg], listen, { netns: ns.name });
  await exp.waitReady(20_000);

  const run = async (body: Record<string, unknown>): Promise<Result> => {
    const r = await exp!.request('/api/v1/tests?wait=1', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      timeoutMs: 30_000,
    });
    assert.equal(r.status, 200, r.text());
    const v = JSON.parse(r.text()) as { state: string; result: Result };
    assert.equal(v.state, 'done', r.text());
    return v.result;
  };
  const check = (what: string, n: number, res: Result): void => {
    const errors = Object.values(res.errors).reduce((a, b) => a + b, 0);
    assert.equal(res.sent, n, `${what}: ${JSON.stringify(res)}`);
    assert.equal(res.received + res.timeouts + errors, res.sent, `${what}: every probe accounted for: ${JSON.stringify(res)}`);
    const sigma5 = 5 * Math.sqrt((P * (1 - P)) / n);
    assert.ok(Math.abs(res.loss_ratio - P) <= sigma5, `${what}: loss ${res.loss_ratio} outside ${P} ± ${sigma5.toFixed(4)}: ${JSON.stringify(res)}`);
    t.diagnostic(`${what}: measured loss ${(res.loss_ratio * 100).toFixed(1)}% over ${n} probes`);
  };

  await t.test('icmp, 1,000 probes every 2 ms', async () => {
    check('icmp', 1000, await run({ address: '127.0.0.2', kind: 'icmp', count: 1000, interval: '2ms', timeout: '30ms' }));
  });
  await t.test('udp, 2,000 probes at 1,000/s', async () => {
    check('udp', 2000, await run({ address: `127.0.0.2:${ECHO_PORT}`, kind: 'udp', count: 2000, rate: 1000, timeout: '500ms' }));
  });
});

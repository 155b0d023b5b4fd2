/**
 * Issue 6, F14: with the responder in the same process as /metrics (the embedded
 * default and mesh mode run it that way), a scrape storm must not look like network
 * loss to the peers. `fleetprobe run` with its responder on loopback and 3,000
 * targets (a /metrics large enough to keep the main thread busy); plain peers in
 * this process probe the responder's tcp_echo, udp and http every 50 ms with a 1 s
 * timeout while 50 clients scrape /metrics (gzip) in a loop for 6 s from another
 * process. No peer probe may time out. On the code where the responder shared the
 * main thread, this lost 5-70 % of the probes (see the report in the commit).
 *
 * Scenario code: load-tests/responder-abuse.ts (runScrapeStorm), which also prints
 * the figures as a benchmark. No privileges needed; loopback only; bounded.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runScrapeStorm } from '../../load-tests/responder-abuse.js';
import { PEER_PROTOCOLS } from '../../load-tests/responder-peers.js';

test('50 concurrent scrapes cause no false timeouts at the peers of an in-process responder', { timeout: 120_000 }, async (t) => {
  const r = await runScrapeStorm({ targets: 3000, concurrency: 50, stormMs: 6000, beforeMs: 1000, afterMs: 1000 });
  t.diagnostic(
    `storm: ${r.stormScrapes} scrapes (${r.stormErrors} errors) of ${(r.scrape.gzipBytes / 1024).toFixed(0)} KiB gzip; slowest /healthz ${r.healthzMaxMs.toFixed(0)} ms; load ${r.loadAverage}`,
  );
  for (const line of r.peerTable.split('\n')) t.diagnostic(line);
  // The storm happened: at least one scrape per concurrent client (a scrape slower than
  // scrape-load's timeout counts as an error, and still loaded the main thread).
  assert.ok(r.stormScrapes + r.stormErrors >= 50, `only ${r.stormScrapes + r.stormErrors} scrapes during the storm\n${r.stormReport}`);
  for (const p of PEER_PROTOCOLS) {
    const s = r.peers.storm[p];
    assert.ok(s.sent >= 60, `${p}: ${s.sent} probes sent during the storm`);
    assert.equal(s.timeouts, 0, `${p}: ${s.timeouts} of ${s.sent} probes timed out during the storm (max RTT ${s.maxRttMs.toFixed(0)} ms)\n${r.peerTable}`);
    assert.equal(s.errors, 0, `${p}: errors during the storm\n${r.peerTable}`);
    assert.equal(r.peers.before[p].timeouts + r.peers.after[p].timeouts, 0, `${p}: timeouts outside the storm\n${r.peerTable}`);
  }
});

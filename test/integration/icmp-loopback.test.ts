/**
 * The ICMP data plane end to end on real raw sockets: runShard in-process (same
 * code path as the piscina task) with a MessageChannel, probing loopback only, and
 * inside a network namespace this test creates (and always deletes) for timeouts
 * and real ICMP errors. Needs root / CAP_NET_RAW.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { DROP_REASON_NAMES, ErrorReason } from '../../src/protocol/events.js';
import type { FromWorker, ShardTask, ToWorker } from '../../src/protocol/messages.js';
import type { ShardTarget } from '../../src/targets/model.js';
import { absorb, icmpTarget, newTally, type Tally } from '../helpers/shard-tally.js';
import { runShard, type ShardRuntime } from '../../workers/shard.js';
import { IcmpProber } from '../../workers/probes/icmp.js';
import { openRawIcmpConn } from '../../workers/probes/icmp-socket.js';

function rawSocketProblem(): string | null {
  try {
    openRawIcmpConn(4).close();
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
const noRaw = rawSocketProblem();
const SKIP = noRaw ? `needs root / CAP_NET_RAW: ${noRaw}` : false;

async function runFor(targets: ShardTarget[], ms: number, onReady?: (s: ShardRuntime) => void): Promise<Tally> {
  const ch = new MessageChannel();
  const tally = newTally();
  ch.port1.on('message', (m: FromWorker) => absorb(tally, m));
  const task: ShardTask = {
    settings: { workerIndex: 0, cookie: 0x5eed1234, icmpIdentifier: 0x7000 + (process.pid & 0xfff), flushIntervalMs: 100 },
    targets,
    port: ch.port2,
  };
  const done = runShard(task, { onReady });
  setTimeout(() => ch.port1.postMessage({ type: 'stop' }), ms);
  await done;
  await new Promise((r) => setTimeout(r, 50)); // let the final batch arrive
  ch.port1.close();
  return tally;
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))];

test('loopback v4 and v6: every probe answered, RTT sane, nothing dropped', { skip: SKIP }, async () => {
  const targets = [icmpTarget(1, '127.0.0.1', 20, 200), icmpTarget(2, '127.0.0.2', 20, 200), icmpTarget(3, '::1', 20, 200)];
  let filters: unknown = null;
  const t = await runFor(targets, 1500, (s) => {
    // Grab the prober after the first flush to read its filter status.
    setTimeout(() => (filters = (s.probers.get('icmp') as IcmpProber).filterStatus), 100);
  });
  const sent = [...t.sent.values()].reduce((a, b) => a + b, 0);
  assert.ok(sent >= 200, `sent ${sent} probes`);
  for (const slot of [1, 2, 3]) {
    const s = t.sent.get(slot) ?? 0;
    const r = t.reply.get(slot) ?? 0;
    // The final probes may still be in flight when we stop: at most one per target.
    assert.ok(s - r <= 1, `slot ${slot}: sent ${s}, replies ${r}`);
  }
  assert.equal(t.timeout.size, 0, 'no timeouts on loopback');
  assert.equal(t.error.size, 0);
  assert.ok(quantile(t.rtts, 0.5) < 0.005, `p50 ${quantile(t.rtts, 0.5)} s`);
  assert.ok(
    t.rtts.every((r) => r > 0),
    'RTTs positive',
  );
  assert.deepEqual(t.drops, new Array(DROP_REASON_NAMES.length).fill(0), 'kernel filters leave nothing to drop');
  assert.equal(t.started, sent, 'ProbesStarted header = Sent records');
  assert.ok(t.batches >= 10, `heartbeat batches: ${t.batches}`);
  assert.deepEqual(filters, [
    { typeFilter: true, bpf: true, kernelTimestamps: true, problems: [] },
    { typeFilter: true, bpf: true, kernelTimestamps: true, problems: [] },
  ]);
  const started = t.messages.find((m) => m.type === 'started');
  assert.ok(started, 'started posted');
});

test('foreign ICMP traffic (ping with another identifier) is filtered out before user space', { skip: SKIP }, async () => {
  const ping = spawnSync('ping', ['-c', '1', '-W', '1', '127.0.0.1']);
  if (ping.status !== 0) return; // no ping binary: nothing to compare against
  const targets = [icmpTarget(1, '127.0.0.1', 50)];
  const ch = new MessageChannel();
  const tally = newTally();
  ch.port1.on('message', (m: FromWorker) => absorb(tally, m));
  const done = runShard({
    settings: { workerIndex: 0, cookie: 7, icmpIdentifier: 0x6100 + (process.pid & 0xff), flushIntervalMs: 100 },
    targets,
    port: ch.port2,
  });
  // 100 pings with their own identifier while the shard runs (async: the shard shares our loop).
  const status = await new Promise<number | null>((resolve) => {
    spawn('ping', ['-q', '-c', '100', '-i', '0.005', '127.0.0.1'], { stdio: 'ignore' }).on('exit', (code) => resolve(code));
  });
  assert.equal(status, 0);
  ch.port1.postMessage({ type: 'stop' });
  await done;
  await new Promise((r) => setTimeout(r, 50));
  ch.port1.close();
  assert.ok((tally.reply.get(1) ?? 0) >= 1);
  assert.deepEqual(tally.drops, new Array(DROP_REASON_NAMES.length).fill(0), 'the BPF filter kept ping replies away');
});

test('a target that cannot be probed is rejected alone; the shard keeps running', { skip: SKIP }, async () => {
  const bad = { ...icmpTarget(9, 'not-an-ip', 50) };
  const t = await runFor([icmpTarget(1, '127.0.0.1', 50), bad, { ...icmpTarget(10, '127.0.0.1', 50), kind: 'udp' as const }], 400);
  const rejected = t.messages
    .filter((m) => m.type === 'target_rejected')
    .map((m) => (m as { slot: number }).slot)
    .sort((a, b) => a - b);
  assert.deepEqual(rejected, [9, 10]);
  assert.ok((t.reply.get(1) ?? 0) >= 5);
});

test('an update delta removes, adds and changes targets by slot', { skip: SKIP }, async () => {
  const ch = new MessageChannel();
  const tally = newTally();
  ch.port1.on('message', (m: FromWorker) => absorb(tally, m));
  let shard: ShardRuntime | undefined;
  const done = runShard(
    {
      settings: { workerIndex: 0, cookie: 9, icmpIdentifier: 0x6200 + (process.pid & 0xff), flushIntervalMs: 50 },
      targets: [icmpTarget(1, '127.0.0.1', 20, 200), icmpTarget(2, '127.0.0.2', 20, 200)],
      port: ch.port2,
    },
    { onReady: (s) => (shard = s) },
  );
  await new Promise((r) => setTimeout(r, 200));
  const bad = { ...icmpTarget(4, 'not-an-ip', 20, 200) };
  ch.port1.postMessage({
    type: 'update',
    generation: 1,
    upsert: [icmpTarget(2, '127.0.0.2', 40, 200), icmpTarget(3, '::1', 20, 200), bad],
    remove: [1],
  } satisfies ToWorker);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(shard!.targetCount, 2);
  assert.equal(shard!.scheduler.has(1), false);
  assert.equal(shard!.appliedGeneration, 1);
  // The rejection names the generation that brought the target (the main thread ignores one about a slot's earlier target).
  assert.deepEqual(
    tally.messages.filter((m) => m.type === 'target_rejected').map((m) => [(m as { slot: number }).slot, (m as { generation: number }).generation]),
    [[4, 1]],
  );
  const before1 = tally.sent.get(1) ?? 0;
  await new Promise((r) => setTimeout(r, 200));
  ch.port1.postMessage({ type: 'stop' });
  await done;
  await new Promise((r) => setTimeout(r, 50));
  ch.port1.close();
  assert.equal(tally.sent.get(1) ?? 0, before1, 'removed target stopped');
  assert.ok((tally.reply.get(3) ?? 0) >= 5, 'added target probed');
  assert.equal(tally.timeout.size, 0);
});

// ---- inside a network namespace we create: timeouts and real ICMP errors ----

const NS = `fp-test-${process.pid}`;
const childScript = fileURLToPath(new URL('../fixtures/icmp-netns-child.js', import.meta.url));

function sh(args: string[], input?: string): void {
  execFileSync(args[0], args.slice(1), { input, stdio: ['pipe', 'ignore', 'pipe'] });
}

test('in a private netns: dropped replies time out, nft rejects become ICMP errors', { skip: SKIP }, async (t: TestContext) => {
  try {
    sh(['ip', 'netns', 'add', NS]);
  } catch (err) {
    t.skip(`cannot create a network namespace: ${String(err)}`);
    return;
  }
  try {
    sh(['ip', '-n', NS, 'link', 'set', 'lo', 'up']);
    // Addresses exist only inside this namespace.
    sh(['ip', '-n', NS, 'addr', 'add', 'fd00:f9::3/128', 'dev', 'lo']);
    sh(['ip', '-n', NS, 'addr', 'add', 'fd00:f9::4/128', 'dev', 'lo']);
    sh(
      ['ip', 'netns', 'exec', NS, 'nft', '-f', '-'],
      `table inet fptest {
         chain out {
           type filter hook output priority 0;
           ip saddr 127.0.0.3 icmp type echo-reply drop
           ip6 saddr fd00:f9::3 icmpv6 type echo-reply drop
         }
         # Rejected on input, so sendto() succeeds and a real ICMP error comes back
         # (a reject on output fails sendto() with EPERM instead).
         chain in {
           type filter hook input priority 0;
           ip daddr 127.0.0.4 icmp type echo-request reject with icmp type host-unreachable
           ip daddr 127.0.0.5 icmp type echo-request reject with icmp type admin-prohibited
           ip6 daddr fd00:f9::4 icmpv6 type echo-request reject with icmpv6 type addr-unreachable
         }
       }`,
    );
    await new Promise((r) => setTimeout(r, 1500)); // IPv6 DAD on lo is instant, but be safe
    const out = execFileSync('ip', ['netns', 'exec', NS, process.execPath, childScript], {
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, FLEETPROBE_TEST_NETNS: NS },
    });
    const r = JSON.parse(out.trim().split('\n').pop()!) as {
      sent: Record<string, number>;
      reply: Record<string, number>;
      timeout: Record<string, number>;
      error: Record<string, number>;
      drops: number[];
    };
    // slot 1: 127.0.0.1 answers; 2: 127.0.0.3 replies dropped; 3: fd00:f9::3 replies dropped;
    // 4: 127.0.0.4 host unreachable; 5: 127.0.0.5 admin prohibited; 6: fd00:f9::4 address unreachable.
    assert.ok(r.reply['1'] >= 5, `replies ${JSON.stringify(r.reply)}`);
    for (const slot of ['2', '3']) {
      assert.ok(r.timeout[slot] >= 3, `timeouts of ${slot}: ${JSON.stringify(r.timeout)}`);
      assert.ok(r.sent[slot] - r.timeout[slot] <= 4, 'every settled probe of a silent target timed out');
      assert.equal(r.reply[slot] ?? 0, 0);
    }
    assert.ok(r.error[`4:${ErrorReason.host_unreachable}`] >= 5, JSON.stringify(r.error));
    assert.ok(r.error[`5:${ErrorReason.admin_prohibited}`] >= 5, JSON.stringify(r.error));
    assert.ok(r.error[`6:${ErrorReason.host_unreachable}`] >= 5, JSON.stringify(r.error));
    assert.equal(r.timeout['4'] ?? 0, 0, 'an errored probe is not also a timeout');
  } finally {
    spawnSync('ip', ['netns', 'del', NS]);
  }
});

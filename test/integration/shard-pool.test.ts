/**
 * The shard as it really runs: a piscina pool (atomics disabled, one long task per
 * thread) running dist/workers/shard.js, two workers each with their own raw
 * sockets and ICMP identifier, probing loopback. Checks that each worker gets only
 * its own replies (kernel BPF filter), posts heartbeat batches, and stops cleanly.
 * Needs root / CAP_NET_RAW and the patched raw-socket (worker-thread safe).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { DROP_REASON_NAMES } from '../../src/protocol/events.js';
import type { FromWorker, ShardTask } from '../../src/protocol/messages.js';
import { openRawIcmpConn } from '../../workers/probes/icmp-socket.js';
import { absorb, icmpTarget, newTally, type Tally } from '../helpers/shard-tally.js';

function skipReason(): string | false {
  try {
    openRawIcmpConn(4).close();
  } catch (err) {
    return `needs root / CAP_NET_RAW: ${err instanceof Error ? err.message : String(err)}`;
  }
  return false;
}

const shardFile = fileURLToPath(new URL('../../workers/shard.js', import.meta.url));

test('two piscina workers probe loopback with their own identifiers, no loss, no foreign packets', { skip: skipReason() }, async () => {
  const pool = new Piscina({ filename: shardFile, atomics: 'disabled', minThreads: 2, maxThreads: 2, idleTimeout: 100 });
  const runs: Array<{ tally: Tally; ch: MessageChannel; done: Promise<unknown> }> = [];
  try {
    for (let w = 0; w < 2; w++) {
      const ch = new MessageChannel();
      const tally = newTally();
      ch.port1.on('message', (m: FromWorker) => absorb(tally, m));
      const targets = Array.from({ length: 30 }, (_, k) => {
        const ip = k % 3 === 2 ? '::1' : `127.0.0.${1 + (k % 3)}`;
        return icmpTarget(w * 1000 + k, ip, 50, 300);
      });
      const task: ShardTask = {
        settings: { workerIndex: w, cookie: 0x0badf00d, icmpIdentifier: 0x3000 + w * 17 + (process.pid & 0xff), flushIntervalMs: 100 },
        targets,
        port: ch.port2,
      };
      runs.push({ tally, ch, done: pool.run(task, { transferList: [ch.port2] as never }) });
    }
    await new Promise((r) => setTimeout(r, 2000));
    for (const r of runs) r.ch.port1.postMessage({ type: 'stop' });
    await Promise.all(runs.map((r) => r.done));
    await new Promise((r) => setTimeout(r, 50));
  } finally {
    for (const r of runs) r.ch.port1.close();
    await pool.destroy();
  }
  const threadIds = new Set<number>();
  for (const [w, { tally }] of runs.entries()) {
    const started = tally.messages.find((m) => m.type === 'started') as { threadId: number } | undefined;
    assert.ok(started && started.threadId > 0, `worker ${w} ran in a worker thread`);
    threadIds.add(started.threadId);
    const sent = [...tally.sent.values()].reduce((a, b) => a + b, 0);
    const replies = [...tally.reply.values()].reduce((a, b) => a + b, 0);
    assert.ok(sent >= 30 * 30, `worker ${w} sent ${sent}`);
    assert.ok(sent - replies <= 30, `worker ${w}: sent ${sent}, replies ${replies} (only the last in-flight round may be open)`);
    assert.equal(tally.timeout.size, 0);
    for (const slot of tally.sent.keys()) assert.equal(Math.floor(slot / 1000), w, 'records only for own slots');
    assert.deepEqual(tally.drops, new Array(DROP_REASON_NAMES.length).fill(0), `worker ${w} saw no foreign packets`);
    assert.ok(tally.batches >= 15, `worker ${w} heartbeat batches: ${tally.batches}`);
  }
  assert.equal(threadIds.size, 2, 'one shard per thread');
});

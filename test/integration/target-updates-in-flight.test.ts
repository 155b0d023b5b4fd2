/**
 * 200 target changes within about a second while replies are in flight, through the
 * real control plane (TargetRegistry → TargetSync → TargetStore, ShardSupervisor with
 * two piscina worker threads running dist/workers/shard.js) probing real UDP peers on
 * loopback: no record of an old target is ever counted on a new one.
 *
 * The peers (test/fixtures/delaying-udp-echo) make the old target's records tell
 * themselves apart: a FAST port echoes after 2 ms, a SLOW port after 60 ms, a HOLE port
 * never answers. Targets probe every 10 ms, so a slow target has ~6 replies in flight
 * at any moment; changes add targets, remove them, and readdress them to another port
 * (a new identity, so a new slot). Right before every change, and at the end, every
 * slot is checked against the target it holds then:
 *   - a HOLE target has counted no reply (in time, late or duplicate) at all;
 *   - a SLOW target has no reply in the ≤ 30 ms bucket (a slow reply can come later
 *     than 60 ms on a busy machine, never sooner: only another target's reply can).
 * Counters only grow within one target's life, so checking right before its slot
 * changes covers all of it. The test also shows the changes raced real traffic:
 * records of removed targets arrived after their removal (dropped, counted), and freed
 * slots were reused under the burst.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { TargetStore } from '../../src/aggregate/store.js';
import { ShardSupervisor } from '../../src/pool/supervisor.js';
import { TargetSync } from '../../src/pool/target-sync.js';
import type { TargetSpec } from '../../src/targets/model.js';
import { TargetRegistry } from '../../src/targets/registry.js';
import type { Resolution } from '../../src/targets/resolve.js';
import { defaultOptions } from '../../src/kinds/index.js';

const PEERS = fileURLToPath(new URL('../fixtures/delaying-udp-echo.js', import.meta.url));
const FAST_MS = 2;
const SLOW_MS = 60;
/** Upper bound of the first bucket: a SLOW reply can never be in it. */
const SPLIT_S = 0.03;
const CHANGES = 200;
const CHANGE_EVERY_MS = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Peers {
  fast: number;
  slow: number;
  hole: number;
  stop(): void;
}

async function startPeers(): Promise<Peers> {
  const child = spawn(process.execPath, [PEERS, String(FAST_MS), String(SLOW_MS), '--', '60000'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')));
    });
    child.once('exit', (code) => reject(new Error(`peers exited (${code})`)));
  });
  const p = JSON.parse(line) as { echo: number[]; hole: number };
  return { fast: p.echo[0], slow: p.echo[1], hole: p.hole, stop: () => child.stdin.end() };
}

test(
  '200 add/remove/readdress changes in a second with replies in flight: no record of an old target is counted on a new one',
  { timeout: 120_000 },
  async (t) => {
    const peers = await startPeers();
    t.after(() => peers.stop());
    const kindOf = (port: number): 'fast' | 'slow' | 'hole' => (port === peers.fast ? 'fast' : port === peers.slow ? 'slow' : 'hole');
    const ports = [peers.fast, peers.slow, peers.hole];

    const store = new TargetStore({ buckets: [SPLIT_S, 10] });
    const registry = new TargetRegistry();
    const sync = new TargetSync(registry, store);
    const supervisor = new ShardSupervisor({
      workers: 2,
      flushIntervalMs: 20,
      cookie: 0x5eed0000 + (process.pid & 0xffff),
      icmpIdentifierBase: process.pid & 0xffff,
      logger: pino({ level: 'warn' }),
      onBatch: (_w, buf) => store.applyBatch(buf),
    });
    t.after(() => supervisor.stop(2000));
    sync.attach(supervisor);

    const resolve = (): Resolution => ({ status: 'ok', ip: '127.0.0.1', family: 4, addresses: ['127.0.0.1'] });
    const spec = (name: string, port: number): TargetSpec => ({
      name,
      kind: 'udp',
      address: `127.0.0.1:${port}`,
      labels: {},
      intervalMs: 10,
      timeoutMs: 150,
      payloadSize: 32,
      lossWindow: 100,
      options: defaultOptions('udp', { timeoutMs: 150 }),
      source: 'test',
    });
    let seed = 0x2545f491;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const live = new Map<string, number>();
    let nextName = 0;
    for (let i = 0; i < 24; i++) live.set(`t${nextName++}`, ports[i % 3]);
    const specs = (): TargetSpec[] => [...live].map(([name, port]) => spec(name, port));

    let checked = 0;
    let slowReplies = 0;
    /** Every slot against the target it holds now. */
    const check = (when: string): void => {
      const snap = store.snapshot();
      const stride = snap.buckets.length + 1;
      for (const e of registry.entries()) {
        const port = Number(e.spec.address.split(':')[1]);
        const s = e.slot;
        const what = `${when}: ${e.spec.name} (${kindOf(port)} port, slot ${s})`;
        if (kindOf(port) === 'hole') {
          assert.equal(snap.received[s] + snap.late[s] + snap.duplicates[s], 0, `${what} counted a reply`);
        } else if (kindOf(port) === 'slow') {
          assert.equal(snap.rttBuckets[s * stride], 0, `${what} counted a reply faster than ${SPLIT_S * 1000} ms`);
          slowReplies += snap.received[s];
        }
        checked++;
      }
    };

    sync.apply(specs(), resolve);
    await sleep(800); // warm up: every target probed and answered for a while
    check('after the warm-up');

    const ops = { add: 0, remove: 0, readdress: 0 };
    const started = performance.now();
    for (let k = 0; k < CHANGES; k++) {
      const due = started + k * CHANGE_EVERY_MS;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      check(`before change ${k}`);
      const names = [...live.keys()];
      const op = live.size < 12 ? 0 : live.size > 36 ? 1 : rand(3);
      if (op === 0) {
        const name = `t${nextName++}`;
        live.set(name, ports[rand(3)]);
        ops.add++;
      } else if (op === 1) {
        live.delete(names[rand(names.length)]);
        ops.remove++;
      } else {
        const name = names[rand(names.length)];
        const from = live.get(name)!;
        live.set(name, ports.filter((p) => p !== from)[rand(2)]);
        ops.readdress++;
      }
      sync.apply(specs(), resolve);
    }
    const elapsed = performance.now() - started;
    t.diagnostic(`${CHANGES} changes (${JSON.stringify(ops)}) in ${elapsed.toFixed(0)} ms; generation ${registry.generation}`);
    check('right after the last change');

    // Let every reply in flight arrive, every worker acknowledge the last generation, then once more.
    await sleep(SLOW_MS * 3 + 200);
    check('after the replies in flight have arrived');
    assert.equal(supervisor.acknowledgedGeneration(), registry.generation, 'every worker acknowledged the last update');
    sync.apply(specs(), resolve); // frees what the acknowledgements allow
    assert.equal(registry.quarantined, 0, 'no slot stays quarantined once acknowledged');
    await sleep(200);
    check('at the end');

    assert.equal(ops.add + ops.remove + ops.readdress, CHANGES);
    assert.ok(ops.readdress > 20 && ops.remove > 20 && ops.add > 20, JSON.stringify(ops));
    assert.ok(checked > CHANGES * 12, `slots checked ${checked} times`);
    assert.ok(slowReplies > 0, 'slow targets were answered: replies were in flight at the changes');
    assert.ok(store.unknownSlotRecords > 0, `records of removed targets arrived after their removal and were dropped (${store.unknownSlotRecords})`);
    assert.ok(registry.highWaterMark < 24 + ops.add + ops.readdress, `freed slots were reused under the burst (high-water ${registry.highWaterMark})`);
    t.diagnostic(`records dropped: ${store.unknownSlotRecords} for removed targets, ${store.staleRecords} stale; slots used ${registry.highWaterMark}`);
  },
);

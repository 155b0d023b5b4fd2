/**
 * The store is sized to the target set it is given, not to the next power of two:
 * TargetSync reserves the registry's high-water mark before it defines the slots
 * (100,000 targets were 131,072 slots of every column before).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { TargetStore } from '../../src/aggregate/store.js';
import { ShardSupervisor } from '../../src/pool/supervisor.js';
import { TargetSync } from '../../src/pool/target-sync.js';
import type { TargetSpec } from '../../src/targets/model.js';
import { TargetRegistry } from '../../src/targets/registry.js';
import type { Resolution } from '../../src/targets/resolve.js';
import { defaultOptions } from '../../src/kinds/index.js';

const spec = (i: number): TargetSpec => ({
  name: `t${i}`,
  kind: 'icmp',
  address: '127.0.0.1',
  labels: {},
  intervalMs: 1000,
  timeoutMs: 1000,
  payloadSize: 56,
  lossWindow: 100,
  options: defaultOptions('icmp', { timeoutMs: 1000 }),
  source: 'test',
});

test('a target set applied at once sizes the store to exactly its slots; a larger set is reserved exactly too', (t) => {
  const store = new TargetStore();
  const registry = new TargetRegistry();
  const sync = new TargetSync(registry, store);
  const supervisor = new ShardSupervisor({
    workers: 1,
    flushIntervalMs: 100,
    cookie: 1,
    icmpIdentifierBase: process.pid & 0xffff,
    logger: pino({ level: 'warn' }),
    onBatch: (_w, buf) => store.applyBatch(buf),
  });
  t.after(() => supervisor.stop(2000));
  sync.attach(supervisor);
  sync.hold(); // slots only: no probing needed to size the store
  const resolve = (): Resolution => ({ status: 'ok', ip: '127.0.0.1', family: 4, addresses: ['127.0.0.1'] });
  const specs = Array.from({ length: 5000 }, (_, i) => spec(i));
  sync.apply(specs, resolve);
  assert.equal(store.size, 5000);
  assert.equal(store.slotCapacity, 5000); // was 8192 (doubling from 1024)
  specs.push(spec(5000));
  sync.apply(specs, resolve);
  assert.equal(store.slotCapacity, 5001); // the whole set again: reserved exactly, not 7500
  assert.equal(store.size, 5001);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TargetRegistry, toShardTarget } from '../../src/targets/registry.js';
import type { Resolution } from '../../src/targets/resolve.js';
import type { TargetSpec } from '../../src/targets/model.js';
import { splayPhase } from '../../src/targets/partition.js';
import type { TcpEchoOptions } from '../../src/kinds/index.js';

const TCP_ECHO_OPTIONS: TcpEchoOptions = { kind: 'tcp_echo', reconnectMinBackoffMs: 1, reconnectMaxBackoffMs: 1, connectTimeoutMs: 3000 };

function spec(name: string, over: Partial<TargetSpec> = {}): TargetSpec {
  return {
    name,
    kind: 'icmp',
    address: '127.0.0.1',
    labels: {},
    intervalMs: 1000,
    timeoutMs: 1000,
    payloadSize: 56,
    lossWindow: 100,
    options: { kind: 'icmp' },
    source: 'test',
    ...over,
  };
}
const ok = (ip: string, family: 4 | 6 = 4): Resolution => ({ status: 'ok', ip, family, addresses: [ip] });
const resolveAll = (name: string): Resolution | undefined => (name.startsWith('unresolved') ? undefined : ok('127.0.0.1'));

/** An update after every worker acknowledged every earlier one (the common case; acks are tested on their own below). */
function upd(r: TargetRegistry, specs: TargetSpec[], resolve: (name: string) => Resolution | undefined = resolveAll, acknowledged = r.generation) {
  return r.update(specs, resolve, acknowledged);
}

test('slots are dense from 0 and stable while a target exists', () => {
  const r = new TargetRegistry();
  const d1 = upd(r, [spec('a'), spec('b'), spec('c')]);
  assert.deepEqual(
    d1.added.map((e) => [e.spec.name, e.slot]),
    [
      ['a', 0],
      ['b', 1],
      ['c', 2],
    ],
  );
  assert.equal(r.highWaterMark, 3);
  const d2 = upd(r, [spec('c'), spec('a'), spec('b')]);
  assert.deepEqual([d2.added, d2.removed, d2.changed], [[], [], []]);
  assert.deepEqual(
    ['a', 'b', 'c'].map((n) => r.slotOf(n)),
    [0, 1, 2],
  );
});

test('a freed slot is quarantined until every worker acknowledged the update that freed it, then reused (lowest first)', () => {
  const r = new TargetRegistry();
  upd(r, [spec('a'), spec('b'), spec('c')]); // gen 1
  const d2 = r.update([spec('a'), spec('c')], resolveAll, 1); // gen 2: b's slot 1 freed
  assert.deepEqual(d2.removed, [{ name: 'b', slot: 1 }]);
  assert.equal(r.quarantined, 1);
  const d3 = r.update([spec('a'), spec('c'), spec('d')], resolveAll, 1); // gen 3: the workers are still at 1
  assert.equal(d3.added[0].slot, 3);
  // Gen 4, "two updates later", which the old rule took as safe: still quarantined while unacknowledged.
  const d4 = r.update([spec('a'), spec('c'), spec('d'), spec('e')], resolveAll, 1);
  assert.equal(d4.added[0].slot, 4);
  assert.equal(d4.released, 0);
  const d5 = r.update([spec('a'), spec('c'), spec('d'), spec('e'), spec('f')], resolveAll, 2); // every worker has applied gen 2
  assert.equal(d5.released, 1);
  assert.equal(d5.added[0].slot, 1);
  assert.equal(r.quarantined, 0);
  assert.equal(r.highWaterMark, 5);
});

test('slots freed in the same update as others are added do not go to the new targets', () => {
  const r = new TargetRegistry();
  upd(r, [spec('a'), spec('b')]);
  const d = upd(r, [spec('x'), spec('y')]); // a, b removed and x, y added at once
  assert.deepEqual(d.removed.map((x) => x.slot).sort(), [0, 1]);
  assert.deepEqual(
    d.added.map((e) => e.slot),
    [2, 3],
  );
  upd(r, [spec('x'), spec('y')]);
  const later = upd(r, [spec('x'), spec('y'), spec('z'), spec('w')]);
  assert.deepEqual(
    later.added.map((e) => e.slot),
    [0, 1],
  );
});

test('a name whose kind or address changes is a new target in a new slot; labels, interval and resolution are changes of the same target', () => {
  const r = new TargetRegistry();
  upd(r, [spec('a'), spec('b'), spec('c', { kind: 'udp', address: '127.0.0.1:4000' })]);
  const d = upd(r, [
    spec('a', { address: '127.0.0.2' }),
    spec('b', { labels: { rack: 'r1' }, intervalMs: 500 }),
    spec('c', { kind: 'tcp_echo', address: '127.0.0.1:4000' }),
  ]);
  assert.deepEqual(
    d.removed.map((x) => [x.name, x.slot]),
    [
      ['a', 0],
      ['c', 2],
    ],
  );
  assert.deepEqual(
    d.added.map((e) => [e.spec.name, e.slot, e.shard?.ip ?? null]),
    [
      ['a', 3, '127.0.0.1'],
      ['c', 4, '127.0.0.1'],
    ],
  );
  assert.deepEqual(
    d.changed.map((e) => [e.spec.name, e.slot]),
    [['b', 1]],
  );
  assert.equal(r.slotOf('a'), 3);
  assert.equal(r.get('a')?.shard?.slot, 3, 'the worker gets the new slot');
  assert.equal(r.quarantined, 2);
  const d2 = upd(
    r,
    [spec('a', { address: '127.0.0.2' }), spec('b', { labels: { rack: 'r1' }, intervalMs: 500 }), spec('c', { kind: 'tcp_echo', address: '127.0.0.1:4000' })],
    (n) => (n === 'b' ? ok('::1', 6) : ok('127.0.0.1')),
  );
  assert.deepEqual([d2.added.length, d2.removed.length], [0, 0], 'a new IP of the same name is the same target');
  assert.deepEqual(
    d2.changed.map((e) => [e.spec.name, e.slot, e.shard?.ip]),
    [['b', 1, '::1']],
  );
});

test('unresolved targets hold a slot but are not shard targets until resolved', () => {
  const r = new TargetRegistry();
  let res: Resolution | undefined = { status: 'error', code: 'ENOTFOUND', message: 'x' };
  const d1 = upd(r, [spec('a'), spec('n', { address: 'does-not-exist.invalid' })], (n) => (n === 'n' ? res : ok('127.0.0.1')));
  assert.equal(d1.added.length, 2);
  assert.equal(r.get('n')?.shard, null);
  assert.deepEqual(
    r.shardTargets().map((t) => t.name),
    ['a'],
  );
  res = ok('127.0.0.9');
  const d2 = upd(r, [spec('a'), spec('n', { address: 'does-not-exist.invalid' })], (n) => (n === 'n' ? res : ok('127.0.0.1')));
  assert.deepEqual(
    d2.changed.map((e) => e.spec.name),
    ['n'],
  );
  assert.equal(r.get('n')?.shard?.ip, '127.0.0.9');
  assert.equal(r.get('n')?.slot, 1);
});

test('changes in spec or resolution are reported; identical updates are not', () => {
  const r = new TargetRegistry();
  upd(r, [spec('a'), spec('b')]);
  const d = upd(r, [spec('a', { intervalMs: 500 }), spec('b', { labels: { x: 'y' } })]);
  assert.deepEqual(
    d.changed.map((e) => e.spec.name),
    ['a', 'b'],
  );
  assert.equal(r.get('a')?.shard?.intervalMs, 500);
  const d2 = upd(r, [spec('a', { intervalMs: 500, source: 'elsewhere' }), spec('b', { labels: { x: 'y' } })]);
  assert.equal(d2.changed.length, 0, 'source alone is not a change');
  const d3 = upd(r, [spec('a', { intervalMs: 500 }), spec('b', { labels: { x: 'y' } })], (n) => (n === 'a' ? ok('::1', 6) : ok('127.0.0.1')));
  assert.deepEqual(
    d3.changed.map((e) => [e.spec.name, e.shard?.ip, e.shard?.family]),
    [['a', '::1', 6]],
  );
});

test('toShardTarget fills ports per kind, http host from the url, and a stable phase', () => {
  const t = toShardTarget(5, spec('e', { kind: 'tcp_echo', address: '[::1]:4000', options: TCP_ECHO_OPTIONS }), ok('::1', 6));
  assert.deepEqual(t, {
    slot: 5,
    name: 'e',
    kind: 'tcp_echo',
    ip: '::1',
    family: 6,
    port: 4000,
    intervalMs: 1000,
    phaseMs: splayPhase('e', 1000),
    timeoutMs: 1000,
    payloadSize: 56,
    options: TCP_ECHO_OPTIONS,
  });
  const h = toShardTarget(1, spec('h', { kind: 'http', address: 'localhost:4001', url: 'http://localhost:4001/v1/ping' }), {
    status: 'ok',
    ip: 'localhost',
    family: 4,
    addresses: [],
  });
  assert.equal(h?.port, 4001);
  assert.equal(h?.url, 'http://localhost:4001/v1/ping');
  assert.equal(h?.ip, 'localhost');
  assert.equal(toShardTarget(0, spec('i'), ok('127.0.0.1'))?.port, 0);
  assert.equal(toShardTarget(0, spec('i'), { status: 'error', code: 'ENOTFOUND', message: '' }), null);
  assert.equal(toShardTarget(0, spec('i'), undefined), null);
});

test('many updates with churn and lagging acknowledgements never give one slot to two live targets, nor reuse one early', () => {
  const r = new TargetRegistry();
  let live = new Set<string>();
  let seed = 7;
  const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const freedAt = new Map<number, number>();
  let acknowledged = 0;
  let reused = 0;
  for (let gen = 1; gen <= 200; gen++) {
    const next = new Set<string>();
    for (const n of live) if (rand() > 0.1) next.add(n);
    for (let i = 0; i < 10; i++) next.add(`t${Math.floor(rand() * 500)}`);
    // The slowest worker is 0 to 5 generations behind, never ahead of what was sent.
    acknowledged = Math.min(gen - 1, Math.max(acknowledged, gen - 1 - Math.floor(rand() * 6)));
    const d = r.update(
      [...next].map((n) => spec(n)),
      resolveAll,
      acknowledged,
    );
    for (const x of d.removed) freedAt.set(x.slot, gen);
    for (const e of d.added) {
      const f = freedAt.get(e.slot);
      if (f === undefined || f === gen) continue;
      reused++;
      assert.ok(acknowledged >= f, `slot ${e.slot} freed at ${f} reused at ${gen} with only ${acknowledged} acknowledged`);
    }
    const slots = [...next].map((n) => r.slotOf(n));
    assert.equal(new Set(slots).size, next.size);
    for (const s of slots) assert.ok((s as number) < r.highWaterMark);
    live = next;
  }
  assert.equal(r.size, live.size);
  assert.ok(reused > 50, `slots were reused (${reused})`);
});

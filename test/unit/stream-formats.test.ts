import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { ErrorReason } from '../../src/protocol/events.js';
import { Outcome, OUTCOME_NAMES, OUTCOME_OF_EVENT } from '../../src/stream/outcome.js';
import { ProbeEvent } from '../../src/protocol/events.js';
import { Catalog } from '../../src/stream/selection.js';
import { SseFormat, sseDropped, sseEnd } from '../../src/stream/sse-format.js';
import { eventTime } from '../../src/stream/types.js';
import { GrpcFormat, type Serialize } from '../../src/grpc/format.js';
import { loadTelemetryProto, TELEMETRY_SERVICE } from '../../src/grpc/proto.js';
import type { SlotState } from '../../src/aggregate/store.js';

const catalog = new Catalog([
  { slot: 0, name: 'lo "quoted"\nname', kind: 'icmp', address: '127.0.0.1', labels: { rack: 'r1', note: 'a\\b' } },
  { slot: 3, name: 'web', kind: 'http', address: 'http://127.0.0.1:4001/v1/ping', labels: {} },
]);
const time = eventTime(Date.UTC(2025, 0, 2, 3, 4, 5, 678));
const state: SlotState = {
  sent: 10,
  received: 7,
  timeouts: 2,
  late: 1,
  duplicates: 0,
  errors: { refused: 1 },
  lossRatio: 0.3,
  lastRtt: 0.0004,
  rttSum: 0.0028,
};
const fresh: SlotState = { sent: 0, received: 0, timeouts: 0, late: 0, duplicates: 0, errors: {}, lossRatio: 0, lastRtt: NaN, rttSum: 0 };

function sseData(chunk: string): { event: string; data: Record<string, unknown> } {
  assert.ok(chunk.endsWith('\n\n'), 'an event ends with a blank line');
  const lines = chunk.slice(0, -2).split('\n');
  assert.equal(lines.length, 2, `one event line and one data line: ${JSON.stringify(chunk)}`);
  assert.match(lines[0], /^event: \w+$/);
  assert.match(lines[1], /^data: /);
  return { event: lines[0].slice(7), data: JSON.parse(lines[1].slice(6)) as Record<string, unknown> };
}

test('outcomes: one per probe-ending event, in the gRPC enum order', () => {
  assert.deepEqual([...OUTCOME_NAMES], ['unspecified', 'reply', 'timeout', 'error', 'late', 'duplicate']);
  assert.equal(OUTCOME_OF_EVENT[ProbeEvent.Reply], Outcome.Reply);
  assert.equal(OUTCOME_OF_EVENT[ProbeEvent.Timeout], Outcome.Timeout);
  assert.equal(OUTCOME_OF_EVENT[ProbeEvent.Error], Outcome.Error);
  assert.equal(OUTCOME_OF_EVENT[ProbeEvent.Late], Outcome.Late);
  assert.equal(OUTCOME_OF_EVENT[ProbeEvent.Duplicate], Outcome.Duplicate);
  for (const e of [ProbeEvent.Sent, ProbeEvent.Connect, ProbeEvent.Connected, ProbeEvent.Phase, ProbeEvent.Status, ProbeEvent.TargetInvalid, 0, 200])
    assert.equal(OUTCOME_OF_EVENT[e], 0, String(e));
});

test('SSE: a result is one event with one JSON data line, names escaped, RTT only for replies', () => {
  const f = new SseFormat();
  f.setCatalog(catalog);
  const reply = sseData(f.result(0, Outcome.Reply, 0.00012, 0, time));
  assert.equal(reply.event, 'result');
  assert.deepEqual(reply.data, {
    target: 'lo "quoted"\nname',
    kind: 'icmp',
    outcome: 'reply',
    rtt_seconds: 0.00012,
    reason: null,
    time: '2025-01-02T03:04:05.678Z',
  });
  const err = sseData(f.result(3, Outcome.Error, 0, ErrorReason.status_5xx, time));
  assert.deepEqual([err.data.target, err.data.outcome, err.data.rtt_seconds, err.data.reason], ['web', 'error', null, 'status_5xx']);
  assert.equal(sseData(f.result(3, Outcome.Error, 0, 250, time)).data.reason, 'unknown');
  assert.equal(sseData(f.result(3, Outcome.Timeout, 0.5, 0, time)).data.rtt_seconds, null);
  assert.equal(sseData(f.result(3, Outcome.Late, 1.25, 0, time)).data.rtt_seconds, 1.25);
  assert.equal(sseData(f.result(3, Outcome.Reply, NaN, 0, time)).data.rtt_seconds, null);
});

test('SSE: a state carries identity, counters, loss and RTTs; NaN is null', () => {
  const f = new SseFormat();
  f.setCatalog(catalog);
  const s = sseData(f.state(0, state, time));
  assert.equal(s.event, 'state');
  assert.deepEqual(s.data, {
    target: 'lo "quoted"\nname',
    kind: 'icmp',
    address: '127.0.0.1',
    labels: { rack: 'r1', note: 'a\\b' },
    sent: 10,
    received: 7,
    timeouts: 2,
    errors: { refused: 1 },
    late: 1,
    duplicates: 0,
    loss_ratio: 0.3,
    last_rtt_seconds: 0.0004,
    rtt_avg_seconds: 0.0004,
    time: '2025-01-02T03:04:05.678Z',
  });
  const z = sseData(f.state(3, fresh, time));
  assert.equal(z.data.last_rtt_seconds, null);
  assert.equal(z.data.rtt_avg_seconds, null);
});

test('SSE: sync, end and dropped events', () => {
  assert.deepEqual(sseData(new SseFormat().sync()), { event: 'sync', data: {} });
  assert.deepEqual(sseData(sseEnd('shutdown')), { event: 'end', data: { reason: 'shutdown' } });
  assert.deepEqual(sseData(sseDropped('buffer_full')), { event: 'dropped', data: { reason: 'buffer_full' } });
});

test('gRPC: responses decode with the shipped .proto into the oneof the client expects', () => {
  const pkg = loadTelemetryProto();
  const m = (pkg[TELEMETRY_SERVICE] as ServiceDefinition).Subscribe;
  const f = new GrpcFormat(m.responseSerialize as Serialize);
  f.setCatalog(catalog);
  const decode = (b: Buffer) => m.responseDeserialize(b) as Record<string, unknown>;

  const r = decode(f.result(3, Outcome.Error, 0, ErrorReason.tls, time));
  assert.equal(r.response, 'result');
  assert.equal(r.target, 'web');
  assert.deepEqual(r.result, { kind: 'http', outcome: 'ERROR', rtt_seconds: 0, reason: 'tls', time_unix_nano: 1735787045678 * 1e6 });
  const ok = decode(f.result(0, Outcome.Reply, 0.00025, 0, time)).result as Record<string, unknown>;
  assert.deepEqual([ok.outcome, ok.rtt_seconds, ok.reason], ['REPLY', 0.00025, '']);

  const s = decode(f.state(0, state, time));
  assert.equal(s.response, 'state');
  const st = s.state as Record<string, unknown>;
  assert.deepEqual(st.labels, [
    { name: 'note', value: 'a\\b' },
    { name: 'rack', value: 'r1' },
  ]);
  assert.deepEqual(st.errors, [{ reason: 'refused', count: 1 }]);
  assert.deepEqual([st.sent, st.received, st.timeouts, st.late, st.duplicates, st.loss_ratio, st.last_rtt_seconds], [10, 7, 2, 1, 0, 0.3, 0.0004]);
  assert.ok(Math.abs((st.rtt_avg_seconds as number) - 0.0004) < 1e-12);
  const z = decode(f.state(3, fresh, time)).state as Record<string, unknown>;
  assert.ok(Number.isNaN(z.last_rtt_seconds) && Number.isNaN(z.rtt_avg_seconds));

  const sync = decode(f.sync());
  assert.deepEqual([sync.response, sync.sync_response, sync.target], ['sync_response', true, '']);
  assert.equal(f.sync(), f.sync(), 'the sync marker is encoded once');
});

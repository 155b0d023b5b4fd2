// HTTP GET /v1/ping on a real loopback listener.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { startResponder, type Responder } from '../../src/responder/index.js';
import { loopbackResponderOptions, metricValue as metric, quiet } from '../helpers/responder-setup.js';

describe('http ping', () => {
  let responder: Responder;
  let registry: Registry;
  let base: string;
  before(async () => {
    registry = new Registry();
    responder = await startResponder(loopbackResponderOptions({ tcpEcho: undefined, udpEcho: undefined }), { registry, logger: quiet });
    base = `http://127.0.0.1:${responder.addresses().http!.port}`;
  });
  after(() => responder.close());

  it('answers GET /v1/ping with 200 and the small configured body, not cacheable', async () => {
    const res = await fetch(`${base}/v1/ping`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('content-length'), '5');
    assert.equal(await res.text(), 'pong\n');
  });

  it('answers ?size=65536 with exactly 65536 bytes of the pong pattern', async () => {
    const res = await fetch(`${base}/v1/ping?size=65536`);
    assert.equal(res.status, 200);
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(body.length, 65536);
    assert.equal(body.subarray(0, 10).toString(), 'pong\npong\n');
    assert.equal(body.toString('latin1'), 'pong\n'.repeat(13108).slice(0, 65536));
  });

  it('answers ?size=0 with an empty body and ?size=max with max bytes', async () => {
    const empty = await fetch(`${base}/v1/ping?size=0`);
    assert.equal(empty.status, 200);
    assert.equal((await empty.arrayBuffer()).byteLength, 0);
    const max = await fetch(`${base}/v1/ping?size=${1 << 20}`);
    assert.equal((await max.arrayBuffer()).byteLength, 1 << 20);
  });

  it('refuses a size above httpMaxBodyBytes or not a decimal integer with 400, counted by reason', async () => {
    const big = await fetch(`${base}/v1/ping?size=${(1 << 20) + 1}`);
    assert.equal(big.status, 400);
    assert.match(await big.text(), /at most 1048576/);
    for (const bad of ['abc', '-1', '1e3', '', '007', '1&size=2']) {
      const res = await fetch(`${base}/v1/ping?size=${bad}`);
      assert.equal(res.status, 400, `size=${bad}`);
      await res.arrayBuffer();
    }
    assert.equal(await metric(registry, 'fleetprobe_responder_rejected_total', { protocol: 'http', reason: 'oversized' }), 1);
    assert.equal(await metric(registry, 'fleetprobe_responder_rejected_total', { protocol: 'http', reason: 'malformed' }), 6);
  });

  it('answers other paths with 404 and HEAD /v1/ping with 200', async () => {
    assert.equal((await fetch(`${base}/v2/ping`)).status, 404);
    const head = await fetch(`${base}/v1/ping`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });

  it('counts served pings and their body bytes', async () => {
    const requests = (await metric(registry, 'fleetprobe_responder_http_requests_total'))!;
    const bytes = (await metric(registry, 'fleetprobe_responder_bytes_total', { protocol: 'http' }))!;
    await (await fetch(`${base}/v1/ping?size=100`)).arrayBuffer();
    assert.equal(await metric(registry, 'fleetprobe_responder_http_requests_total'), requests + 1);
    assert.equal(await metric(registry, 'fleetprobe_responder_bytes_total', { protocol: 'http' }), bytes + 100);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { watchFlush } from '../../src/http/flush-watch.js';

/** A response that takes its first write and then never calls back (a client that stopped reading). */
function stuckResponse(): Writable {
  let first = true;
  return new Writable({
    highWaterMark: 1,
    write(_c, _e, cb) {
      if (first) {
        first = false;
        cb();
      }
    },
  });
}

test('an ended body whose response never flushes times out, and reports since when it waits', async () => {
  const body = new PassThrough();
  const res = stuckResponse();
  let t = 5000;
  let fired = 0;
  const w = watchFlush(body, res, { writeTimeoutMs: 100, onTimeout: () => fired++, now: () => t });
  body.pipe(res);
  assert.equal(w.waitingSince(), null, 'not waiting while the body has not ended');
  body.write(Buffer.alloc(10)); // taken
  body.end(Buffer.alloc(10)); // handed to the response, never flushed
  await new Promise((r) => body.once('end', r));
  assert.equal(w.waitingSince(), 5000);
  t = 6000;
  const keepAlive = setTimeout(() => {}, 5000); // the watch timer is unref'd
  await new Promise((r) => setTimeout(r, 300));
  clearTimeout(keepAlive);
  assert.equal(fired, 1);
  w.stop();
  assert.equal(w.waitingSince(), null, 'a stopped watch no longer waits');
  res.destroy();
});

test('a response that flushes after the body ended does not time out', async () => {
  const body = new PassThrough();
  const res = new Writable({
    write(_c, _e, cb) {
      setTimeout(cb, 20);
    },
  });
  let fired = 0;
  const w = watchFlush(body, res, { writeTimeoutMs: 200, onTimeout: () => fired++ });
  body.pipe(res);
  body.end(Buffer.alloc(100));
  await new Promise((r) => res.once('finish', r));
  assert.equal(w.waitingSince(), null);
  const keepAlive = setTimeout(() => {}, 5000);
  await new Promise((r) => setTimeout(r, 300));
  clearTimeout(keepAlive);
  assert.equal(fired, 0);
});

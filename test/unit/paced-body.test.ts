import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable, Writable, pipeline } from 'node:stream';
import { PacedBody, WRITE_TIMEOUT_CODE } from '../../src/http/paced-body.js';

/** A source of `n` chunks of `size` bytes (byte i of chunk k = (k + i) & 255); records when it is finished. */
function source(n: number, size: number): { stream: Readable; produced: () => number; finished: Promise<void> } {
  let produced = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  function* gen(): Generator<Buffer> {
    try {
      for (let k = 0; k < n; k++) {
        const b = Buffer.allocUnsafe(size);
        for (let i = 0; i < size; i++) b[i] = (k + i) & 255;
        produced++;
        yield b;
      }
    } finally {
      done();
    }
  }
  return { stream: Readable.from(gen(), { objectMode: false }), produced: () => produced, finished };
}

test('the body is the source, re-emitted in slices of at most sliceBytes', async () => {
  const src = source(5, 10_000);
  const body = new PacedBody(src.stream, { sliceBytes: 4096, writeTimeoutMs: 0 });
  // 'data' events are the pushes themselves (an async iterator would concatenate what is buffered).
  const parts: Buffer[] = [];
  body.on('data', (c: Buffer) => parts.push(c));
  await new Promise((resolve, reject) => body.once('end', resolve).once('error', reject));
  assert.ok(
    parts.every((p) => p.length <= 4096),
    'every slice is at most 4096 bytes',
  );
  const all = Buffer.concat(parts);
  assert.equal(all.length, 50_000);
  for (let k = 0; k < 5; k++) for (let i = 0; i < 10_000; i += 997) assert.equal(all[k * 10_000 + i], (k + i) & 255);
  await src.finished;
});

test('a consumer that stops reading stops production: the source is pulled no further', async () => {
  const src = source(1000, 64 * 1024); // 64 MiB if pulled to the end
  const body = new PacedBody(src.stream, { sliceBytes: 16 * 1024, writeTimeoutMs: 0 });
  // A sink that takes 4 slices and then never calls back (a client that stopped reading).
  let taken = 0;
  const sink = new Writable({
    highWaterMark: 16 * 1024,
    write(_chunk, _enc, cb) {
      if (++taken < 4) cb();
    },
  });
  body.pipe(sink);
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(src.produced() <= 4, `source chunks produced while the consumer is stuck: ${src.produced()}`);
  assert.ok(body.waitingSince() !== null, 'the body reports that it waits for its consumer');
  body.destroy();
  await src.finished; // destroying the body returns the source's generator
});

test('no progress for writeTimeoutMs destroys the body with WriteTimeoutError and releases the source', async () => {
  const src = source(1000, 64 * 1024);
  const body = new PacedBody(src.stream, { sliceBytes: 16 * 1024, writeTimeoutMs: 150 });
  const stuck = new Writable({ highWaterMark: 1024, write() {} }); // never calls back
  // The write timer is unref'd (it must not keep a server alive); keep this test's loop alive.
  const keepAlive = setTimeout(() => {}, 10_000);
  const err = await new Promise<Error | null | undefined>((resolve) => pipeline(body, stuck, resolve));
  clearTimeout(keepAlive);
  assert.ok(err, 'the pipeline fails');
  assert.equal((err as NodeJS.ErrnoException).code, WRITE_TIMEOUT_CODE);
  assert.match(err.message, /read nothing for 150 ms/);
  await src.finished;
  assert.ok(stuck.destroyed, 'the pipeline destroyed the response side too');
});

test('a slow but steady consumer is not timed out', async () => {
  const src = source(20, 8 * 1024);
  const body = new PacedBody(src.stream, { sliceBytes: 4096, writeTimeoutMs: 400 });
  let got = 0;
  const slow = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _enc, cb) {
      got += chunk.length;
      setTimeout(cb, 5); // each slice taken well within the timeout
    },
  });
  const err = await new Promise<Error | null | undefined>((resolve) => pipeline(body, slow, resolve));
  assert.equal(err ?? null, null);
  assert.equal(got, 20 * 8 * 1024);
});

test('waitingSince is null while the consumer keeps up and set while it does not', async () => {
  const pt = new PassThrough();
  let t = 1000;
  const body = new PacedBody(pt, { sliceBytes: 1024, writeTimeoutMs: 0, now: () => t });
  assert.equal(body.waitingSince(), null);
  body.pause();
  pt.write(Buffer.alloc(8 * 1024));
  body.read(0); // start pulling without consuming
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(body.waitingSince(), 1000, 'the second slice was refused at t=1000');
  t = 2000;
  body.read(); // the consumer takes what is buffered
  await new Promise((r) => setImmediate(r));
  assert.notEqual(body.waitingSince(), 1000);
  body.destroy();
});

test("a source error fails the body with the source's error", async () => {
  const failing = new Readable({
    read() {
      this.destroy(new Error('render failed'));
    },
  });
  const body = new PacedBody(failing, { writeTimeoutMs: 0 });
  await assert.rejects(async () => {
    for await (const _ of body) {
      /* drain */
    }
  }, /render failed/);
});

test('with onWriteTimeout, the timeout calls it and ends the body without an error', async () => {
  const src = source(1000, 64 * 1024);
  let called = 0;
  const body = new PacedBody(src.stream, { sliceBytes: 16 * 1024, writeTimeoutMs: 100, onWriteTimeout: () => called++ });
  body.on('data', () => body.pause()); // take one slice, then stop reading
  const keepAlive = setTimeout(() => {}, 10_000);
  const closed = await new Promise<{ errored: boolean }>((resolve) => {
    let errored = false;
    body.once('error', () => (errored = true));
    body.once('close', () => resolve({ errored }));
  });
  clearTimeout(keepAlive);
  assert.equal(called, 1);
  assert.equal(closed.errored, false);
  await src.finished;
});

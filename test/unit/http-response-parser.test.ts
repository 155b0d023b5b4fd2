import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpResponseParser, MAX_HEAD_BYTES, ParseState } from '../../workers/probes/http-response-parser.js';

interface Outcome {
  state: ParseState;
  status: number;
  bodyBytes: number;
  reusable: boolean;
  error: string;
  /** Bytes consumed when the response completed (or all of them). */
  consumedAt: number;
}

/** Feed `text` in pieces of `step` bytes (every split point gets exercised), then EOF if `eof`. */
function parse(text: string | Buffer, opts: { step?: number; head?: boolean; eof?: boolean } = {}): Outcome {
  const buf = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
  const step = opts.step ?? buf.length;
  const p = new HttpResponseParser();
  p.reset(opts.head ?? false);
  let consumedAt = buf.length;
  for (let i = 0; i < buf.length && p.state === ParseState.More; i += step) {
    // each piece in its own buffer, as reads land in a reused buffer
    const piece = Buffer.from(buf.subarray(i, Math.min(buf.length, i + step)));
    if (p.feed(piece, 0, piece.length) !== ParseState.More) consumedAt = Math.min(buf.length, i + step);
  }
  if (opts.eof && p.state === ParseState.More) p.eof();
  return { state: p.state, status: p.status, bodyBytes: p.bodyBytes, reusable: p.reusable, error: p.error, consumedAt };
}

/** The same response must give the same result however it is split. */
function parseAllSplits(text: string, opts: { head?: boolean; eof?: boolean } = {}): Outcome {
  const whole = parse(text, opts);
  for (const step of [1, 2, 3, 5, 7, 16]) {
    const o = parse(text, { ...opts, step });
    assert.deepEqual(
      [o.state, o.status, o.bodyBytes, o.reusable, o.error],
      [whole.state, whole.status, whole.bodyBytes, whole.reusable, whole.error],
      `split every ${step} bytes`,
    );
  }
  return whole;
}

test('Content-Length body: done after exactly that many bytes, reusable on HTTP/1.1', () => {
  const o = parseAllSplits('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello');
  assert.equal(o.state, ParseState.Done);
  assert.equal(o.status, 200);
  assert.equal(o.bodyBytes, 5);
  assert.equal(o.reusable, true);
});

test('bytes after a complete response are not consumed as body', () => {
  const p = new HttpResponseParser();
  p.reset(false);
  const b = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA', 'latin1');
  assert.equal(p.feed(b, 0, b.length), ParseState.Done);
  assert.equal(p.bodyBytes, 2);
});

test('Connection: close or HTTP/1.0 without keep-alive is not reusable; HTTP/1.0 keep-alive is', () => {
  assert.equal(parse('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').reusable, false);
  assert.equal(parse('HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n').reusable, false);
  assert.equal(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').reusable, false);
  assert.equal(parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').reusable, true);
});

test('chunked body with extensions and trailers: data bytes counted, done at the last CRLF', () => {
  const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=val\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n';
  const o = parseAllSplits(text);
  assert.equal(o.state, ParseState.Done);
  assert.equal(o.bodyBytes, 15);
  assert.equal(o.reusable, true);
  assert.equal(parse(text + 'junk').consumedAt, text.length + 4);
});

test('chunked: an incomplete body is More, then EOF makes it an error', () => {
  const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhel';
  assert.equal(parse(text).state, ParseState.More);
  const o = parse(text, { eof: true });
  assert.equal(o.state, ParseState.Error);
  assert.match(o.error, /before the end of the body/);
});

test('chunked: malformed sizes and missing CRLF after data are errors', () => {
  for (const body of ['zz\r\n', '\r\n', '5\nhello\r\n0\r\n\r\n', '5\r\nhelloXX0\r\n\r\n', 'ffffffffffffff\r\n']) {
    const o = parseAllSplits(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
    assert.equal(o.state, ParseState.Error, JSON.stringify(body));
  }
});

test('no length: the body runs until the peer closes (HTTP/1.0 servers, Transfer-Encoding without chunked)', () => {
  const o = parseAllSplits('HTTP/1.0 200 ok\r\nContent-type: text/html\r\n\r\n<pre>lots of text', { eof: true });
  assert.equal(o.state, ParseState.Done);
  assert.equal(o.bodyBytes, 17);
  assert.equal(o.reusable, false);
  const te = parseAllSplits('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc', { eof: true });
  assert.equal(te.state, ParseState.Done);
  assert.equal(te.bodyBytes, 3);
});

test('HEAD, 204 and 304 have no body whatever Content-Length says', () => {
  const head = parse('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n', { head: true });
  assert.deepEqual([head.state, head.bodyBytes, head.reusable], [ParseState.Done, 0, true]);
  assert.equal(parse('HTTP/1.1 204 No Content\r\n\r\n').state, ParseState.Done);
  assert.equal(parse('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n').state, ParseState.Done);
});

test('interim 100/103 responses are skipped; the final status is reported', () => {
  const o = parseAllSplits('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!');
  assert.deepEqual([o.state, o.status, o.bodyBytes], [ParseState.Done, 404, 3]);
});

test('a status line without a reason phrase is accepted', () => {
  const o = parse('HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n');
  assert.deepEqual([o.state, o.status], [ParseState.Done, 503]);
});

test('not HTTP/1.x, malformed status lines and header lines are errors', () => {
  for (const text of [
    'SSH-2.0-OpenSSH\r\n\r\n',
    'HTTP/2 200\r\n\r\n',
    'HTTP/1.1 20 OK\r\n\r\n',
    'HTTP/1.1 2000 OK\r\n\r\n',
    'HTTP/1.1 600 Nope\r\n\r\n',
    'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n',
    'HTTP/1.1 200 OK\r\n: empty name\r\n\r\n',
    'HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n',
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n',
  ]) {
    const o = parseAllSplits(text);
    assert.equal(o.state, ParseState.Error, JSON.stringify(text));
    assert.notEqual(o.error, '');
  }
});

test('Content-Length: bad values, conflicting duplicates and Content-Length with Transfer-Encoding are errors', () => {
  for (const h of ['Content-Length: abc', 'Content-Length: -1', 'Content-Length: 1\r\nContent-Length: 2', 'Content-Length: 3\r\nTransfer-Encoding: chunked']) {
    assert.equal(parse(`HTTP/1.1 200 OK\r\n${h}\r\n\r\nabc`).state, ParseState.Error, h);
  }
  const same = parse('HTTP/1.1 200 OK\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\nabc');
  assert.deepEqual([same.state, same.bodyBytes], [ParseState.Done, 3]);
});

test('a head larger than MAX_HEAD_BYTES is an error, whole or split', () => {
  const big = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`;
  assert.equal(parse(big).state, ParseState.Error);
  assert.equal(parse(big, { step: 1000 }).state, ParseState.Error);
  const justFits = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(MAX_HEAD_BYTES - 100)}\r\nContent-Length: 0\r\n\r\n`;
  assert.equal(parse(justFits, { step: 1000 }).state, ParseState.Done);
});

test('EOF before a complete head is an error; EOF after Done changes nothing', () => {
  assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Le', { eof: true }).state, ParseState.Error);
  assert.equal(parse('', { eof: true }).state, ParseState.Error);
  const p = new HttpResponseParser();
  p.reset(false);
  const b = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  p.feed(b, 0, b.length);
  assert.equal(p.eof(), ParseState.Done);
});

test('reset() makes a parser reusable for the next response (keep-alive), including after a split head', () => {
  const p = new HttpResponseParser();
  p.reset(false);
  const a = Buffer.from('HTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\nx');
  p.feed(a, 0, 10);
  p.feed(a, 10, a.length);
  assert.deepEqual([p.state, p.status], [ParseState.Done, 500]);
  p.reset(false);
  const b = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
  assert.equal(p.feed(b, 0, b.length), ParseState.Done);
  assert.deepEqual([p.status, p.bodyBytes, p.reusable], [200, 0, true]);
});

test('feed honours start/end offsets inside a larger read buffer', () => {
  const p = new HttpResponseParser();
  p.reset(false);
  const b = Buffer.from('garbageHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokmore');
  assert.equal(p.feed(b, 7, b.length - 4), ParseState.Done);
  assert.equal(p.bodyBytes, 2);
});

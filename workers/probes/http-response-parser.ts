/**
 * Incremental HTTP/1.x response parser for the http prober. Pure: bytes in, state out.
 *
 * The probe measures the network, not the content, so this reads only what is needed to
 * know the status and where the response ends (RFC 9112 §6.3):
 *   - the status line `HTTP/1.0|1.1 SSS [reason]`;
 *   - headers until the empty line, of which only Content-Length, Transfer-Encoding and
 *     Connection matter; interim 1xx responses (100, 102, 103) are skipped;
 *   - the body length: none (HEAD, 204, 304), chunked (Transfer-Encoding ending in
 *     chunked; chunk extensions and trailers are skipped), Content-Length, or until the
 *     peer closes (no length, or a Transfer-Encoding that is not chunked).
 * The body is counted, never stored. Anything else is an error (→ reason `protocol`):
 * not HTTP/1.x, a malformed status or header line, obsolete line folding, a 101 we never
 * asked for, conflicting Content-Length values or Content-Length together with
 * Transfer-Encoding (request smuggling territory, which llhttp rejects too), a bad chunk
 * size, or a head larger than MAX_HEAD_BYTES.
 *
 * Cost: the head is usually whole in the first read; it is decoded as one latin1 string
 * and read with indexOf. A head split across reads is copied into a scratch buffer that
 * the parser keeps for its next uses. Body bytes are only counted (chunked: walked).
 */

/** Node's default --max-http-header-size: a head larger than this is not a probe answer. */
export const MAX_HEAD_BYTES = 16 * 1024;

export const enum ParseState {
  /** More bytes are needed. */
  More = 0,
  /** The response is complete (bytes after it, if any, were not consumed). */
  Done = 1,
  /** Not a valid HTTP/1.x response: see `error`. */
  Error = 2,
}

const enum Body {
  None = 0,
  Length = 1,
  Chunked = 2,
  UntilClose = 3,
}

const enum Chunk {
  Size = 0,
  Ext = 1,
  SizeLf = 2,
  Data = 3,
  DataCr = 4,
  DataLf = 5,
  TrailerStart = 6,
  TrailerLine = 7,
  EndLf = 8,
}

const CR = 13;
const LF = 10;
/** More hex digits than this cannot be a chunk size we would ever read (2^52). */
const MAX_CHUNK_HEX_DIGITS = 13;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

export class HttpResponseParser {
  state: ParseState = ParseState.More;
  /** Final status code (interim 1xx skipped), 0 until the head is read. */
  status = 0;
  /** The head was read (status and framing known). */
  headDone = false;
  /** Body bytes seen so far (chunked: data bytes only). */
  bodyBytes = 0;
  /** The server allows another request on this connection (keep-alive and a delimited body). */
  reusable = false;
  /** Why state is Error. */
  error = '';

  private headRequest = false;
  private scratch: Buffer | null = null;
  private scratchLen = 0;
  private body = Body.None;
  /** Body.Length: bytes still expected. Body.Chunked: bytes left in the current chunk. */
  private remaining = 0;
  private chunk = Chunk.Size;
  private hexDigits = 0;

  /** Start on a new response. `headRequest`: the request was HEAD (no body follows). */
  reset(headRequest: boolean): void {
    this.state = ParseState.More;
    this.status = 0;
    this.headDone = false;
    this.bodyBytes = 0;
    this.reusable = false;
    this.error = '';
    this.headRequest = headRequest;
    this.scratchLen = 0;
    this.body = Body.None;
    this.remaining = 0;
    this.chunk = Chunk.Size;
    this.hexDigits = 0;
  }

  /** Feed bytes buf[start, end). Returns the new state; Done and Error are final. */
  feed(buf: Buffer, start: number, end: number): ParseState {
    let i = start;
    while (this.state === ParseState.More && i < end) {
      if (!this.headDone) i = this.feedHead(buf, i, end);
      else i = this.feedBody(buf, i, end);
    }
    return this.state;
  }

  /** The peer closed (FIN). A close-delimited body ends here; anything unfinished is an error. */
  eof(): ParseState {
    if (this.state !== ParseState.More) return this.state;
    if (this.headDone && this.body === Body.UntilClose) {
      this.state = ParseState.Done;
      return this.state;
    }
    return this.fail(this.headDone ? 'connection closed before the end of the body' : 'connection closed before a complete head');
  }

  private fail(why: string): ParseState {
    this.state = ParseState.Error;
    this.error = why;
    this.reusable = false;
    return this.state;
  }

  /** Find the end of the head; returns the index after the consumed bytes. */
  private feedHead(buf: Buffer, start: number, end: number): number {
    if (this.scratchLen === 0) {
      const at = findHeadEnd(buf, start, end);
      if (at >= 0) {
        if (at - start > MAX_HEAD_BYTES + 4) {
          this.fail('response head too large');
          return end;
        }
        this.parseHead(buf.toString('latin1', start, at - 4));
        return at;
      }
      if (end - start > MAX_HEAD_BYTES) {
        this.fail('response head too large');
        return end;
      }
      this.stash(buf, start, end);
      return end;
    }
    // A head split across reads: append and look again, overlapping the last 3 bytes.
    const from = Math.max(0, this.scratchLen - 3);
    const take = Math.min(end - start, MAX_HEAD_BYTES + 4 - this.scratchLen);
    const prevLen = this.scratchLen;
    this.stash(buf, start, start + take);
    const s = this.scratch!;
    const at = findHeadEnd(s, from, this.scratchLen);
    if (at >= 0) {
      this.parseHead(s.toString('latin1', 0, at - 4));
      this.scratchLen = 0;
      return start + (at - prevLen);
    }
    if (this.scratchLen > MAX_HEAD_BYTES) {
      this.fail('response head too large');
      return end;
    }
    return start + take;
  }

  private stash(buf: Buffer, start: number, end: number): void {
    const need = this.scratchLen + (end - start);
    if (this.scratch === null || this.scratch.length < need) {
      const grown = Buffer.allocUnsafe(Math.min(MAX_HEAD_BYTES + 4, Math.max(need, 1024)));
      if (this.scratch !== null) this.scratch.copy(grown, 0, 0, this.scratchLen);
      this.scratch = grown;
    }
    this.scratch.set(buf.subarray(start, end), this.scratchLen);
    this.scratchLen = need;
  }

  /** Parse a complete head (without the final CRLFCRLF). */
  private parseHead(head: string): void {
    // Status line: HTTP/1.x SSS[ reason]
    if (head.length < 12 || !head.startsWith('HTTP/1.') || head[8] !== ' ') {
      this.fail('not an HTTP/1.x status line');
      return;
    }
    const minor = head.charCodeAt(7) - 48;
    const c0 = head.charCodeAt(9) - 48;
    const c1 = head.charCodeAt(10) - 48;
    const c2 = head.charCodeAt(11) - 48;
    if ((minor !== 0 && minor !== 1) || c0 < 1 || c0 > 5 || c1 < 0 || c1 > 9 || c2 < 0 || c2 > 9) {
      this.fail('malformed status line');
      return;
    }
    let lineEnd = head.indexOf('\r\n');
    if (lineEnd < 0) lineEnd = head.length;
    if (lineEnd > 12 && head[12] !== ' ') {
      this.fail('malformed status line');
      return;
    }
    const status = c0 * 100 + c1 * 10 + c2;

    let contentLength = -1;
    let chunked = false;
    let transferEncoding = false;
    let connClose = minor === 0; // HTTP/1.0 closes unless it says keep-alive
    let pos = lineEnd + 2;
    while (pos < head.length) {
      let eol = head.indexOf('\r\n', pos);
      if (eol < 0) eol = head.length;
      const first = head.charCodeAt(pos);
      if (first === 32 || first === 9) {
        this.fail('obsolete header line folding');
        return;
      }
      const colon = head.indexOf(':', pos);
      if (colon <= pos || colon > eol) {
        this.fail('malformed header line');
        return;
      }
      const nameLen = colon - pos;
      // Only three names matter; compare lengths first so most headers cost one branch.
      if (nameLen === 14 || nameLen === 17 || nameLen === 10) {
        const name = head.slice(pos, colon).toLowerCase();
        if (name === 'content-length') {
          const v = head.slice(colon + 1, eol).trim();
          if (!/^\d{1,15}$/.test(v)) {
            this.fail('bad Content-Length');
            return;
          }
          const n = Number(v);
          if (contentLength >= 0 && contentLength !== n) {
            this.fail('conflicting Content-Length values');
            return;
          }
          contentLength = n;
        } else if (name === 'transfer-encoding') {
          transferEncoding = true;
          const codings = head.slice(colon + 1, eol).toLowerCase();
          const last = codings.slice(codings.lastIndexOf(',') + 1).trim();
          chunked = last === 'chunked'; // a later header line overrides an earlier one
        } else if (name === 'connection') {
          const v = head.slice(colon + 1, eol).toLowerCase();
          if (/(^|,)\s*close\s*(,|$)/.test(v)) connClose = true;
          else if (minor === 0 && /(^|,)\s*keep-alive\s*(,|$)/.test(v)) connClose = false;
        }
      }
      pos = eol + 2;
    }

    if (status < 200) {
      if (status === 101) {
        this.fail('101 Switching Protocols without an upgrade request');
        return;
      }
      // Interim response: the final one follows on the same connection.
      return;
    }
    if (transferEncoding && contentLength >= 0) {
      this.fail('both Content-Length and Transfer-Encoding');
      return;
    }
    this.status = status;
    this.headDone = true;
    if (this.headRequest || status === 204 || status === 304) {
      this.body = Body.None;
    } else if (transferEncoding) {
      this.body = chunked ? Body.Chunked : Body.UntilClose;
    } else if (contentLength >= 0) {
      this.body = Body.Length;
      this.remaining = contentLength;
    } else {
      this.body = Body.UntilClose;
    }
    this.reusable = !connClose && this.body !== Body.UntilClose;
    if (this.body === Body.None || (this.body === Body.Length && this.remaining === 0)) this.state = ParseState.Done;
  }

  private feedBody(buf: Buffer, start: number, end: number): number {
    switch (this.body) {
      case Body.UntilClose:
        this.bodyBytes += end - start;
        return end;
      case Body.Length: {
        const n = Math.min(this.remaining, end - start);
        this.bodyBytes += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = ParseState.Done;
        return start + n;
      }
      case Body.Chunked:
        return this.feedChunked(buf, start, end);
      default:
        this.state = ParseState.Done;
        return start;
    }
  }

  private feedChunked(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end && this.state === ParseState.More) {
      const c = buf[i];
      switch (this.chunk) {
        case Chunk.Size: {
          const h = hexValue(c);
          if (h >= 0) {
            if (++this.hexDigits > MAX_CHUNK_HEX_DIGITS) return (this.fail('chunk size too large'), end);
            this.remaining = this.remaining * 16 + h;
            i++;
          } else if (this.hexDigits === 0) {
            return (this.fail('bad chunk size'), end);
          } else if (c === CR) {
            this.chunk = Chunk.SizeLf;
            i++;
          } else if (c === 59 /* ; */ || c === 32 || c === 9) {
            this.chunk = Chunk.Ext;
            i++;
          } else {
            return (this.fail('bad chunk size'), end);
          }
          break;
        }
        case Chunk.Ext:
          if (c === CR) this.chunk = Chunk.SizeLf;
          else if (c === LF) return (this.fail('bad chunk extension'), end);
          i++;
          break;
        case Chunk.SizeLf:
          if (c !== LF) return (this.fail('bad chunk size line'), end);
          i++;
          this.hexDigits = 0;
          this.chunk = this.remaining === 0 ? Chunk.TrailerStart : Chunk.Data;
          break;
        case Chunk.Data: {
          const n = Math.min(this.remaining, end - i);
          this.bodyBytes += n;
          this.remaining -= n;
          i += n;
          if (this.remaining === 0) this.chunk = Chunk.DataCr;
          break;
        }
        case Chunk.DataCr:
          if (c !== CR) return (this.fail('chunk data not followed by CRLF'), end);
          this.chunk = Chunk.DataLf;
          i++;
          break;
        case Chunk.DataLf:
          if (c !== LF) return (this.fail('chunk data not followed by CRLF'), end);
          this.chunk = Chunk.Size;
          i++;
          break;
        case Chunk.TrailerStart:
          if (c === CR) this.chunk = Chunk.EndLf;
          else this.chunk = Chunk.TrailerLine;
          i++;
          break;
        case Chunk.TrailerLine:
          if (c === LF) this.chunk = Chunk.TrailerStart;
          i++;
          break;
        case Chunk.EndLf:
          if (c !== LF) return (this.fail('bad end of chunked body'), end);
          i++;
          this.state = ParseState.Done;
          break;
      }
    }
    return i;
  }
}

/** Index just after the first CRLFCRLF at or after `from` (searching within [from, end)), or -1. */
function findHeadEnd(buf: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 3 < end; i++) {
    if (buf[i + 3] === LF) {
      if (buf[i] === CR && buf[i + 1] === LF && buf[i + 2] === CR) return i + 4;
    } else if (buf[i + 3] !== CR) {
      i += 3; // buf[i+3] is neither CR nor LF: no match can start at i..i+3
    }
  }
  return -1;
}

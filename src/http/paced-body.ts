/**
 * A response body that goes at the pace its client reads, and gives up on a
 * client that stops reading.
 *
 * It re-emits a source stream in slices of at most `sliceBytes` and pulls the
 * next source chunk only when the consumer (the HTTP response, through pipe /
 * pipeline backpressure) asks for more, so a client that does not read holds at
 * most: one slice in the socket, one slice here, the source chunk being sliced
 * and whatever the source buffers (for a scrape: one 1 MiB chunk, plus the store
 * snapshot its serializer walks). Never the whole body.
 *
 * Why slices: the response's 'drain' (and so the next _read here) comes when a
 * whole socket write has been taken by the kernel. With 1 MiB writes, a client
 * reading slowly but steadily could show no progress for many seconds; with 64 KiB
 * slices, progress is seen every 64 KiB.
 *
 * Write timeout: while the body waits for its consumer (the last push was
 * refused), a timer runs; a _read ends the wait. If it fires, onWriteTimeout is
 * called (or the body fails with WriteTimeoutError, and a pipeline destroys the
 * response) and the source is destroyed (releasing the snapshot). Time the source
 * itself takes to produce is not counted: that is our latency, not the client's.
 * Once the body has ended, its last bytes still have to leave the response: see
 * watchFlush.
 */
import { Readable } from 'node:stream';

export const WRITE_TIMEOUT_CODE = 'FP_ERR_WRITE_TIMEOUT';

export class WriteTimeoutError extends Error {
  override name = 'WriteTimeoutError';
  readonly code = WRITE_TIMEOUT_CODE;
  constructor(ms: number) {
    super(`client read nothing for ${ms} ms`);
  }
}

export interface PacedBodyOptions {
  /** Largest piece handed to the consumer (default 64 KiB). */
  sliceBytes?: number;
  /** Destroy the body when the consumer takes nothing for this long; 0: never. */
  writeTimeoutMs: number;
  /**
   * Called at the write timeout instead of failing the body with WriteTimeoutError
   * (the body is then destroyed without an error): for consumers that would log
   * the error, when the caller counts and closes the connection itself.
   */
  onWriteTimeout?: () => void;
  /** Monotonic clock in ms (tests inject one); default performance.now(). */
  now?: () => number;
}

export const DEFAULT_SLICE_BYTES = 64 * 1024;

export class PacedBody extends Readable {
  private readonly sourceIterator: AsyncIterator<unknown>;
  private readonly sliceBytes: number;
  private readonly writeTimeoutMs: number;
  private readonly onWriteTimeout: (() => void) | undefined;
  private readonly now: () => number;
  private chunk: Buffer | null = null;
  private offset = 0;
  private pulling = false;
  private waitingSinceMs: number | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly source: Readable,
    opts: PacedBodyOptions,
  ) {
    const sliceBytes = opts.sliceBytes ?? DEFAULT_SLICE_BYTES;
    // One slice buffered here: a second push is refused, which is when we start waiting.
    super({ highWaterMark: sliceBytes });
    this.sliceBytes = sliceBytes;
    this.writeTimeoutMs = opts.writeTimeoutMs;
    this.onWriteTimeout = opts.onWriteTimeout;
    this.now = opts.now ?? (() => performance.now());
    this.sourceIterator = source[Symbol.asyncIterator]();
  }

  /** Monotonic ms since which the consumer has not taken a refused slice, or null. */
  waitingSince(): number | null {
    return this.waitingSinceMs;
  }

  override _read(): void {
    // The consumer wants more: it made progress. (The timer, if armed, finds nothing waiting.)
    this.waitingSinceMs = null;
    if (!this.pulling) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pulling = true;
    try {
      for (;;) {
        if (this.chunk === null || this.offset >= this.chunk.length) {
          const r = await this.sourceIterator.next();
          if (this.destroyed) return;
          if (r.done === true) {
            this.chunk = null;
            this.push(null);
            // No _read comes after the end, so wait for 'end' (the consumer took
            // everything) instead: until then, the consumer may be stuck on our last
            // slices (buffered here, or a pipe paused until its response drains).
            this.once('end', () => (this.waitingSinceMs = null));
            this.startWaiting();
            return;
          }
          const v = r.value;
          this.chunk = Buffer.isBuffer(v) ? v : typeof v === 'string' ? Buffer.from(v) : Buffer.from(v as Uint8Array);
          this.offset = 0;
        }
        const end = Math.min(this.chunk.length, this.offset + this.sliceBytes);
        const slice = this.chunk.subarray(this.offset, end);
        this.offset = end;
        if (!this.push(slice)) {
          this.startWaiting();
          return;
        }
      }
    } catch (err) {
      this.destroy(err as Error);
    } finally {
      this.pulling = false;
    }
  }

  private startWaiting(): void {
    this.waitingSinceMs = this.now();
    if (this.writeTimeoutMs <= 0) return;
    // One timer per body, re-armed from now at each wait (refresh() also re-arms a timer
    // that has fired), so when it fires the current wait has lasted writeTimeoutMs.
    if (this.timer === null) {
      this.timer = setTimeout(() => {
        if (this.waitingSinceMs === null || this.destroyed) return;
        if (this.onWriteTimeout === undefined) {
          this.destroy(new WriteTimeoutError(this.writeTimeoutMs));
        } else {
          this.onWriteTimeout();
          this.destroy();
        }
      }, this.writeTimeoutMs);
      this.timer.unref();
    } else {
      this.timer.refresh();
    }
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.chunk = null;
    this.waitingSinceMs = null;
    // Releases what the source holds (a scrape's snapshot: its generator is returned).
    this.source.destroy();
    cb(err);
  }
}

/**
 * The last part of a write timeout: once a PacedBody has handed its last slice to
 * the response, the response still has to get its buffered bytes (up to about
 * two slices) into the kernel. A client that stops reading just then would hold
 * the response, its connection and its scrape slot forever: the body has ended,
 * so its own timer no longer runs. This watches that phase with the same timeout.
 */
import type { Readable, Writable } from 'node:stream';

export interface FlushWatch {
  /** Monotonic ms since which the ended body's response has waited to flush, or null. */
  waitingSince(): number | null;
  /** The response is over (its 'close'): stop watching. The caller calls it, so that a
   * response does not collect one more listener per watcher (Node warns past ten). */
  stop(): void;
}

export function watchFlush(body: Readable, res: Writable, opts: { writeTimeoutMs: number; onTimeout: () => void; now?: () => number }): FlushWatch {
  const now = opts.now ?? (() => performance.now());
  let since: number | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const stop = (): void => {
    stopped = true;
    since = null;
    if (timer !== null) clearTimeout(timer);
    timer = null;
  };
  body.once('end', () => {
    if (stopped || res.writableFinished || res.destroyed) return;
    since = now();
    if (opts.writeTimeoutMs <= 0) return;
    timer = setTimeout(() => {
      timer = null;
      if (since !== null && !res.writableFinished) opts.onTimeout();
    }, opts.writeTimeoutMs);
    timer.unref();
  });
  return { waitingSince: () => (res.writableFinished ? null : since), stop };
}

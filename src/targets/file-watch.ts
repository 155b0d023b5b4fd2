/**
 * Watch a few files (target files, the mesh peers file) and report when they change.
 *
 * Why the directory and not the file: generators (and editors, and Kubernetes'
 * ConfigMap volumes) replace a file by renaming a new one over it. A watch on the file
 * follows the old inode and goes quiet; a watch on the containing directory sees the
 * rename. Any event in the directory makes us stat the watched files there (a
 * ConfigMap swaps a `..data` symlink, not the file's own name), and an event naming a
 * watched file marks it changed outright.
 *
 * Why also a periodic stat: inotify misses changes made on another host of a network
 * file system, and a directory that is removed and created again loses its watch. Every
 * `checkIntervalMs` each file's identity (device, inode, size, mtime, ctime — or the
 * error that stat gives) is compared with the one recorded, and a directory whose
 * watch failed is watched again.
 *
 * Why debounced: a generator writes in several steps (truncate, write, write, close) or
 * several files one after the other; each step is an event. Changes are reported once,
 * `debounceMs` after the last event, and at most `maxDelayMs` after the first, so a file
 * rewritten without pause is still picked up.
 *
 * A file's identity is recorded when the change is reported, before the caller reads it:
 * a change made while the caller reads is seen as a new change.
 */
import { watch, statSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface FileWatcherOptions {
  /** Report this long after the last event (ms). */
  debounceMs: number;
  /** ... and at most this long after the first event of a burst (ms). */
  maxDelayMs: number;
  /** Periodic stat of every watched file (ms). */
  checkIntervalMs: number;
  /** The files that changed (absolute paths, in watch order). */
  onChange(paths: string[]): void;
  /** A directory could not be watched (the periodic check still covers its files). */
  onWatchError?(dir: string, err: Error): void;
  /** Use fs.watch (default true). Off, only the periodic check sees changes (tests of the fallback). */
  fsWatch?: boolean;
}

/** Identity of a file's current content, as stat sees it (following symlinks). */
export function fileIdentity(path: string): string {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (e) {
    return `error:${(e as NodeJS.ErrnoException).code ?? 'unknown'}`;
  }
}

interface Watched {
  dir: string;
  name: string;
  identity: string;
}

export class FileWatcher {
  private readonly files = new Map<string, Watched>();
  /** One fs.watch per directory; null when it failed (retried by the periodic check). */
  private readonly dirs = new Map<string, FSWatcher | null>();
  /** Files named by an event since the last report. */
  private readonly named = new Set<string>();
  private debounceTimer: NodeJS.Timeout | null = null;
  private burstStartedAt = 0;
  private checkTimer: NodeJS.Timeout | null = null;
  private checkIntervalMs: number;
  private closed = false;

  constructor(private readonly opts: FileWatcherOptions) {
    this.checkIntervalMs = opts.checkIntervalMs;
  }

  /** The files watched now. */
  get paths(): string[] {
    return [...this.files.keys()];
  }

  /**
   * Watch exactly `paths` (absolute). Files watched already keep their recorded
   * identity, so a change that happened meanwhile is still reported; new files are
   * recorded as they are now.
   */
  setPaths(paths: readonly string[], checkIntervalMs = this.checkIntervalMs): void {
    if (this.closed) return;
    const wanted = new Set(paths);
    for (const p of [...this.files.keys()]) if (!wanted.has(p)) this.files.delete(p);
    for (const p of wanted) {
      if (!this.files.has(p)) this.files.set(p, { dir: dirname(p), name: basename(p), identity: fileIdentity(p) });
    }
    const dirsWanted = new Set([...this.files.values()].map((f) => f.dir));
    for (const [dir, w] of [...this.dirs]) {
      if (dirsWanted.has(dir)) continue;
      w?.close();
      this.dirs.delete(dir);
    }
    for (const dir of dirsWanted) if (!this.dirs.has(dir)) this.watchDir(dir);
    if (checkIntervalMs !== this.checkIntervalMs || (this.checkTimer === null && this.files.size > 0) || (this.checkTimer !== null && this.files.size === 0)) {
      this.checkIntervalMs = checkIntervalMs;
      if (this.checkTimer) clearInterval(this.checkTimer);
      this.checkTimer = null;
      if (this.files.size > 0) {
        this.checkTimer = setInterval(() => this.periodicCheck(), this.checkIntervalMs);
        this.checkTimer.unref();
      }
    }
  }

  close(): void {
    this.closed = true;
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.debounceTimer = null;
    this.checkTimer = null;
    for (const w of this.dirs.values()) w?.close();
    this.dirs.clear();
    this.files.clear();
  }

  private watchDir(dir: string): void {
    if (this.opts.fsWatch === false) {
      this.dirs.set(dir, null);
      return;
    }
    try {
      // persistent: false — the watch alone must not keep the process alive.
      const w = watch(dir, { persistent: false }, (_event, filename) => this.onEvent(dir, filename === null ? null : String(filename)));
      w.on('error', (err: Error) => {
        // The directory went away (or the watch broke): the periodic check covers it and watches it again.
        w.close();
        if (this.dirs.get(dir) === w) this.dirs.set(dir, null);
        this.opts.onWatchError?.(dir, err);
        this.schedule();
      });
      this.dirs.set(dir, w);
    } catch (err) {
      this.dirs.set(dir, null);
      this.opts.onWatchError?.(dir, err as Error);
    }
  }

  private onEvent(dir: string, filename: string | null): void {
    if (this.closed) return;
    for (const [path, f] of this.files) if (f.dir === dir && f.name === filename) this.named.add(path);
    // Any other event in the directory (a symlink swap, a temporary file renamed over
    // ours under another name first) leads to a stat of its files.
    this.schedule();
  }

  private periodicCheck(): void {
    if (this.closed) return;
    for (const [dir, w] of this.dirs) if (w === null && this.opts.fsWatch !== false) this.watchDir(dir);
    for (const [path, f] of this.files) {
      if (fileIdentity(path) !== f.identity) {
        this.schedule();
        return;
      }
    }
  }

  /** Report after the burst settles (debounceMs quiet), or maxDelayMs after it began. */
  private schedule(): void {
    const now = Date.now();
    if (this.debounceTimer === null) this.burstStartedAt = now;
    else clearTimeout(this.debounceTimer);
    const delay = Math.max(0, Math.min(this.opts.debounceMs, this.burstStartedAt + this.opts.maxDelayMs - now));
    this.debounceTimer = setTimeout(() => this.report(), delay);
    this.debounceTimer.unref();
  }

  private report(): void {
    this.debounceTimer = null;
    if (this.closed) return;
    const changed: string[] = [];
    for (const [path, f] of this.files) {
      const identity = fileIdentity(path);
      if (identity !== f.identity || this.named.has(path)) changed.push(path);
      f.identity = identity;
    }
    this.named.clear();
    if (changed.length > 0) this.opts.onChange(changed);
  }
}

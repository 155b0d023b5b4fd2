/**
 * Target files. Two formats, told apart by their entries:
 *
 * 1. tcp_ping_prometheus style: a JSON (or YAML) array of target entries
 *    `[{"name": "web1", "address": "127.0.0.1:4000", "kind"?, "labels"?, "interval"?, ...}]`
 *    with the same fields as an inline target. An entry without `kind` whose address
 *    has a port, while probe_defaults.kind is icmp, is a tcp_echo target (that is what
 *    this format meant in tcp_ping_prometheus).
 *
 * 2. Prometheus file_sd: `[{"targets": ["host", "host:port", "https://host/path"], "labels": {...}}]`.
 *    Each target string becomes one target:
 *      - name: the target string itself, or the group label `__name__` (only in a
 *        group of exactly one target, since names are unique);
 *      - kind: the group label `__kind__`; else http for an http(s):// URL; else as in
 *        format 1 (host:port -> tcp_echo when the default kind is icmp; else the default);
 *      - `__interval__` / `__timeout__` group labels set interval / timeout;
 *      - every other label starting with "__" (including `__meta_*`) is dropped, as
 *        Prometheus drops them after relabelling; the rest become target labels.
 *
 * A bad entry is rejected alone (with file, index and reason); the rest load.
 */
import { relative, isAbsolute } from 'node:path';
import type { ProbeDefaults, TargetSpec } from './model.js';
import { parseTargetEntry, describeProblems } from './spec.js';
import { parseHostPort, parseHttpUrl } from './address.js';
import { readStructuredFile } from '../values/structured-file.js';
import { clip } from '../values/clip.js';

export interface RejectedTarget {
  /** "targets.json[12]", "sd.yaml[0].targets[3]", or the file for a file-level failure. */
  source: string;
  name?: string;
  /** The entry's kind and address (or url) as written, when it has them (clipped). */
  kind?: string;
  address?: string;
  reason: string;
}

export interface TargetLoad {
  targets: TargetSpec[];
  rejected: RejectedTarget[];
}

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A file_sd document has groups with a `targets` list and no target fields. */
export function isFileSd(doc: unknown[]): boolean {
  return doc.length > 0 && doc.every((g) => isMapping(g) && Array.isArray(g.targets) && !('address' in g) && !('name' in g));
}

function inferKind(entry: Record<string, unknown>, defaults: ProbeDefaults): Record<string, unknown> {
  if (entry.kind !== undefined || defaults.kind !== 'icmp') return entry;
  if (typeof entry.address === 'string' && typeof parseHostPort(entry.address) !== 'string') return { ...entry, kind: 'tcp_echo' };
  return entry;
}

/** Kind and address of a rejected entry, as far as it says (a file-level failure has neither). */
function asWritten(entry: unknown, defaults: ProbeDefaults): { kind?: string; address?: string } {
  if (!isMapping(entry)) return {};
  const out: { kind?: string; address?: string } = {};
  const kind = entry.kind ?? defaults.kind;
  if (typeof kind === 'string') out.kind = clip(kind, 64);
  const address = entry.address ?? entry.url;
  if (typeof address === 'string') out.address = clip(address, 256);
  return out;
}

function fromTargetList(doc: unknown[], label: string, defaults: ProbeDefaults, out: TargetLoad): void {
  doc.forEach((entry, i) => {
    const source = `${label}[${i}]`;
    const e = isMapping(entry) ? inferKind(entry, defaults) : entry;
    const parsed = parseTargetEntry(e, source, defaults);
    if (parsed.ok) out.targets.push(parsed.spec);
    else
      out.rejected.push({
        source,
        ...(parsed.name !== undefined ? { name: parsed.name } : {}),
        ...asWritten(e, defaults),
        reason: describeProblems(parsed.problems),
      });
  });
}

function fromFileSd(doc: unknown[], label: string, defaults: ProbeDefaults, out: TargetLoad): void {
  doc.forEach((group, gi) => {
    const g = group as Record<string, unknown>;
    const groupSource = `${label}[${gi}]`;
    const rawLabels = g.labels ?? {};
    if (!isMapping(rawLabels)) {
      out.rejected.push({ source: groupSource, reason: 'labels must be a mapping' });
      return;
    }
    const unknownKeys = Object.keys(g).filter((k) => k !== 'targets' && k !== 'labels');
    if (unknownKeys.length) {
      out.rejected.push({ source: groupSource, reason: `unknown group field(s) ${unknownKeys.join(', ')} (file_sd groups have targets and labels)` });
      return;
    }
    const labels: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rawLabels)) if (!k.startsWith('__')) labels[k] = v;
    const targets = g.targets as unknown[];
    const meta = rawLabels;
    targets.forEach((t, ti) => {
      const source = `${groupSource}.targets[${ti}]`;
      if (typeof t !== 'string' || t === '') {
        out.rejected.push({ source, reason: 'a file_sd target must be a non-empty string' });
        return;
      }
      if (meta.__name__ !== undefined && targets.length !== 1) {
        out.rejected.push({ source, name: t, address: clip(t, 256), reason: '__name__ label is only allowed in a group with exactly one target' });
        return;
      }
      const isUrl = /^https?:\/\//i.test(t) && typeof parseHttpUrl(t) !== 'string';
      let entry: Record<string, unknown> = { name: meta.__name__ ?? t, labels };
      if (meta.__kind__ !== undefined) entry.kind = meta.__kind__;
      else if (isUrl) entry.kind = 'http';
      if (meta.__interval__ !== undefined) entry.interval = meta.__interval__;
      if (meta.__timeout__ !== undefined) entry.timeout = meta.__timeout__;
      if (entry.kind === 'http') entry.url = t;
      else entry.address = t;
      entry = inferKind(entry, defaults);
      const parsed = parseTargetEntry(entry, source, defaults);
      if (parsed.ok) out.targets.push(parsed.spec);
      else out.rejected.push({ source, name: String(entry.name), ...asWritten(entry, defaults), reason: describeProblems(parsed.problems) });
    });
  });
}

/** Name a file in messages: relative to cwd when below it, else absolute. */
export function fileLabel(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** Parse one already-read document (pure; exported for tests and for API-pushed lists). */
export function parseTargetDocument(doc: unknown, label: string, defaults: ProbeDefaults): TargetLoad {
  const out: TargetLoad = { targets: [], rejected: [] };
  if (doc === null || doc === undefined) return out; // empty file: no targets
  if (!Array.isArray(doc)) {
    out.rejected.push({ source: label, reason: 'must be a list of targets ({name, address}) or of file_sd groups ({targets, labels})' });
    return out;
  }
  if (isFileSd(doc)) fromFileSd(doc, label, defaults, out);
  else fromTargetList(doc, label, defaults, out);
  return out;
}

/** One read of a target file: its entries (each bad one rejected alone), or why the file as a whole is unusable. */
export type TargetFileRead = { ok: true; load: TargetLoad } | { ok: false; error: string };

/**
 * Read and parse one target file. Never throws. A file that cannot be read, does not
 * parse, is empty or is not a list is a failed read (the caller keeps the file's last
 * good targets); an empty file counts as failed because that is what a generator that
 * truncates and then rewrites in place leaves for a moment ("[]" means no targets).
 */
export async function readTargetFile(path: string, defaults: ProbeDefaults): Promise<TargetFileRead> {
  const label = fileLabel(path);
  let doc: unknown;
  try {
    doc = await readStructuredFile(path);
  } catch (e) {
    return { ok: false, error: `${label} ${(e as Error).message}` };
  }
  if (doc === null || doc === undefined) return { ok: false, error: `${label} is empty (write [] for a file with no targets)` };
  if (!Array.isArray(doc)) return { ok: false, error: `${label} must be a list of targets ({name, address}) or of file_sd groups ({targets, labels})` };
  return { ok: true, load: parseTargetDocument(doc, label, defaults) };
}

/** Read and parse one target file; an unusable file is one rejection, never a throw. */
export async function loadTargetFile(path: string, defaults: ProbeDefaults): Promise<TargetLoad> {
  const r = await readTargetFile(path, defaults);
  return r.ok ? r.load : { targets: [], rejected: [{ source: fileLabel(path), reason: r.error }] };
}

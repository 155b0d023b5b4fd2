/**
 * Readers for per-kind target options (a plain object that crossed the thread
 * boundary). Shared by the tcp, tcp_echo, udp and http probers, so named for what they
 * read, not for one kind (they were tcp-options.ts).
 * Missing (undefined/null) means the default; a present value of the wrong type or
 * out of range throws, so the shard rejects the target with a message instead of
 * probing it with a silently different setting.
 */

export function numberOption(options: Record<string, unknown> | undefined, key: string, def: number, min: number, max: number): number {
  const v = options?.[key];
  if (v === undefined || v === null) return def;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max) {
    throw new Error(`option ${key}: expected a number in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return n;
}

export function boolOption(options: Record<string, unknown> | undefined, key: string, def: boolean): boolean {
  const v = options?.[key];
  if (v === undefined || v === null) return def;
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new Error(`option ${key}: expected true or false, got ${JSON.stringify(v)}`);
}

export function stringOption(options: Record<string, unknown> | undefined, key: string, def: string): string {
  const v = options?.[key];
  if (v === undefined || v === null) return def;
  if (typeof v !== 'string') throw new Error(`option ${key}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}

/** One of a fixed set of string values. */
export function enumOption<T extends string>(options: Record<string, unknown> | undefined, key: string, def: T, allowed: readonly T[]): T {
  const v = stringOption(options, key, def);
  if (!(allowed as readonly string[]).includes(v)) {
    throw new Error(`option ${key}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

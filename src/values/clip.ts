/** A user-supplied string cut for a message (a 50 MB label name must not become a 50 MB log line). */
export function clip(s: string, max = 40): string {
  return s.length > max ? `${s.slice(0, max)}... (${s.length} chars)` : s;
}

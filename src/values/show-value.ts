/** A value as an error message shows it: JSON, cut to 120 characters; "(missing)" for undefined. */
export function showValue(value: unknown): string {
  if (value === undefined) return '(missing)';
  try {
    const s = JSON.stringify(value);
    return s.length > 120 ? `${s.slice(0, 117)}...` : s;
  } catch {
    // Only what JSON cannot write gets here (a BigInt, a circular structure): String() is the last resort.
    // eslint-disable-next-line @typescript-eslint/no-base-to-string
    return String(value);
  }
}

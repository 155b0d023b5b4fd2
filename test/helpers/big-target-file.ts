/** Large target files of loopback addresses (127.0.0.0/8 only), for the load tests of F3. */
import { writeFileSync } from 'node:fs';

/** The i-th address of 127.0.0.0/8 after 127.0.0.0 (127.0.0.1, ..., 127.7.161.32 for i = 499,999). */
export function loopback(i: number): string {
  const x = i + 1;
  if (x >= 1 << 24) throw new RangeError(`only ${(1 << 24) - 1} addresses in 127.0.0.0/8`);
  return `127.${(x >> 16) & 255}.${(x >> 8) & 255}.${x & 255}`;
}

/** A tcp_ping_prometheus style JSON file of n loopback entries ({name, address}). */
export function writeBigTargetFile(path: string, n: number, name = (i: number) => `t${i}`): void {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`{"name":"${name(i)}","address":"${loopback(i)}"}`);
  writeFileSync(path, `[${parts.join(',\n')}]`);
}

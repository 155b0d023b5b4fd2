/**
 * The fleet the console's browser test and benchmark use: N ICMP targets on
 * loopback (127.x.y.z, see loopback-fleet.ts), named h00000… and labelled into ten
 * racks, so the search box has names, addresses and label=value to find. Pure.
 */
import { loopbackAddress } from './loopback-fleet.js';

export interface ConsoleTarget {
  name: string;
  kind: 'icmp';
  address: string;
  labels: { rack: string };
}

export const RACKS = 10;

export function consoleTargetName(i: number): string {
  return `h${String(i).padStart(5, '0')}`;
}

/** Target i is in rack r(i mod 10). */
export function consoleFleet(n: number, skip = 1): ConsoleTarget[] {
  return Array.from({ length: n }, (_, i) => ({
    name: consoleTargetName(i),
    kind: 'icmp',
    address: loopbackAddress(i + skip),
    labels: { rack: `r${i % RACKS}` },
  }));
}

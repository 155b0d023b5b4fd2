/**
 * Placement by rendezvous (highest-random-weight) hashing.
 *
 * Every (target, shard) pair gets a pseudo-random weight; a target goes to the shard
 * with the highest weight. Removing a shard moves only that shard's targets (each to
 * its second choice), adding one takes ~1/n from each, and adding or removing targets
 * moves no other target: there is no shared table to rebalance.
 *
 * Workers and instances use different salts, so which instance owns a target says
 * nothing about which worker it lands on inside that instance (otherwise an instance
 * would fill only some of its workers). Pure and allocation-free per call.
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a over the UTF-16 code units, finished with fmix32 for avalanche. uint32. */
export function hashName(name: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return fmix32(h);
}

/** MurmurHash3's 32-bit finaliser: a bijection that spreads every input bit. uint32. */
export function fmix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

export const WORKER_SALT = 0x5bd1e995;
export const INSTANCE_SALT = 0x27d4eb2f;

/** Weight of a (name hash, shard) pair. */
function weight(nameHash: number, shard: number, salt: number): number {
  return fmix32(nameHash ^ fmix32(Math.imul(shard + 1, 0x9e3779b1) ^ salt));
}

/** Shard in [0, count) of a name hash; ties (1 in 2^32) go to the lower shard. */
export function rendezvousShard(nameHash: number, count: number, salt: number = WORKER_SALT): number {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`shard count must be a positive integer, got ${count}`);
  let best = 0;
  let bestWeight = -1;
  for (let s = 0; s < count; s++) {
    const w = weight(nameHash, s, salt);
    if (w > bestWeight) {
      bestWeight = w;
      best = s;
    }
  }
  return best;
}

/** Worker index of a target name. */
export function workerOf(name: string, workers: number): number {
  return rendezvousShard(hashName(name), workers, WORKER_SALT);
}

/** Instance index (shard.index) owning a target name. */
export function instanceOf(name: string, count: number): number {
  return rendezvousShard(hashName(name), count, INSTANCE_SALT);
}

/** True when this instance (shard.index of shard.count) probes the target. */
export function ownedByInstance(name: string, index: number, count: number): boolean {
  return count <= 1 || instanceOf(name, count) === index;
}

/** Split items over `workers` shards by name. Order inside a shard follows the input. */
export function partitionByWorker<T extends { name: string }>(items: readonly T[], workers: number): T[][] {
  const shards: T[][] = Array.from({ length: workers }, () => []);
  for (const item of items) shards[workerOf(item.name, workers)].push(item);
  return shards;
}

const SPLAY_SALT = 0x165667b1;

/**
 * Stable start phase in [0, intervalMs) (integer ms), so targets with the same interval
 * start spread over it rather than all at once, and keep their phase across restarts.
 */
export function splayPhase(name: string, intervalMs: number): number {
  if (!(intervalMs > 0)) return 0;
  const frac = fmix32(hashName(name) ^ SPLAY_SALT) / 4294967296;
  return Math.min(Math.floor(frac * intervalMs), Math.ceil(intervalMs) - 1);
}

/**
 * "Nothing probeable": the rule that keeps /readyz honest when every worker is healthy
 * but no target is actually probed. Pure.
 *
 * A probing instance is not ready while it was given targets and none of them is
 * probed: every one refused by the workers (ICMP without CAP_NET_RAW), unresolved,
 * or rejected when read (bad entries, a target file that failed with no earlier good
 * read). Its /metrics would show only zeros and errors, so a rollout must stop there.
 *
 * It is ready when it was given no target at all — an empty target list, a file
 * holding `[]`, a shard that owns none of the fleet, a mesh of one node: that is the
 * configuration asked for, it will probe what a reload or a generator adds, and
 * holding it out of service (or a rolling update of a one-node mesh) would help no
 * one. The status API shows `probing: 0` either way.
 */

export interface ProbeCounts {
  /** Targets this instance owns (valid entries after dedup and sharding). */
  configured: number;
  /** Of those: placed on a worker and not refused by it. */
  probing: number;
  /** Refused by the workers (e.g. no raw socket for ICMP). */
  refused: number;
  /** Names that do not resolve (or have not resolved yet). */
  unresolved: number;
  /** Entries rejected when read, and target files that failed to read. */
  rejected: number;
  /** Valid targets left to other instances (shard.count > 1). */
  notOwned: number;
  /** One worker's reason for refusing a target, to show with the count. */
  refusalExample?: string;
}

/** Why nothing can be probed, or null when something is probed or nothing was asked for. */
export function nothingProbeable(c: ProbeCounts): string | null {
  if (c.probing > 0) return null;
  if (c.configured === 0 && (c.rejected === 0 || c.notOwned > 0)) return null;
  const parts: string[] = [];
  if (c.refused > 0) parts.push(`${c.refused} refused by the workers${c.refusalExample ? ` (${c.refusalExample})` : ''}`);
  if (c.unresolved > 0) parts.push(`${c.unresolved} unresolved`);
  if (c.rejected > 0) parts.push(`${c.rejected} rejected when read`);
  const total = c.configured + c.rejected;
  return `no target can be probed: of ${total} configured, ${parts.length > 0 ? parts.join(', ') : 'none is placed on a worker'}`;
}

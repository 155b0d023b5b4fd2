/**
 * Target identity, decided here and nowhere else.
 *
 * Two definitions of a target are the SAME target when they have the same name, kind
 * and configured address (the url for http targets): those three make its series
 * (`target`, `kind` and `address` labels), so the same key means the same series,
 * whose counters carry on. Anything else may change under the same identity (labels,
 * interval, timeout, options, the resolved IP of a host name) without making it a new
 * target. A different key in the same name is a NEW target: the registry frees the old
 * one's slot and gives the new one another (see registry.ts), and its series start
 * from zero.
 */
import type { ProbeKind } from './model.js';

/** What identity is made of; a TargetSpec and a store SlotDefinition both fit. */
export interface TargetIdentity {
  readonly name: string;
  readonly kind: ProbeKind;
  /** Configured address; empty for http targets, whose url stands in. */
  readonly address?: string;
  readonly url?: string;
}

/** The address a target's series carry: the configured address, or the url for http. */
export function identityAddress(t: TargetIdentity): string {
  return t.address || t.url || '';
}

/**
 * The identity key, for maps and sets. Names and kinds never contain a NUL (names may
 * not hold control characters, kinds are fixed words), so joining with one is
 * unambiguous.
 */
export function targetKey(t: TargetIdentity): string {
  return `${t.kind}\u0000${t.name}\u0000${identityAddress(t)}`;
}

/**
 * targetKey(a) === targetKey(b), without building the keys: the registry compares
 * every target of a reload (500,000 of them in a large file) and the store every
 * (re)definition, where a string per comparison would be pure garbage.
 */
export function sameTarget(a: TargetIdentity, b: TargetIdentity): boolean {
  return a.name === b.name && a.kind === b.kind && identityAddress(a) === identityAddress(b);
}

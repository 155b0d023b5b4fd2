/**
 * The probe kinds: one module each (kinds/<kind>.ts), listed here once. The order is
 * part of the store's format (a slot's kind is stored as its index here) and of every
 * message that lists the kinds: append new kinds, never reorder.
 *
 * Layering: kinds/ sits below targets/ and config/ (which derive their schema and
 * checks from it) and may be imported by the workers (pure modules only).
 */
import type { ErrorReasonName } from '../protocol/events.js';
import { icmpKind, type IcmpOptions } from './icmp.js';
import { tcpKind, type TcpOptions } from './tcp.js';
import { tcpEchoKind, type TcpEchoOptions } from './tcp-echo.js';
import { udpKind, type UdpOptions } from './udp.js';
import { httpKind, type HttpOptions } from './http.js';
import type { KindModule, OptionDecl, TargetTiming } from './kind.js';

export type { IcmpOptions, TcpOptions, TcpEchoOptions, UdpOptions, HttpOptions };
export type { KindModule, OptionDecl, TargetTiming, TargetAddressing } from './kind.js';

export const KINDS = [icmpKind, tcpKind, tcpEchoKind, udpKind, httpKind] as const;

export type ProbeKind = (typeof KINDS)[number]['kind'];

/** The kind names, in KINDS order. */
export const PROBE_KINDS: readonly ProbeKind[] = KINDS.map((k) => k.kind);

/** The options a target of some kind carries, tagged with its kind. */
export type KindOptions = IcmpOptions | TcpOptions | TcpEchoOptions | UdpOptions | HttpOptions;
export type OptionsOf<K extends ProbeKind> = Extract<KindOptions, { kind: K }>;

/**
 * Reasons no kind produces: written by the main thread, whatever the kind. `resolve`: a
 * host name target has no usable address; `unknown`: a reason code outside the known
 * set (label values stay bounded).
 */
export const MAIN_THREAD_REASONS: readonly ErrorReasonName[] = ['unknown', 'resolve'];

const BY_NAME: ReadonlyMap<string, KindModule<ProbeKind, KindOptions>> = new Map(KINDS.map((k) => [k.kind, k as KindModule<ProbeKind, KindOptions>]));

export function isProbeKind(v: unknown): v is ProbeKind {
  return typeof v === 'string' && BY_NAME.has(v);
}

export function kindModule<K extends ProbeKind>(kind: K): KindModule<K, OptionsOf<K>> {
  const m = BY_NAME.get(kind);
  if (m === undefined) throw new RangeError(`unknown probe kind ${JSON.stringify(kind)}`);
  return m as unknown as KindModule<K, OptionsOf<K>>;
}

/** The kind that declares an option key, if any (for "belongs to kind X" messages). */
export function kindOfOption(key: string): ProbeKind | undefined {
  return KINDS.find((k) => Object.prototype.hasOwnProperty.call(k.options, key))?.kind;
}

/** The declared defaults of a kind's options, as written in configuration. */
export function defaultOptionValues(kind: ProbeKind): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, decl] of Object.entries<OptionDecl>(kindModule(kind).options)) out[key] = structuredClone(decl.default);
  return out;
}

/** A kind's options with nothing configured: every declared default applied (tests, tools). */
export function defaultOptions<K extends ProbeKind>(kind: K, timing: TargetTiming): OptionsOf<K> {
  return kindModule(kind).normalise(defaultOptionValues(kind), timing);
}

/**
 * The options of a target as its prober reads them, checked to be of the prober's
 * kind (the union is tagged, so after this the fields are typed). Throws when the
 * main thread shipped another kind's options, which would be a bug, not bad input.
 */
export function optionsOf<K extends ProbeKind>(options: KindOptions, kind: K): OptionsOf<K> {
  if (options.kind !== kind) throw new Error(`${kind}: target carries ${String(options.kind)} options`);
  return options as OptionsOf<K>;
}

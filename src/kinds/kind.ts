/**
 * What a probe kind declares about itself, once: the options a target of the kind
 * takes (format, default, doc), how validated option values become the options its
 * prober reads, the error reasons it can report and the metric families of its own.
 *
 * Everything else is derived from these declarations: the `probe_defaults.<kind>`
 * sections of the configuration schema and `fleetprobe help` (config/schema.ts),
 * the checks of a target's own options (targets/spec.ts, for inline targets, target
 * files, file_sd and mesh), the options shipped to the workers (already normalised:
 * durations in ms, every default applied; workers parse nothing), the error series
 * exported at 0 (metrics/per-target-series.ts) and which kinds have which metric
 * families (metrics/catalog.ts). Adding a probe option is one entry in `options`,
 * one field in the kind's options type and its line in `normalise`, plus the prober
 * code that uses it.
 *
 * Pure: no I/O, no Node APIs, so the workers may import kind modules too.
 */
import type { ErrorReasonName } from '../protocol/events.js';
import type { Format } from '../values/format.js';

/** What a target of a kind is addressed by. */
export type TargetAddressing =
  /** `address`: an IPv4/IPv6 literal or a host name. */
  | 'host'
  /** `address`: "host:port" or "[v6]:port". */
  | 'host_port'
  /** `url`: http:// or https://. */
  | 'url';

/** One option as the configuration writes it (`probe_defaults.<kind>.<key>`, and flat on a target). */
export interface OptionDecl {
  /** How the value is checked (and coerced from an environment variable or a flag). */
  format: Format;
  /** The default as written in configuration: a duration as a string, null for "unset". */
  default: unknown;
  doc: string;
  /** null is a valid value: "unset", with the behaviour the doc describes. */
  nullable?: boolean;
  /** A structured value (a mapping): no environment variable or flag. */
  noEnv?: boolean;
}

/** The timing a kind's options may depend on (a default derived from the target's timeout). */
export interface TargetTiming {
  readonly timeoutMs: number;
}

export interface KindModule<K extends string, O extends { readonly kind: K }> {
  readonly kind: K;
  readonly addressing: TargetAddressing;
  /** Option keys in snake_case, in the order `fleetprobe help` lists them. */
  readonly options: Readonly<Record<string, OptionDecl>>;
  /**
   * Validated option values as written (every declared key present: the defaults of
   * probe_defaults.<kind> overridden by the target's own) → the options its prober
   * reads, every default applied. Plain data: it crosses the thread boundary by
   * structured clone. Throws only on values the formats would have refused.
   */
  normalise(values: Readonly<Record<string, unknown>>, timing: TargetTiming): O;
  /** Every error reason a probe of this kind can end with (the `reason` label values it produces). */
  readonly reasons: readonly ErrorReasonName[];
  /**
   * Reasons whose series exist at 0 from the start for every target of the kind, so an
   * alert on `increase(...{reason="refused"}[5m]) > 0` sees the first failure (see
   * metrics/exposition.ts). Kept small: every one is a series per target.
   */
  readonly zeroReasons: readonly ErrorReasonName[];
  /** Ids of the metric families (metrics/catalog.ts) only this kind's targets have. */
  readonly families: readonly string[];
}

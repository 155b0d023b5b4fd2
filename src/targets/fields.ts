/**
 * The fields every target has, whatever its kind: their bounds and formats, declared
 * once for a target's own fields (inline, in target files, file_sd groups, mesh peers)
 * and for the `probe_defaults` keys of the configuration, which use the same formats.
 * Options of one kind are declared by the kind (src/kinds/).
 */
import { durationFormat, intFormat, type Format } from '../values/format.js';
import type { Range } from '../values/range.js';
import { TIMING_BOUNDS } from '../kinds/timing.js';

export const TARGET_BOUNDS = {
  /** Probes in the sliding loss window. */
  lossWindow: { min: 1, max: 100_000 },
  /** ICMP/UDP payload bytes. */
  payloadSize: { min: 0, max: 65_000 },
} as const satisfies Record<string, Range>;

/** Characters of a target name (also the `target` label value and the placement key). */
export const TARGET_NAME_MAX_CHARS = 256;

/**
 * Labels become series labels on every sample of a target, so their size multiplies
 * into every scrape (a 50 MB value once made one scrape 1.68 GB).
 */
export const LABEL_BOUNDS = {
  /** Bytes (UTF-8) of a label name. */
  nameBytes: 128,
  /** Bytes (UTF-8) of a label value. */
  valueBytes: 1024,
  /** User labels on one target, probe_defaults.labels included. */
  perTarget: 32,
} as const;

/** Formats of the scalar fields a target may set itself (with probe_defaults.<field> as its default). */
export const TARGET_FIELD_FORMATS = {
  interval: durationFormat(TIMING_BOUNDS.interval),
  timeout: durationFormat(TIMING_BOUNDS.timeout),
  loss_window: intFormat(TARGET_BOUNDS.lossWindow),
  payload_size: intFormat(TARGET_BOUNDS.payloadSize),
} as const satisfies Record<string, Format>;

/**
 * Per target file: did its newest read succeed, when did one last succeed, and how
 * many targets does it contribute now. A file whose read fails keeps its last good
 * targets (src/targets/sources.ts); these series are how that is seen and alerted on
 * (`fleetprobe_target_file_last_read_successful == 0`), like Prometheus' own
 * `prometheus_sd_file_read_errors_total`. Read at scrape time from the current state.
 */
import { Gauge, type Registry } from 'prom-client';

/** What the families read about one file (a TargetFileState fits). */
export interface TargetFileFacts {
  path: string;
  ok: boolean;
  lastSuccessAt: number | null;
  load: { targets: readonly unknown[] } | null;
}

export const TARGET_FILE_METRICS = [
  'fleetprobe_target_file_last_read_successful',
  'fleetprobe_target_file_last_read_success_timestamp_seconds',
  'fleetprobe_target_file_targets',
] as const;

export function registerTargetFileMetrics(registry: Registry, files: () => readonly TargetFileFacts[]): void {
  const ok: Gauge<'file'> = new Gauge({
    name: 'fleetprobe_target_file_last_read_successful',
    help: 'Whether the newest read of a target file succeeded (1) or failed (0; the file keeps its last good targets).',
    labelNames: ['file'],
    registers: [registry],
    collect: () => {
      ok.reset();
      for (const f of files()) ok.set({ file: f.path }, f.ok ? 1 : 0);
    },
  });
  const at: Gauge<'file'> = new Gauge({
    name: 'fleetprobe_target_file_last_read_success_timestamp_seconds',
    help: 'Unix time of the newest successful read of a target file (0 if it never read well).',
    labelNames: ['file'],
    registers: [registry],
    collect: () => {
      at.reset();
      for (const f of files()) at.set({ file: f.path }, f.lastSuccessAt === null ? 0 : f.lastSuccessAt / 1000);
    },
  });
  const targets: Gauge<'file'> = new Gauge({
    name: 'fleetprobe_target_file_targets',
    help: 'Valid targets a target file contributes now (from its last good read while reads fail), before deduplication and sharding.',
    labelNames: ['file'],
    registers: [registry],
    collect: () => {
      targets.reset();
      for (const f of files()) targets.set({ file: f.path }, f.load?.targets.length ?? 0);
    },
  });
}

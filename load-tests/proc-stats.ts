/**
 * Process accounting from /proc (Linux): CPU time of a whole process (every
 * thread: /proc/PID/stat of the thread-group leader sums its threads, so the
 * exporter's worker threads are included) and its peak resident set (VmHWM).
 * Parsers are pure; readers do the file I/O.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** utime and stime in clock ticks from the text of /proc/PID/stat. */
export function parseProcStat(text: string): { utimeTicks: number; stimeTicks: number } {
  // comm (field 2) may hold spaces and parentheses: fields are counted after the LAST ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) throw new SyntaxError('not a /proc/PID/stat line');
  const fields = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const utimeTicks = Number(fields[14 - 3]);
  const stimeTicks = Number(fields[15 - 3]);
  if (!Number.isFinite(utimeTicks) || !Number.isFinite(stimeTicks)) throw new SyntaxError('utime/stime missing');
  return { utimeTicks, stimeTicks };
}

/** A "Key:   123 kB" line of /proc/PID/status, in bytes; NaN when absent. */
export function parseStatusKb(text: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
  return m ? Number(m[1]) * 1024 : NaN;
}

let ticksPerSecond = 0;
/** sysconf(_SC_CLK_TCK): 100 on every mainstream Linux, asked once to be sure. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond > 0) return ticksPerSecond;
  try {
    ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim()) || 100;
  } catch {
    ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

/** User+system CPU seconds consumed so far by process `pid` (all its threads). */
export function cpuSeconds(pid: number): number {
  const { utimeTicks, stimeTicks } = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return (utimeTicks + stimeTicks) / clockTicksPerSecond();
}

/** Peak resident set size (VmHWM) of `pid` in bytes. */
export function peakRssBytes(pid: number): number {
  return parseStatusKb(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmHWM');
}

/** 1-minute load average from /proc/loadavg. */
export function loadAverage1m(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return NaN;
  }
}

/** "AMD EPYC" etc. from /proc/cpuinfo. */
export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? m[1].trim() : 'unknown';
  } catch {
    return 'unknown';
  }
}

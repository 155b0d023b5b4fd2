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

/** The kernel's UDP counters that say a datagram was dropped on this host (all sockets of the namespace). */
export interface UdpDropCounters {
  /** Datagrams dropped because a receiving socket's buffer was full. */
  rcvbufErrors: number;
  /** Datagrams not sent because a sending socket's buffer was full. */
  sndbufErrors: number;
  /** Datagrams received that could not be delivered (buffer full, bad checksum, …; includes rcvbufErrors). */
  inErrors: number;
}

/** The Udp: lines of /proc/net/snmp (a header line of names, then one of values); null when absent. */
export function parseUdpSnmp(text: string): UdpDropCounters | null {
  const lines = text.split('\n').filter((l) => l.startsWith('Udp:'));
  if (lines.length < 2) return null;
  const names = lines[0].trim().split(/\s+/).slice(1);
  const values = lines[1].trim().split(/\s+/).slice(1).map(Number);
  const get = (name: string): number => {
    const i = names.indexOf(name);
    return i >= 0 && Number.isFinite(values[i]) ? values[i] : NaN;
  };
  const c = { rcvbufErrors: get('RcvbufErrors'), sndbufErrors: get('SndbufErrors'), inErrors: get('InErrors') };
  return Number.isNaN(c.rcvbufErrors + c.sndbufErrors + c.inErrors) ? null : c;
}

/** This network namespace's UDP drop counters now (IPv4 sockets); null off Linux. */
export function udpDropCounters(): UdpDropCounters | null {
  try {
    return parseUdpSnmp(readFileSync('/proc/net/snmp', 'utf8'));
  } catch {
    return null;
  }
}

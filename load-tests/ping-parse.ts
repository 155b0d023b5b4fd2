/** Parsers for the output of iputils `ping` and `fping` (pure). */

/** Per-reply RTTs in microseconds from `ping` output lines "... time=0.045 ms". */
export function parsePingTimes(text: string): number[] {
  const out: number[] = [];
  const re = /\btime[=<]([\d.]+) ms\b/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) out.push(Number(m[1]) * 1000);
  return out;
}

/** Totals of fping's exit summary lines "ADDR : xmt/rcv/%loss = 30/30/0%, min/avg/max = ...". */
export function parseFpingSummary(text: string): { targets: number; sent: number; received: number } {
  let targets = 0;
  let sent = 0;
  let received = 0;
  const re = /^\S+\s+:\s+xmt\/rcv\/%loss = (\d+)\/(\d+)\//gm;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    targets++;
    sent += Number(m[1]);
    received += Number(m[2]);
  }
  return { targets, sent, received };
}

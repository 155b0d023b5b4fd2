/** Debian's promtool, for tests that check an exposition the way Prometheus' own linter does. */
import { spawn, spawnSync } from 'node:child_process';

export const hasPromtool = spawnSync('promtool', ['--version']).status === 0;

/** `promtool check metrics` over `body` on stdin: its exit code and everything it printed. */
export function promtoolCheckMetrics(body: string | Buffer): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
    p.stdin.end(body);
  });
}

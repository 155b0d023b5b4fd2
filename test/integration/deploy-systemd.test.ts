/**
 * deploy/systemd: the unit passes `systemd-analyze verify` with no complaint about it
 * (a misspelled or invalid directive is only a warning to systemd, so warnings fail the
 * test too), keeps every hardening directive the README promises, scores well in
 * `systemd-analyze security`, and its sysusers.d file creates the user. Each check is
 * shown to fail on a broken copy. Needs Debian's systemd package (systemd-analyze,
 * systemd-sysusers); no running systemd.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/exporter-process.js';
import { analyzeUnit, unitDirectives, verifiableCopy } from '../helpers/systemd-unit.js';

const UNIT = readFileSync(join(REPO_ROOT, 'deploy', 'systemd', 'fleetprobe.service'), 'utf8');
const SYSUSERS = join(REPO_ROOT, 'deploy', 'systemd', 'fleetprobe.sysusers.conf');
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const SKIP = has('systemd-analyze') && has('systemd-sysusers') ? false : 'needs systemd-analyze and systemd-sysusers (Debian package systemd)';

/** The directives the unit must have (value, or a check of its values). */
const REQUIRED: Record<string, string | ((v: string[]) => boolean)> = {
  'Service.User': 'fleetprobe',
  'Service.AmbientCapabilities': 'CAP_NET_RAW',
  'Service.CapabilityBoundingSet': 'CAP_NET_RAW',
  'Service.NoNewPrivileges': 'yes',
  'Service.ProtectSystem': 'strict',
  'Service.ProtectHome': 'yes',
  'Service.PrivateTmp': 'yes',
  'Service.PrivateDevices': 'yes',
  'Service.ProtectKernelTunables': 'yes',
  'Service.ProtectKernelModules': 'yes',
  'Service.ProtectKernelLogs': 'yes',
  'Service.ProtectControlGroups': 'yes',
  'Service.RestrictAddressFamilies': 'AF_INET AF_INET6 AF_UNIX AF_NETLINK',
  'Service.RestrictNamespaces': 'yes',
  'Service.LockPersonality': 'yes',
  'Service.SystemCallFilter': (v) => v[0] === '@system-service',
  'Service.ExecReload': '/bin/kill -HUP $MAINPID',
  'Service.Restart': 'on-failure',
  'Service.RestartPreventExitStatus': '2',
  'Service.LimitNOFILE': (v) => Number(v[0]) >= 65536,
  'Service.StateDirectory': 'fleetprobe',
  'Service.ConfigurationDirectory': 'fleetprobe',
  'Service.ExecStart': (v) => /\bfleetprobe\.js run --config \/etc\/fleetprobe\/fleetprobe\.yaml$/.test(v[0]),
};
/** Directives that must NOT be set (see the comments in the unit). */
const FORBIDDEN = ['Service.MemoryDenyWriteExecute', 'Service.PrivateUsers', 'Service.DynamicUser'];

function directiveProblems(text: string): string[] {
  const d = unitDirectives(text);
  const problems: string[] = [];
  for (const [key, want] of Object.entries(REQUIRED)) {
    const v = d.get(key);
    if (!v) problems.push(`${key} missing`);
    else if (typeof want === 'string' ? v[v.length - 1] !== want : !want(v)) problems.push(`${key}=${v.join(' | ')}`);
  }
  for (const key of FORBIDDEN) if (d.has(key)) problems.push(`${key} must not be set`);
  return problems;
}

test('the unit has every hardening directive and none that breaks node', () => {
  assert.deepEqual(directiveProblems(UNIT), []);
  const weakened =
    UNIT.replace(/^ProtectSystem=strict$/m, 'ProtectSystem=full').replace(/^NoNewPrivileges=yes\n/m, '') + '\n[Service]\nMemoryDenyWriteExecute=yes\n';
  assert.deepEqual(directiveProblems(weakened), [
    'Service.NoNewPrivileges missing',
    'Service.ProtectSystem=full',
    'Service.MemoryDenyWriteExecute must not be set',
  ]);
});

test('systemd-analyze verify accepts the unit without a warning, and rejects a broken copy', { skip: SKIP }, () => {
  const ok = analyzeUnit(['verify', '--man=no', '--generators=no'], verifiableCopy(UNIT));
  assert.deepEqual(ok.problems, []);
  assert.equal(ok.status, 0);

  const broken = verifiableCopy(UNIT)
    .replace(/^ProtectSystem=strict$/m, 'ProtectSystem=bogus')
    .replace(/^NoNewPrivileges=yes$/m, 'NoNewPrivilege=yes')
    .replace(/^StateDirectory=fleetprobe$/m, 'StateDirectory=../fleetprobe');
  const bad = analyzeUnit(['verify', '--man=no', '--generators=no'], broken);
  const text = bad.problems.join('\n');
  assert.match(text, /Failed to parse protect system value.*bogus/);
  assert.match(text, /Unknown key .*NoNewPrivilege/);
  assert.match(text, /StateDirectory= path is not normalized/);
  const missingBinary = analyzeUnit(['verify', '--man=no', '--generators=no'], UNIT.replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/node'));
  assert.notEqual(missingBinary.status, 0);
  assert.match(missingBinary.problems.join('\n'), /is not executable/);
});

test('systemd-analyze security rates the unit below exposure 2.0, and a bare unit far above', { skip: SKIP }, () => {
  const r = analyzeUnit(['security', '--offline=yes', '--threshold=20', '--no-pager'], verifiableCopy(UNIT));
  const m = /Overall exposure level for fleetprobe\.service: (\d+\.\d+)/.exec(r.stdout);
  assert.ok(m, r.stdout.slice(-500));
  assert.ok(Number(m[1]) < 2.0, `exposure ${m[1]}`);
  assert.equal(r.status, 0);
  const bare = '[Service]\nUser=fleetprobe\nExecStart=' + process.execPath + ' /opt/fleetprobe/bin/fleetprobe.js run\n';
  const b = analyzeUnit(['security', '--offline=yes', '--threshold=20', '--no-pager'], bare);
  assert.notEqual(b.status, 0, 'the threshold fails an unhardened unit');
});

test('the sysusers.d file creates the fleetprobe system user', { skip: SKIP }, () => {
  const root = mkdtempSync(join(tmpdir(), 'fp-sysusers-'));
  try {
    mkdirSync(join(root, 'etc'));
    const r = spawnSync('systemd-sysusers', ['--dry-run', `--root=${root}`, SYSUSERS], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /Creating user '?fleetprobe'? .*with UID \d+/);
    const unitUser = unitDirectives(UNIT).get('Service.User')?.[0];
    assert.match(readFileSync(SYSUSERS, 'utf8'), new RegExp(`^u ${unitUser} `, 'm'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/**
 * What the deployment files promise about privileges, run for real: fleetprobe itself,
 * as a non-root uid with the credentials each deployment gives it, probing ICMP over a
 * raw socket on loopback. setpriv(1) sets up what systemd or the container runtime set
 * up before exec; the capability sets are read from the shipped files, not restated:
 *
 *  - systemd (deploy/systemd/fleetprobe.service): AmbientCapabilities,
 *    CapabilityBoundingSet and NoNewPrivileges of the unit; the plain node binary.
 *  - Kubernetes / a container (deploy/kubernetes, deploy/container/Containerfile): the
 *    pod's runAsUser, a bounding set of exactly capabilities.add, no_new_privs from
 *    allowPrivilegeEscalation: false, and the image's node copy with the file
 *    capability the Containerfile setcaps. The runtime (containerd, CRI-O, Docker >= 24)
 *    also puts the added capabilities in the permitted set before exec; setpriv keeps
 *    root's, a superset, which gives the same result at exec (file capabilities are
 *    clamped by the bounding set, and no_new_privs only forbids gaining beyond the old
 *    permitted set).
 *  - The same container without the file capability: ICMP is refused with the reason,
 *    and every other kind keeps running (why the image needs node-fleetprobe).
 *
 * Needs root (setpriv, setcap: Debian util-linux and libcap2-bin).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ExporterProcess, isRoot, REPO_ROOT, tempDir, waitFor } from '../helpers/exporter-process.js';
import { freePort } from '../helpers/free-port.js';
import { createSocket } from 'node:dgram';
import { unitDirectives } from '../helpers/systemd-unit.js';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const SKIP = !isRoot
  ? 'needs root: setpriv to a non-root uid, setcap'
  : !has('setpriv') || !has('setcap')
    ? 'needs setpriv (util-linux) and setcap (libcap2-bin)'
    : false;

/** "CAP_NET_RAW" / "NET_RAW" -> "net_raw" (setpriv's spelling). */
const capName = (c: string) => c.toLowerCase().replace(/^cap_/, '');
const capList = (caps: readonly string[]) => ['-all', ...caps.map((c) => `+${capName(c)}`)].join(',');

interface Credentials {
  uid: number;
  ambient: string[];
  bounding: string[];
  noNewPrivs: boolean;
}

function setprivRunner(c: Credentials, node: string): string[] {
  return [
    'setpriv',
    `--reuid=${c.uid}`,
    `--regid=${c.uid}`,
    '--clear-groups',
    `--inh-caps=${capList(c.ambient)}`,
    `--ambient-caps=${capList(c.ambient)}`,
    `--bounding-set=${capList(c.bounding)}`,
    ...(c.noNewPrivs ? ['--no-new-privs'] : []),
    node,
  ];
}

function systemdCredentials(): Credentials {
  const d = unitDirectives(readFileSync(join(REPO_ROOT, 'deploy', 'systemd', 'fleetprobe.service'), 'utf8'));
  const one = (k: string) => (d.get(`Service.${k}`) ?? []).join(' ').split(/\s+/).filter(Boolean);
  return { uid: 10001, ambient: one('AmbientCapabilities'), bounding: one('CapabilityBoundingSet'), noNewPrivs: one('NoNewPrivileges')[0] === 'yes' };
}

function podCredentials(): Credentials {
  const text = readFileSync(join(REPO_ROOT, 'deploy', 'kubernetes', 'mesh-daemonset.yaml'), 'utf8');
  const ds = parseAllDocuments(text)
    .map((x) => x.toJS())
    .find((o) => o?.kind === 'DaemonSet');
  const pod = ds.spec.template.spec;
  const sc = pod.containers[0].securityContext;
  assert.deepEqual(sc.capabilities.drop, ['ALL']);
  return { uid: sc.runAsUser ?? pod.securityContext.runAsUser, ambient: [], bounding: sc.capabilities.add, noNewPrivs: sc.allowPrivilegeEscalation === false };
}

/** The file capability the Containerfile gives its node copy ("cap_net_raw+ep"). */
function containerFileCapability(): string {
  const m = /setcap (\S+) \/usr\/local\/bin\/node-fleetprobe/.exec(readFileSync(join(REPO_ROOT, 'deploy', 'container', 'Containerfile'), 'utf8'));
  assert.ok(m, 'the Containerfile setcaps node-fleetprobe');
  return m[1];
}

interface Outcome {
  icmp: { state: string; error?: string; received: number };
  udpReceived: number;
  /** Real uid and effective capability mask of the running exporter (from /proc). */
  uid: number;
  capEff: bigint;
}

const CAP_NET_RAW_BIT = 1n << 13n;

function credentialsOf(pid: number): { uid: number; capEff: bigint } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
  const capEff = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)/m.exec(status)![1]}`);
  return { uid, capEff };
}

async function runAs(runner: string[], dir: ReturnType<typeof tempDir>, udpPort: number, t: { after(fn: () => unknown): void }): Promise<Outcome> {
  const web = await freePort();
  const cfg = dir.file(`run-${web}.yaml`, {
    workers: 1,
    flush_interval: '100ms',
    web: { listen_address: `127.0.0.1:${web}` },
    probe_defaults: { interval: '100ms', timeout: '500ms' },
    targets: [
      { name: 'icmp-lo', address: '127.0.0.1' },
      { name: 'udp-lo', kind: 'udp', address: `127.0.0.1:${udpPort}` },
    ],
  });
  const proc = new ExporterProcess(['run', '--config', cfg], `127.0.0.1:${web}`, { runner });
  t.after(async () => void (await proc.stop()));
  await proc.waitReady(20_000);
  const udpReceived = await waitFor(
    'udp answers',
    async () => {
      const n = (await proc.scrape()).value('fleetprobe_probe_received_total', { target: 'udp-lo' }) ?? 0;
      return n > 0 ? n : undefined;
    },
    10_000,
  );
  // ICMP either probes (answers arrive) or is rejected with a reason.
  const icmp = await waitFor(
    'icmp to be probed or rejected',
    async () => {
      const targets = (JSON.parse((await proc.request('/api/v1/targets')).text()) as { targets: Array<{ name: string; state: string; error?: string }> })
        .targets;
      const t0 = targets.find((x) => x.name === 'icmp-lo')!;
      const received = (await proc.scrape()).value('fleetprobe_probe_received_total', { target: 'icmp-lo' }) ?? 0;
      if (t0.state === 'rejected' || received > 0) return { state: t0.state, error: t0.error, received };
      return undefined;
    },
    10_000,
  );
  // setpriv execs node in place: the child's pid is the exporter's.
  const creds = credentialsOf(proc.child.pid!);
  const stopped = await proc.stop();
  assert.equal(stopped.code, 0, proc.tail());
  return { icmp, udpReceived, ...creds };
}

test('fleetprobe as a non-root uid probes ICMP with exactly the privileges each deployment file gives it', { skip: SKIP, timeout: 120_000 }, async (t) => {
  const dir = tempDir('fp-caps', { forOtherUsers: true }); // the unprivileged uid reads the config from here
  t.after(() => dir.cleanup());
  // An unprivileged peer for the kind that needs no capability: a plain UDP echo.
  const echo = createSocket('udp4');
  echo.on('message', (msg, from) => echo.send(msg, from.port, from.address));
  await new Promise<void>((resolve) => echo.bind(0, '127.0.0.1', resolve));
  t.after(() => echo.close());
  const udpPort = echo.address().port;

  const bin = tempDir('fp-node', { forOtherUsers: true }).path; // it runs these binaries
  t.after(() => rmSync(bin, { recursive: true, force: true }));
  const plainNode = join(bin, 'node');
  const capNode = join(bin, 'node-fleetprobe');
  copyFileSync(process.execPath, plainNode);
  copyFileSync(process.execPath, capNode);
  chmodSync(plainNode, 0o755);
  chmodSync(capNode, 0o755);
  const setcap = spawnSync('setcap', [containerFileCapability(), capNode], { encoding: 'utf8' });
  assert.equal(setcap.status, 0, setcap.stderr);

  const unit = systemdCredentials();
  assert.deepEqual([unit.ambient, unit.bounding, unit.noNewPrivs], [['CAP_NET_RAW'], ['CAP_NET_RAW'], true]);
  const viaSystemd = await runAs(setprivRunner(unit, plainNode), dir, udpPort, t);
  assert.equal(
    viaSystemd.icmp.state,
    'ok',
    JSON.stringify(viaSystemd, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v)),
  );
  assert.deepEqual([viaSystemd.uid, viaSystemd.capEff], [10001, CAP_NET_RAW_BIT], 'uid 10001 holding CAP_NET_RAW and nothing else');
  assert.ok(viaSystemd.icmp.received > 0);

  const pod = podCredentials();
  assert.deepEqual([pod.uid, pod.bounding, pod.noNewPrivs], [10001, ['NET_RAW'], true]);
  const inPod = await runAs(setprivRunner(pod, capNode), dir, udpPort, t);
  assert.equal(
    inPod.icmp.state,
    'ok',
    JSON.stringify(inPod, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v)),
  );
  assert.deepEqual([inPod.uid, inPod.capEff], [10001, CAP_NET_RAW_BIT]);
  assert.ok(inPod.icmp.received > 0);

  // The same pod with the plain node: no capability survives the exec of a non-root user.
  const noFileCap = await runAs(setprivRunner(pod, plainNode), dir, udpPort, t);
  assert.equal(
    noFileCap.icmp.state,
    'rejected',
    JSON.stringify(noFileCap, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v)),
  );
  assert.deepEqual([noFileCap.uid, noFileCap.capEff], [10001, 0n]);
  assert.match(noFileCap.icmp.error ?? '', /EPERM|not permitted|CAP_NET_RAW/i);
  assert.ok(noFileCap.udpReceived > 0, 'the other kinds keep running');
});

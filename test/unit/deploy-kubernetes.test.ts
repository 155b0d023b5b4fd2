/**
 * deploy/kubernetes: every document is a valid Kubernetes object (kubernetes-models:
 * OpenAPI schema + unknown fields), the pods follow the security rules, and what the
 * pods would run — args, environment from the downward API, the ConfigMap mounted at
 * /etc/fleetprobe — passes fleetprobe's own configuration validator, so the shipped
 * manifests cannot rot as the configuration changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { fieldProblems, loadManifests, schemaProblems, type K8sObject } from '../helpers/kubernetes.js';
import { REPO_ROOT, tempDir } from '../helpers/exporter-process.js';
import { loadConfig } from '../../src/config/load.js';
import { loadTargets } from '../../src/targets/sources.js';
import { parseHostPort } from '../../src/targets/address.js';
import type { Config } from '../../src/config/types.js';

const PKG = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
const docs = loadManifests();
const objects = docs.map((d) => d.object);
const find = (kind: string, name: string): K8sObject => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} is shipped`);
  return o;
};
const workloads = () => objects.filter((o) => o.kind === 'DaemonSet' || o.kind === 'StatefulSet');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

test('every document is a valid Kubernetes object, without unknown fields', async () => {
  assert.deepEqual([...new Set(objects.map((o) => o.kind))].sort(), ['ConfigMap', 'DaemonSet', 'Namespace', 'PodMonitor', 'Service', 'StatefulSet']);
  const problems = (await Promise.all(docs.map(schemaProblems))).flat();
  assert.deepEqual(problems, []);
  assert.deepEqual(fieldProblems(docs), []);
});

test('the validators reject a broken object: a wrong type, a misspelled field, a missing required field, an unknown kind', async () => {
  const ds = structuredClone(find('DaemonSet', 'fleetprobe-mesh'));
  ds.spec.template.spec.containers[0].ports[0].containerPort = 'web';
  const wrongType = await schemaProblems({ file: 'broken.yaml', index: 0, object: ds });
  assert.equal(wrongType.length, 1);
  assert.match(wrongType[0], /containers\/0\/ports\/0\/containerPort must be integer/);

  const typo = structuredClone(find('DaemonSet', 'fleetprobe-mesh'));
  const c = typo.spec.template.spec.containers[0];
  c.securityContex = c.securityContext; // the typo drops every security setting
  delete c.securityContext;
  assert.deepEqual(await schemaProblems({ file: 'broken.yaml', index: 1, object: typo }), [], 'the OpenAPI schema alone lets a typo through');
  const fields = fieldProblems([{ file: 'broken.yaml', index: 1, object: typo }]);
  assert.equal(fields.length, 1, fields.join('\n'));
  assert.match(fields[0], /broken\.yaml#1 DaemonSet\/fleetprobe-mesh: .*'"?securityContex"?' does not exist/);

  const noName = structuredClone(find('StatefulSet', 'fleetprobe-shard'));
  delete noName.spec.template.spec.containers[0].name;
  assert.match((await schemaProblems({ file: 'broken.yaml', index: 2, object: noName })).join(), /containers\/0 must have required property name/);

  const pm = structuredClone(find('PodMonitor', 'fleetprobe'));
  pm.spec.podMetricsEndpoints[0].interval = 30;
  assert.match((await schemaProblems({ file: 'broken.yaml', index: 3, object: pm })).join(), /interval must be string/);
  assert.match((await schemaProblems({ file: 'broken.yaml', index: 4, object: { ...pm, kind: 'PodMonitr' } })).join(), /no model/);
});

/** Every rule the pods must follow; [] when they all hold. */
function podSecurityProblems(w: K8sObject): string[] {
  const p: string[] = [];
  const pod: Any = w.spec.template.spec;
  const where = `${w.kind}/${w.metadata.name}`;
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) p.push(`${where}: shares a host namespace`);
  if (pod.automountServiceAccountToken !== false) p.push(`${where}: mounts a service account token it does not need`);
  if (pod.securityContext?.seccompProfile?.type !== 'RuntimeDefault') p.push(`${where}: pod seccompProfile is not RuntimeDefault`);
  if (pod.securityContext?.runAsNonRoot !== true) p.push(`${where}: pod runAsNonRoot is not true`);
  if (!(pod.securityContext?.runAsUser > 0)) p.push(`${where}: pod runAsUser is not a non-root uid`);
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    const sc: Any = c.securityContext ?? {};
    const at = `${where} container ${c.name}`;
    if (sc.runAsNonRoot !== true) p.push(`${at}: runAsNonRoot is not true`);
    if (sc.allowPrivilegeEscalation !== false) p.push(`${at}: allowPrivilegeEscalation is not false`);
    if (sc.privileged === true) p.push(`${at}: privileged`);
    if (sc.readOnlyRootFilesystem !== true) p.push(`${at}: readOnlyRootFilesystem is not true`);
    if (JSON.stringify(sc.capabilities?.drop) !== '["ALL"]') p.push(`${at}: capabilities.drop is not [ALL]`);
    if (JSON.stringify(sc.capabilities?.add ?? []) !== '["NET_RAW"]') p.push(`${at}: capabilities.add is not exactly [NET_RAW]`);
    if (sc.seccompProfile?.type !== 'RuntimeDefault') p.push(`${at}: seccompProfile is not RuntimeDefault`);
    if (c.image !== `fleetprobe:${PKG.version}`) p.push(`${at}: image ${c.image} is not fleetprobe:${PKG.version} (package.json)`);
    if (c.livenessProbe?.httpGet?.path !== '/healthz') p.push(`${at}: no liveness probe on /healthz`);
    if (c.readinessProbe?.httpGet?.path !== '/readyz') p.push(`${at}: no readiness probe on /readyz`);
    const probePorts = [c.livenessProbe?.httpGet?.port, c.readinessProbe?.httpGet?.port];
    if (!probePorts.every((port) => c.ports?.some((x: Any) => x.name === port))) p.push(`${at}: a probe names a port the container does not have`);
    for (const r of ['requests', 'limits']) {
      if (!c.resources?.[r]?.cpu || !c.resources?.[r]?.memory) p.push(`${at}: resources.${r} lacks cpu or memory`);
    }
  }
  return p;
}

test('the pods run as non-root with only NET_RAW, read-only, seccomp RuntimeDefault, probed and bounded', () => {
  assert.equal(workloads().length, 2);
  for (const w of workloads()) assert.deepEqual(podSecurityProblems(w), []);
});

test('the security rules catch a weakened pod', () => {
  const w = structuredClone(find('DaemonSet', 'fleetprobe-mesh'));
  const c = w.spec.template.spec.containers[0];
  c.securityContext.allowPrivilegeEscalation = true;
  c.securityContext.capabilities = { add: ['NET_RAW', 'NET_ADMIN'] };
  delete c.readinessProbe;
  w.spec.template.spec.hostNetwork = true;
  assert.deepEqual(podSecurityProblems(w), [
    'DaemonSet/fleetprobe-mesh: shares a host namespace',
    'DaemonSet/fleetprobe-mesh container fleetprobe: allowPrivilegeEscalation is not false',
    'DaemonSet/fleetprobe-mesh container fleetprobe: capabilities.drop is not [ALL]',
    'DaemonSet/fleetprobe-mesh container fleetprobe: capabilities.add is not exactly [NET_RAW]',
    'DaemonSet/fleetprobe-mesh container fleetprobe: no readiness probe on /readyz',
    'DaemonSet/fleetprobe-mesh container fleetprobe: a probe names a port the container does not have',
  ]);
});

/** Sample values of the downward API fields the pods use (strings only: nothing is contacted). */
function fieldValue(path: string, podIndex: number): string {
  if (path === 'status.podIP') return '127.0.0.10';
  if (path === "metadata.labels['apps.kubernetes.io/pod-index']") return String(podIndex);
  throw new Error(`no sample value for the downward API field ${path}`);
}

/**
 * The configuration a workload's pod would load: the ConfigMap mounted at /etc/fleetprobe
 * written to a temporary directory, the container's args with that path rewritten, and
 * its environment (downward API fields replaced by sample values).
 */
function podConfig(w: K8sObject, dir: string, podIndex = 0): Config {
  const pod: Any = w.spec.template.spec;
  const c = pod.containers[0];
  const mount = c.volumeMounts.find((m: Any) => m.mountPath === '/etc/fleetprobe');
  assert.ok(mount, `${w.metadata.name}: config mounted at /etc/fleetprobe`);
  const volume = pod.volumes.find((v: Any) => v.name === mount.name);
  const cm = find('ConfigMap', volume.configMap.name);
  assert.equal(cm.metadata.namespace, w.metadata.namespace);
  for (const [name, content] of Object.entries(cm.data ?? {})) tempDirFile(dir, name, content);
  assert.equal(c.args[0], 'run');
  const argv = (c.args as string[]).slice(1).map((a) => a.replace(/^\/etc\/fleetprobe\//, `${dir}/`));
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) env[e.name] = e.value ?? fieldValue(e.valueFrom.fieldRef.fieldPath, podIndex);
  return loadConfig({ argv, env });
}
const dirs: Array<ReturnType<typeof tempDir>> = [];
function tempDirFile(dir: string, name: string, content: string): void {
  const d = dirs.find((x) => x.path === dir)!;
  d.file(name, content);
}
function newDir(): string {
  const d = tempDir('fp-k8s');
  dirs.push(d);
  return d.path;
}
test.after(() => dirs.forEach((d) => d.cleanup()));

const portOf = (listen: string | null): number => {
  const hp = parseHostPort(listen, { allowEmptyHost: true });
  assert.ok(typeof hp !== 'string', String(listen));
  return hp.port;
};
const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

test('mesh DaemonSet: peers from the headless Service DNS name, named by pod IP, ports in agreement with the config', () => {
  const ds = find('DaemonSet', 'fleetprobe-mesh');
  const pod: Any = ds.spec.template;
  const config = podConfig(ds, newDir());
  const svc = objects.find((o) => o.kind === 'Service' && selects(o.spec.selector, pod.metadata.labels) && o.metadata.name.includes('mesh'))!;
  assert.equal(svc.spec.clusterIP, 'None', 'headless: one A record per pod');
  assert.equal(svc.spec.publishNotReadyAddresses, true);
  assert.equal(config.mesh.peersDns, `${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local`);
  assert.equal(config.mesh.name, '127.0.0.10', 'mesh.name is the pod IP: DNS peers are named by address');
  assert.deepEqual(config.mesh.kinds, ['icmp', 'tcp_echo', 'udp', 'http']);
  assert.equal(config.dns.prefer, 'ipv4');
  const ports = pod.spec.containers[0].ports as Array<{ name: string; containerPort: number; protocol: string }>;
  const port = (name: string) => ports.find((p) => p.name === name)?.containerPort;
  assert.equal(port('web'), portOf(config.web.listenAddress));
  assert.equal(port('tcp-echo'), portOf(config.responder.tcpEcho));
  assert.equal(port('udp-echo'), portOf(config.responder.udpEcho));
  assert.equal(ports.find((p) => p.name === 'udp-echo')?.protocol, 'UDP');
  assert.equal(port('http-ping'), portOf(config.responder.http));
  for (const sp of svc.spec.ports) {
    const target = ports.find((p) => p.name === sp.targetPort);
    assert.ok(target && target.containerPort === sp.port && target.protocol === sp.protocol, `service port ${sp.name}`);
  }
  // A pod of every node, tainted ones too.
  assert.ok(pod.spec.tolerations.some((t: Any) => t.operator === 'Exists' && !t.key));
});

test('sharded StatefulSet: shard.index from the pod-index label, shard.count = replicas, every target owned by exactly one pod', async () => {
  const sts = find('StatefulSet', 'fleetprobe-shard');
  const env = sts.spec.template.spec.containers[0].env as Array<Any>;
  assert.equal(env.find((e) => e.name === 'FLEETPROBE_SHARD_INDEX')?.valueFrom?.fieldRef?.fieldPath, "metadata.labels['apps.kubernetes.io/pod-index']");
  const svc = find('Service', sts.spec.serviceName);
  assert.ok(selects(svc.spec.selector, sts.spec.template.metadata.labels), 'the governing Service selects the pods');
  const replicas = sts.spec.replicas as number;
  assert.ok(replicas >= 2);

  const owners = new Map<string, number[]>();
  let all: string[] = [];
  for (let i = 0; i < replicas; i++) {
    const config = podConfig(sts, newDir(), i);
    assert.deepEqual(config.shard, { index: i, count: replicas });
    const set = await loadTargets(config);
    assert.deepEqual(set.rejected, []);
    for (const t of set.targets) owners.set(t.name, [...(owners.get(t.name) ?? []), i]);
    const unsharded = await loadTargets({ ...config, shard: { index: 0, count: 1 } });
    all = unsharded.targets.map((t) => t.name);
    // Network safety: the shipped example probes nothing but loopback.
    for (const t of unsharded.targets) assert.ok(t.address.startsWith('127.') || t.address === '::1', `${t.name} ${t.address} is loopback`);
    assert.ok(unsharded.targets.every((t) => isIP(t.address) !== 0));
  }
  assert.equal(all.length, 12);
  assert.deepEqual([...owners.keys()].sort(), [...all].sort(), 'every target is probed');
  assert.ok(
    [...owners.values()].every((o) => o.length === 1),
    'by exactly one pod',
  );
  assert.ok(new Set([...owners.values()].flat()).size > 1, 'the work is split');
});

test('the PodMonitor scrapes the web port of both workloads; every object lives in the shipped namespace', () => {
  const pm = find('PodMonitor', 'fleetprobe');
  const ns = find('Namespace', 'fleetprobe');
  for (const w of workloads()) {
    assert.ok(selects(pm.spec.selector.matchLabels, w.spec.template.metadata.labels), `${w.metadata.name} is scraped`);
    const ep = pm.spec.podMetricsEndpoints[0];
    assert.ok(w.spec.template.spec.containers[0].ports.some((p: Any) => p.name === ep.port));
    assert.equal(ep.path, '/metrics');
  }
  for (const o of objects) if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, ns.metadata.name, `${o.kind}/${o.metadata.name}`);
  assert.equal(ns.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'baseline');
});

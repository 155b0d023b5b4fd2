/**
 * deploy/container/Containerfile, checked statically (no container engine here):
 * parsed with dockerfile-ast and linted with dockerfile-utils (the parser and
 * validator behind the VS Code Docker language server; hadolint is not packaged for
 * Debian, and its npm wrappers download a binary, which cannot work here), then the
 * image rules asserted: multi-stage, pinned bases that satisfy package.json's engines,
 * numeric non-root USER, no ADD, every COPY source in the repository and let through by
 * the ignore file, HEALTHCHECK on /healthz, the web port EXPOSEd, OCI labels that agree
 * with package.json, the entrypoint's node copy given cap_net_raw+ep, set-uid bits
 * stripped, and the baked configuration valid and loopback only.
 * What the capability recipe does at run time is tested for real in
 * test/integration/deploy-capabilities.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser, type Instruction, type Copy, type Label, type JSONInstruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { REPO_ROOT } from '../helpers/exporter-process.js';
import { loadConfig } from '../../src/config/load.js';
import { loadTargets } from '../../src/targets/sources.js';
import { parseHostPort } from '../../src/targets/address.js';

const CONTAINERFILE = join(REPO_ROOT, 'deploy', 'container', 'Containerfile');
const PKG = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string; license: string; engines: { node: string } };

interface Parsed {
  problems: string[];
  /** Final-stage facts the other tests use. */
  entrypoint: string[];
  cmd: string[];
  /** COPY (from the build context) destination -> source. */
  contextCopies: Map<string, string>;
  exposed: string[];
  healthcheck: string;
}

/** Paths the ignore file lets into the build context: it must be "*" then "!path" lines. */
function contextAllows(ignoreFile: string): (path: string) => boolean {
  const lines = readFileSync(ignoreFile, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  assert.equal(lines[0], '*', 'the ignore file starts by excluding everything');
  const allowed = lines.slice(1).map((l) => {
    assert.ok(l.startsWith('!'), `ignore file line "${l}" is an allow-list entry`);
    return l.slice(1).replace(/\/$/, '');
  });
  return (path) => allowed.some((a) => path.replace(/\/$/, '') === a || path.startsWith(`${a}/`));
}

/** Every rule of the image; `problems` is empty when they all hold. */
function checkContainerfile(text: string, repoRoot: string, ignoreFile: string): Parsed {
  const problems = validate(text).map((d) => `lint line ${d.range.start.line + 1}: ${typeof d.message === 'string' ? d.message : d.message.value}`);
  const df = DockerfileParser.parse(text);
  const all = df.getInstructions();
  const froms = df.getFROMs();
  const out: Parsed = { problems, entrypoint: [], cmd: [], contextCopies: new Map(), exposed: [], healthcheck: '' };
  if (froms.length < 2) problems.push('not multi-stage: build tools would ship in the image');
  if (froms.length === 0) return out;
  const lastFromLine = froms[froms.length - 1].getRange().start.line;
  const final = all.filter((i) => i.getRange().start.line >= lastFromLine);
  const args = new Map<string, string>();
  for (const a of all.filter((i) => i.getKeyword() === 'ARG')) {
    const [k, v] = (a.getArgumentsContent() ?? '').split('=');
    if (v !== undefined) args.set(k, v);
  }
  const expand = (s: string) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string, b: string) => args.get(a ?? b) ?? '');
  const stages: string[] = [];
  for (const f of froms) {
    const image = expand(f.getImage() ?? '');
    const [name, tag] = image.split(':');
    if (!tag || tag === 'latest') problems.push(`FROM ${image}: base image not pinned to a tag`);
    if (name === 'node' || name.endsWith('/node')) {
      const m = /^(\d+)(?:\.(\d+))?/.exec(tag ?? '');
      const need = /^>=(\d+)\.(\d+)/.exec(PKG.engines.node)!;
      const ok = m && (Number(m[1]) > Number(need[1]) || (Number(m[1]) === Number(need[1]) && m[2] !== undefined && Number(m[2]) >= Number(need[2])));
      if (!ok) problems.push(`FROM ${image}: node version does not satisfy package.json engines ${PKG.engines.node}`);
    }
    const stage = f.getBuildStage();
    if (stage) stages.push(stage);
  }
  const allowed = contextAllows(ignoreFile);
  for (const i of all) {
    const line = i.getRange().start.line;
    if (i.getKeyword() === 'ADD') problems.push(`line ${line + 1}: ADD (use COPY: no remote fetches, no implicit unpacking)`);
    if (i.getKeyword() === 'COPY') {
      const c = i as Copy;
      const parts = c
        .getArguments()
        .map((a) => a.getValue())
        .filter((a) => !a.startsWith('--'));
      const dest = parts.pop()!;
      const from = c.getFromFlag()?.getValue();
      if (from) {
        const earlier = froms.filter((f) => f.getRange().start.line < line).map((f) => f.getBuildStage());
        if (!earlier.includes(from)) problems.push(`line ${line + 1}: COPY --from=${from} names no earlier stage`);
        continue;
      }
      for (const src of parts) {
        if (!existsSync(join(repoRoot, src))) problems.push(`line ${line + 1}: COPY source ${src} does not exist in the repository`);
        else if (!allowed(src)) problems.push(`line ${line + 1}: COPY source ${src} is excluded by the ignore file`);
        if (i.getRange().start.line >= lastFromLine) out.contextCopies.set(dest, src);
      }
    }
  }
  const users = final.filter((i) => i.getKeyword() === 'USER');
  const user = users.length ? (users[users.length - 1].getArgumentsContent() ?? '') : '';
  const uid = user.split(':')[0];
  if (!/^\d+$/.test(uid)) problems.push(`final stage USER "${user}" is not a numeric uid (runAsNonRoot can only verify numbers)`);
  else if (Number(uid) === 0) problems.push('final stage runs as root (USER 0)');
  const hc = final.find((i) => i.getKeyword() === 'HEALTHCHECK');
  out.healthcheck = hc?.getArgumentsContent() ?? '';
  if (!hc || !/\/healthz/.test(out.healthcheck)) problems.push('final stage has no HEALTHCHECK on /healthz');
  out.exposed = final.filter((i) => i.getKeyword() === 'EXPOSE').flatMap((i) => i.getArguments().map((a) => a.getValue()));
  const labels = new Map<string, string>();
  for (const l of final.filter((i) => i.getKeyword() === 'LABEL') as Label[])
    for (const p of l.getProperties()) labels.set(p.getName(), expand(p.getUnescapedValue() ?? '').replace(/^"(.*)"$/, '$1'));
  for (const k of ['title', 'description', 'version', 'licenses']) {
    if (!labels.get(`org.opencontainers.image.${k}`)) problems.push(`label org.opencontainers.image.${k} missing`);
  }
  if (labels.get('org.opencontainers.image.version') !== PKG.version)
    problems.push(`label version ${labels.get('org.opencontainers.image.version')} is not package.json's ${PKG.version}`);
  if (labels.get('org.opencontainers.image.licenses') !== PKG.license) problems.push(`label licenses is not package.json's ${PKG.license}`);
  const json = (kw: string): string[] | null => {
    const i = final.filter((x) => x.getKeyword() === kw).pop() as JSONInstruction | undefined;
    if (!i) return null;
    const strings = i.getJSONStrings().map((s) => s.getJSONValue());
    return strings.length ? strings : null;
  };
  out.entrypoint = json('ENTRYPOINT') ?? [];
  out.cmd = json('CMD') ?? [];
  if (out.entrypoint.length === 0) problems.push('final stage ENTRYPOINT missing or not in JSON (exec) form: signals would go to a shell');
  const runs = final
    .filter((i) => i.getKeyword() === 'RUN')
    .map((i: Instruction) => i.getArgumentsContent() ?? '')
    .join('\n');
  if (out.entrypoint[0] && !new RegExp(`setcap cap_net_raw\\+ep ${out.entrypoint[0].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`).test(runs)) {
    problems.push(`the entrypoint ${out.entrypoint[0]} is not given cap_net_raw+ep (a non-root user keeps no added capability across exec)`);
  }
  if (!/chmod a-s/.test(runs)) problems.push('set-uid/set-gid bits are not stripped in the final stage');
  return out;
}

const IGNORE = `${CONTAINERFILE}.dockerignore`;

test('the Containerfile lints clean and follows every image rule', () => {
  const r = checkContainerfile(readFileSync(CONTAINERFILE, 'utf8'), REPO_ROOT, IGNORE);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.entrypoint, ['/usr/local/bin/node-fleetprobe', '/app/bin/fleetprobe.js']);
});

test('the rules reject a careless Containerfile', () => {
  const bad = [
    'FROM node:latest',
    'ADD https://example.invalid/tool.tgz /opt/',
    'COPY no-such-dir/ /app/',
    'COPY README.md /app/',
    'COPY --from=builder /x /y',
    'LABEL org.opencontainers.image.version="9.9.9"',
    'USER root',
    'ENTRYPOINT node /app/bin/fleetprobe.js',
    'FOO bar',
  ].join('\n');
  const problems = checkContainerfile(bad, REPO_ROOT, IGNORE).problems;
  const expected = [
    /^lint line 9: Unknown instruction: FOO$/,
    /^not multi-stage/,
    /^FROM node:latest: base image not pinned/,
    /^FROM node:latest: node version does not satisfy/,
    /^line 2: ADD/,
    /^line 3: COPY source no-such-dir\/ does not exist/,
    /^line 4: COPY source README.md is excluded by the ignore file/,
    /^line 5: COPY --from=builder names no earlier stage/,
    /^final stage USER "root" is not a numeric uid/,
    /^final stage has no HEALTHCHECK on \/healthz/,
    /^label org.opencontainers.image.title missing/,
    /^label version 9.9.9 is not package.json's/,
    /^final stage ENTRYPOINT missing or not in JSON/,
    /^set-uid\/set-gid bits are not stripped/,
  ];
  for (const re of expected)
    assert.ok(
      problems.some((p) => re.test(p)),
      `${re} in\n${problems.join('\n')}`,
    );
});

test('the baked configuration is valid, loopback only, and its web port is EXPOSEd and health-checked', async () => {
  const r = checkContainerfile(readFileSync(CONTAINERFILE, 'utf8'), REPO_ROOT, IGNORE);
  assert.equal(r.cmd[0], 'run');
  // Resolve the in-image config path back to the repository file COPYed there.
  const argv = r.cmd.slice(1).map((a) => (r.contextCopies.has(a) ? join(REPO_ROOT, r.contextCopies.get(a)!) : a));
  assert.ok(
    argv.some((a) => a.endsWith('deploy/container/fleetprobe.yaml')),
    argv.join(' '),
  );
  const config = loadConfig({ argv, env: {} });
  const web = parseHostPort(config.web.listenAddress, { allowEmptyHost: true });
  assert.ok(typeof web !== 'string');
  assert.equal(web.host, '', 'listens on every address of the container');
  assert.ok(r.exposed.includes(`${web.port}/tcp`), `${web.port}/tcp is exposed`);
  assert.match(r.healthcheck, new RegExp(`127\\.0\\.0\\.1:${web.port}/healthz`));
  const set = await loadTargets(config);
  assert.deepEqual(set.rejected, []);
  for (const t of set.targets) assert.match(t.address || t.url || '', /^(http:\/\/)?127\./, `${t.name} probes loopback only`);
  assert.ok(
    set.targets.some((t) => t.kind === 'icmp'),
    'an ICMP target shows the NET_RAW recipe works',
  );
});

/**
 * Kubernetes manifests checked the way the API server would, without a cluster.
 *
 * Two checks from one library, kubernetes-models (generated from Kubernetes' OpenAPI
 * schema, for the core API and — @kubernetes-models/prometheus-operator — the
 * Prometheus Operator's CRDs):
 *  1. schemaProblems(): the runtime validator (ajv, compiled from the OpenAPI schema)
 *     checks types, required fields, enums and formats;
 *  2. fieldProblems(): the OpenAPI schema allows unknown fields (the API server only
 *     rejects them under `kubectl apply --validate=strict`), and a misspelled field —
 *     `securityContex` — would silently drop a whole security setting. So every
 *     document is also type-checked against the same package's generated interfaces,
 *     where an unknown field is TypeScript's excess-property error.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import ts from 'typescript';
import { REPO_ROOT } from './exporter-process.js';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  data?: Record<string, string>;
}

export interface LoadedDoc {
  file: string;
  index: number;
  object: K8sObject;
}

export const KUBERNETES_DIR = join(REPO_ROOT, 'deploy', 'kubernetes');

/** Every YAML document of every *.yaml file in `dir` (YAML syntax errors throw). */
export function loadManifests(dir = KUBERNETES_DIR): LoadedDoc[] {
  const out: LoadedDoc[] = [];
  for (const f of readdirSync(dir)
    .filter((n) => /\.ya?ml$/.test(n))
    .sort()) {
    const docs = parseAllDocuments(readFileSync(join(dir, f), 'utf8'));
    docs.forEach((d, index) => {
      if (d.errors.length) throw new Error(`${f} document ${index}: ${d.errors.map((e) => e.message).join('; ')}`);
      const object = d.toJS() as K8sObject | null;
      if (object !== null) out.push({ file: f, index, object });
    });
  }
  return out;
}

/** Module of kubernetes-models (or an add-on package) that holds the model of apiVersion/kind. */
export function modelModule(apiVersion: string, kind: string): string {
  if (apiVersion === 'monitoring.coreos.com/v1') return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

function label(d: Pick<LoadedDoc, 'file' | 'index' | 'object'>): string {
  return `${d.file}#${d.index} ${d.object?.kind}/${d.object?.metadata?.name}`;
}

/** Schema problems of one document ([] when valid); an unknown apiVersion/kind is a problem too. */
export async function schemaProblems(d: Pick<LoadedDoc, 'file' | 'index' | 'object'>): Promise<string[]> {
  const { apiVersion, kind } = d.object ?? ({} as K8sObject);
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return [`${label(d)}: apiVersion and kind are required`];
  let mod: Record<string, new (data: unknown) => { validate(): void }>;
  try {
    mod = (await import(modelModule(apiVersion, kind))) as typeof mod;
  } catch {
    return [`${label(d)}: no model for ${apiVersion} ${kind}`];
  }
  try {
    new mod[kind](d.object).validate();
    return [];
  } catch (err) {
    return [`${label(d)}: ${(err as Error).message}`];
  }
}

/**
 * Unknown fields (and wrong types) of every document, found by type-checking them as
 * object literals against kubernetes-models' interfaces. One TypeScript program for all
 * documents (seconds); the source is virtual, nothing is written to disk.
 */
export function fieldProblems(docs: ReadonlyArray<Pick<LoadedDoc, 'file' | 'index' | 'object'>>): string[] {
  const fileName = join(REPO_ROOT, '__manifest_fields_check__.ts');
  const lines: string[] = [];
  const spans: Array<{ from: number; to: number; what: string }> = [];
  docs.forEach((d, i) => {
    lines.push(`import type { I${d.object.kind} as T${i} } from ${JSON.stringify(modelModule(d.object.apiVersion, d.object.kind))};`);
  });
  docs.forEach((d, i) => {
    const from = lines.length + 1;
    lines.push(...`export const doc${i}: T${i} = ${JSON.stringify(d.object, null, 1)};`.split('\n'));
    spans.push({ from, to: lines.length, what: label(d) });
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    noEmit: true,
    strict: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError, create) =>
    name === fileName ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, onError, create);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const program = ts.createProgram([fileName], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((diag) => diag.file?.fileName === fileName || diag.file === undefined)
    .map((diag) => {
      const text = ts.flattenDiagnosticMessageText(diag.messageText, ' ');
      if (!diag.file || diag.start === undefined) return text;
      const line = diag.file.getLineAndCharacterOfPosition(diag.start).line + 1;
      const span = spans.find((s) => line >= s.from && line <= s.to);
      return `${span?.what ?? 'imports'}: ${text}`;
    });
}

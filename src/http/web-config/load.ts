/**
 * Read a web configuration file and everything it names: parse and check it
 * (parse.ts), read the certificate, key and client CA, and check that they work
 * together (the key matches the certificate, the CA file holds certificates, Node
 * accepts the versions, suites and curves). Used when the configuration is loaded (start,
 * reload, check-config: a bad file is a configuration error before anything starts) and
 * when the certificate files change on disk (security.ts).
 */
import { readFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseWebConfig, type PemSource, type TlsSpec, type WebConfigProblem, type WebConfigSpec } from './parse.js';
import { secureContextOptions, type TlsMaterial } from './tls-options.js';

/** A web configuration file, checked, with its TLS material read. */
export interface WebSecurityConfig {
  /** Absolute path of the web configuration file. */
  file: string;
  spec: WebConfigSpec;
  /** Read from spec.tls (null without TLS). */
  material: TlsMaterial | null;
  /** When the certificate stops being valid (ms since the epoch), null without TLS. */
  certNotAfter: number | null;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

function pemBlocks(text: string, type: string): string[] {
  return [...text.matchAll(PEM_BLOCK)].filter((m) => m[1] === type).map((m) => m[0]);
}

function errorCode(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ?? err.message;
}

/** The key a PEM source was given by ("tls_server_config.cert_file" or ".cert"). */
function sourceKey(name: string, s: PemSource): string {
  return 'file' in s ? `tls_server_config.${name}_file` : `tls_server_config.${name}`;
}

function sourceValue(s: PemSource): string {
  return 'file' in s ? s.file : '(inline PEM)';
}

function readPem(name: string, s: PemSource, problems: WebConfigProblem[]): string | null {
  if ('inline' in s) return s.inline;
  try {
    return readFileSync(s.file, 'utf8');
  } catch (e) {
    problems.push({ key: sourceKey(name, s), value: s.file, message: `cannot read ${s.file}: ${errorCode(e)}` });
    return null;
  }
}

/**
 * Read and check the PEM material of `tls`. Problems name the key that gave each piece;
 * material is null when any is missing or unusable.
 */
export function readTlsMaterial(tls: TlsSpec): { material: TlsMaterial | null; certNotAfter: number | null; problems: WebConfigProblem[] } {
  const problems: WebConfigProblem[] = [];
  const cert = readPem('cert', tls.cert, problems);
  const key = readPem('key', tls.key, problems);
  const ca = tls.clientCa === null ? null : readPem('client_ca', tls.clientCa, problems);
  let certNotAfter: number | null = null;
  let usable = cert !== null && key !== null && (tls.clientCa === null || ca !== null);

  if (cert !== null) {
    const blocks = pemBlocks(cert, 'CERTIFICATE');
    try {
      if (blocks.length === 0) throw new Error('no PEM certificate ("-----BEGIN CERTIFICATE-----") in it');
      const leaf = new X509Certificate(blocks[0]);
      certNotAfter = Date.parse(leaf.validTo);
    } catch (e) {
      problems.push({ key: sourceKey('cert', tls.cert), value: sourceValue(tls.cert), message: `is not a usable certificate: ${(e as Error).message}` });
      usable = false;
    }
  }
  if (key !== null) {
    try {
      createPrivateKey(key);
    } catch (e) {
      problems.push({ key: sourceKey('key', tls.key), value: sourceValue(tls.key), message: `is not a usable PEM private key: ${(e as Error).message}` });
      usable = false;
    }
  }
  if (ca !== null && tls.clientCa !== null) {
    const blocks = pemBlocks(ca, 'CERTIFICATE');
    try {
      if (blocks.length === 0) throw new Error('no PEM certificate ("-----BEGIN CERTIFICATE-----") in it');
      for (const b of blocks) new X509Certificate(b);
    } catch (e) {
      problems.push({
        key: sourceKey('client_ca', tls.clientCa),
        value: sourceValue(tls.clientCa),
        message: `is not a usable CA certificate file: ${(e as Error).message}`,
      });
      usable = false;
    }
  }
  if (!usable || cert === null || key === null) return { material: null, certNotAfter, problems };

  const material: TlsMaterial = { cert, key, ca };
  // What Node itself says of the whole: a key that does not match the certificate, a
  // suite or curve this OpenSSL does not have.
  try {
    createSecureContext(secureContextOptions(tls, material));
  } catch (e) {
    const message = (e as Error).message;
    if (/key values mismatch|KEY_VALUES_MISMATCH/i.test(message)) {
      problems.push({
        key: sourceKey('key', tls.key),
        value: sourceValue(tls.key),
        message: `does not match the certificate of ${sourceKey('cert', tls.cert)} (${sourceValue(tls.cert)})`,
      });
    } else if (/cipher/i.test(message)) {
      problems.push({ key: 'tls_server_config.cipher_suites', value: tls.cipherSuites, message: `refused by Node's TLS: ${message}` });
    } else if (/curve|group/i.test(message)) {
      problems.push({ key: 'tls_server_config.curve_preferences', value: tls.curves, message: `refused by Node's TLS: ${message}` });
    } else {
      problems.push({ key: 'tls_server_config', value: null, message: `refused by Node's TLS: ${message}` });
    }
    return { material: null, certNotAfter, problems };
  }
  return { material, certNotAfter, problems };
}

/** Read `file` (absolute) and everything it names. Problems carry keys inside the file. */
export function loadWebConfig(file: string): { config: WebSecurityConfig | null; problems: WebConfigProblem[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { config: null, problems: [{ key: '(file)', value: file, message: `cannot read ${file}: ${errorCode(e)}` }] };
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (e) {
    return { config: null, problems: [{ key: '(file)', value: file, message: `${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}` }] };
  }
  const { spec, problems } = parseWebConfig(raw, dirname(file));
  let material: TlsMaterial | null = null;
  let certNotAfter: number | null = null;
  if (spec.tls !== null) {
    const read = readTlsMaterial(spec.tls);
    for (const p of read.problems) problems.push(p);
    material = read.material;
    certNotAfter = read.certNotAfter;
  }
  if (problems.length > 0) return { config: null, problems };
  return { config: { file, spec, material, certNotAfter }, problems };
}

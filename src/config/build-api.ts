/**
 * api.*, grpc.* and stream.* properties -> typed config. The token file is read here,
 * at load (and so on every reload): an unreadable or empty file is a problem naming
 * api.token_file, reported with every other problem before anything starts.
 * Token values never appear in a problem (they are secrets).
 */
import { readFileSync } from 'node:fs';
import { parseDuration } from '../values/duration.js';
import { tokenProblem } from '../auth/token.js';
import type { ConfigProblem } from './errors.js';
import type { ApiConfig, GrpcConfig, StreamConfig, TestsConfig } from './types.js';

/** The api.*, grpc.*, stream.* and tests.* properties as convict hands them over, after the schema's checks. */
interface ApiProps {
  token: string | null;
  token_file: string | null;
  require_token_for_reads: boolean;
  state_file: string | null;
  max_targets: number;
}
interface GrpcProps {
  listen_address: string | null;
}
interface StreamProps {
  max_clients: number;
  max_buffer_bytes: number;
  state_interval: string;
  stall_timeout: string;
}
interface TestsProps {
  max_count: number;
  max_rate: number;
  max_duration: string;
  max_concurrent: number;
  results_kept: number;
  max_http_size: number;
}

const REDACTED = '(redacted)';

/** `tokenKeysBad`: api.token or api.token_file failed their own check (then replaced by defaults): rules on them are skipped. */
export function buildApiConfig(p: ApiProps, abs: (f: string) => string, problems: ConfigProblem[], tokenKeysBad = false): ApiConfig {
  const inline: string | null = p.token;
  const file: string | null = p.token_file === null ? null : abs(p.token_file);
  let token: string | null = null;
  if (inline !== null && file !== null) {
    problems.push({ key: 'api.token', value: REDACTED, message: 'set either api.token or api.token_file, not both' });
  } else if (inline !== null) {
    const why = tokenProblem(inline);
    if (why) problems.push({ key: 'api.token', value: REDACTED, message: why });
    else token = inline;
  } else if (file !== null) {
    let text: string | null = null;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      problems.push({ key: 'api.token_file', value: p.token_file, message: `cannot read ${file}: ${err.code ?? err.message}` });
    }
    if (text !== null) {
      const t = text.trim();
      const why = tokenProblem(t);
      if (why) problems.push({ key: 'api.token_file', value: p.token_file, message: `the token in ${file} ${why}` });
      else token = t;
    }
  }
  if (p.require_token_for_reads === true && inline === null && file === null && !tokenKeysBad) {
    problems.push({ key: 'api.require_token_for_reads', value: true, message: 'needs api.token or api.token_file' });
  }
  return {
    token,
    tokenFile: file,
    requireTokenForReads: p.require_token_for_reads === true,
    stateFile: p.state_file === null ? null : abs(p.state_file),
    maxTargets: p.max_targets,
  };
}

export function buildGrpcConfig(p: GrpcProps): GrpcConfig {
  return { listenAddress: p.listen_address };
}

export function buildStreamConfig(p: StreamProps): StreamConfig {
  return {
    maxClients: p.max_clients,
    maxBufferBytes: p.max_buffer_bytes,
    stateIntervalMs: parseDuration(p.state_interval),
    stallTimeoutMs: parseDuration(p.stall_timeout),
  };
}

export function buildTestsConfig(p: TestsProps): TestsConfig {
  return {
    maxCount: p.max_count,
    maxRate: p.max_rate,
    maxDurationMs: parseDuration(p.max_duration),
    maxConcurrent: p.max_concurrent,
    resultsKept: p.results_kept,
    maxHttpSize: p.max_http_size,
  };
}

/**
 * Schema sections of the API surface beyond /metrics: the API token (`api.*`), the
 * gRPC listener (`grpc.*`) and the live result streams shared by SSE and gRPC
 * (`stream.*`). Kept apart from schema.ts so the streaming and auth keys are
 * declared in one place; buildSchema() mounts them.
 */
import type { SchemaSection } from './schema.js';

export function apiSections(): SchemaSection {
  return {
    api: {
      token: {
        doc:
          'Bearer token of the API (Authorization: Bearer <token>). Mutations need it; reads (live streams) need it only with api.require_token_for_reads. ' +
          'Prefer api.token_file: a flag or variable is visible to other local users. Unset: no token.',
        format: 'fp-secret',
        default: null,
        nullable: true,
      },
      token_file: {
        doc: 'File holding the API token (surrounding whitespace ignored), read at start and on every reload. Relative to the config file. Exclusive with api.token.',
        format: 'fp-string',
        default: null,
        nullable: true,
      },
      require_token_for_reads: {
        doc: 'Also require the token for reads: GET /api/v1/stream and the gRPC Telemetry service. Needs api.token or api.token_file.',
        format: 'fp-bool',
        default: false,
      },
      state_file: {
        doc:
          'File keeping the targets added over the API (POST /api/v1/targets) across restarts, written atomically on every change and read at start ' +
          '(a file that cannot be read or parsed stops the start). Relative to the config file. Unset: API targets live in memory only. Takes effect on restart.',
        format: 'fp-string',
        default: null,
        nullable: true,
      },
      max_targets: {
        doc: 'Most targets the API may hold (POST /api/v1/targets beyond it answers 409); 0: adding over the API is off.',
        format: 'fp-api-max-targets',
        default: 10_000,
      },
    },
    tests: {
      max_count: {
        doc: 'Most probes one on-demand test (POST /api/v1/tests) may send; a larger count answers 400.',
        format: 'fp-tests-max-count',
        default: 10_000,
      },
      max_rate: {
        doc: 'Most probes per second one on-demand test may send (its interval, or rate for udp); a faster test answers 400.',
        format: 'fp-tests-max-rate',
        default: 1000,
      },
      max_duration: {
        doc: 'Longest an on-demand test may run (count x interval + timeout); a longer test answers 400.',
        format: 'fp-tests-max-duration',
        default: '10m',
      },
      max_concurrent: {
        doc: 'On-demand tests running at once; one more answers 429.',
        format: 'fp-tests-max-concurrent',
        default: 4,
      },
      results_kept: {
        doc: 'Ended on-demand tests kept for GET /api/v1/tests[/ID] (the oldest is forgotten first).',
        format: 'fp-tests-results-kept',
        default: 100,
      },
      max_http_size: {
        doc: 'Largest body an http on-demand test may ask the responder for (size, bytes); a larger size answers 400.',
        format: 'fp-tests-max-http-size',
        default: 104_857_600,
      },
    },
    grpc: {
      listen_address: {
        doc: 'Address of the gRPC server (service fleetprobe.v1.Telemetry, with server reflection), "host:port"; null (default): off. Takes effect on restart.',
        format: 'fp-listen',
        default: null,
        nullable: true,
      },
    },
    stream: {
      max_clients: {
        doc: 'Live stream subscribers (SSE and gRPC together) served at once; more are refused (HTTP 429, gRPC RESOURCE_EXHAUSTED).',
        format: 'fp-stream-max-clients',
        default: 128,
      },
      max_buffer_bytes: {
        doc: 'Unsent bytes a subscriber may owe before it is dropped (reason buffer_full): a client that does not read never slows probing or the others.',
        format: 'fp-stream-buffer-bytes',
        default: 1_048_576,
      },
      state_interval: {
        doc: 'How often a streaming subscriber gets the state (counters, loss, last RTT) of each selected target, spread over the interval.',
        format: 'fp-stream-state-interval',
        default: '10s',
      },
      stall_timeout: {
        doc:
          'A subscriber whose backlog does not drain for this long while it is sent a full state (once, poll, start of stream) is dropped (reason stalled); ' +
          'an SSE connection that was ended or dropped is cut when its client takes nothing of what is left for this long.',
        format: 'fp-stream-stall-timeout',
        default: '30s',
      },
    },
  };
}

/**
 * The shipped proto/fleetprobe/v1/telemetry.proto, loaded at run time with
 * @grpc/proto-loader (no generated code to keep in step with it). The same
 * package definition feeds the service and server reflection.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';

export const TELEMETRY_PROTO = 'fleetprobe/v1/telemetry.proto';
export const TELEMETRY_SERVICE = 'fleetprobe.v1.Telemetry';

/** Field names as in the .proto (snake_case), enums as names, 64-bit integers as numbers, oneof discriminators. */
export const LOADER_OPTIONS: Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

/** The package's proto/ directory, found from this module (src/ or dist/src/). */
export function protoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = resolve(dir, 'proto');
    if (existsSync(join(candidate, TELEMETRY_PROTO)) && existsSync(resolve(dir, 'package.json'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`${TELEMETRY_PROTO} not found next to the fleetprobe package`);
}

export function loadTelemetryProto(): PackageDefinition {
  return loadSync(TELEMETRY_PROTO, { ...LOADER_OPTIONS, includeDirs: [protoRoot()] });
}

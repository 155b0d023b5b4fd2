/** Public surface of the targets module (model.ts holds the shared types). */
export {
  loadTargets,
  dedupeTargets,
  nextFileState,
  EMPTY_TARGET_SET,
  type TargetSet,
  type TargetFileState,
  type LoadTargetsOptions,
  type TargetSourcesConfig,
} from './sources.js';
export { loadTargetFile, readTargetFile, parseTargetDocument, fileLabel, type RejectedTarget, type TargetLoad, type TargetFileRead } from './files.js';
export { parseTargetEntry, checkTargetName } from './spec.js';
export {
  Resolver,
  pickAddress,
  hostOf,
  httpResolution,
  DNS_PREFERENCES,
  type DnsPreference,
  type Resolution,
  type ResolutionChange,
  type ResolverOptions,
} from './resolve.js';
export { TargetRegistry, toShardTarget, type RegistryEntry, type RegistryDiff } from './registry.js';
export { hashName, workerOf, instanceOf, ownedByInstance, partitionByWorker, rendezvousShard, splayPhase } from './partition.js';
export { meshTargets, meshPorts, ownAddresses, normaliseIp, type MeshResult, type MeshPorts, type ResponderListeners } from './mesh.js';
export { DnsPeers, peersFromAddresses, mergePeers, type DnsPeersStatus } from './peers-dns.js';
export { targetOptions } from './options.js';
export { TARGET_BOUNDS, TARGET_FIELD_FORMATS, TARGET_NAME_MAX_CHARS, LABEL_BOUNDS } from './fields.js';
export { checkHost, parseHostPort, parseHttpUrl } from './address.js';
export { checkLabelName, checkLabels, RESERVED_LABEL_NAMES } from './labels.js';

/** Public surface of the targets module (model.ts holds the shared types). */
export { loadTargets, dedupeTargets, nextFileState, EMPTY_TARGET_SET, type TargetSet, type TargetFileState, type LoadTargetsOptions } from './sources.js';
export { loadTargetFile, readTargetFile, parseTargetDocument, fileLabel, type RejectedTarget, type TargetLoad, type TargetFileRead } from './files.js';
export { parseTargetEntry, checkTargetName } from './spec.js';
export { Resolver, pickAddress, hostOf, httpResolution, type Resolution, type ResolutionChange, type ResolverOptions } from './resolve.js';
export { TargetRegistry, toShardTarget, type RegistryEntry, type RegistryDiff } from './registry.js';
export { hashName, workerOf, instanceOf, ownedByInstance, partitionByWorker, rendezvousShard, splayPhase } from './partition.js';
export { meshTargets, meshPorts, ownAddresses, normaliseIp, type MeshResult, type MeshPorts } from './mesh.js';
export { DnsPeers, peersFromAddresses, mergePeers, type DnsPeersStatus } from './peers-dns.js';
export { KIND_OPTION_FIELDS, kindOptions, toProbeOptions } from './options.js';
export { checkHost, parseHostPort, parseHttpUrl } from './address.js';
export { checkLabelName, checkLabels, RESERVED_LABEL_NAMES } from './labels.js';

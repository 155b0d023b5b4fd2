/** Public surface of the configuration module. */
export { loadConfig, embeddedDefaultPath, CONFIG_FILE_ENV, EMBEDDED_DEFAULT, COMMAND_LINE_ONLY, type LoadConfigOptions } from './load.js';
export { ConfigError, type ConfigProblem } from './errors.js';
export { configSchemaDocs, formatConfigHelp, type ConfigKeyDoc } from './docs.js';
export { parseDuration, formatDuration, isDuration, DurationError } from '../values/duration.js';
export { DEFAULT_RTT_BUCKETS, RESPONDER_DEFAULTS } from './schema.js';
export type * from './types.js';

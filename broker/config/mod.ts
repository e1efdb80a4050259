/**
 * broker/config/: the node's configuration. Defaults, the YAML/JSON file,
 * environment and CLI layers, resolved once and checked against
 * schemas/config.schema.json; a wrong value names its key and the fix.
 * Imports broker/peering/ (link defaults), broker/streams/ (stream config), broker/auth/ and below.
 */
export { type ConfigLayer, envLayer, type NodeConfig, readConfigFile, resolveConfig, type StorageEngine } from './config.js';
export { redactUrl } from './redact.js';

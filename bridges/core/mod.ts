/**
 * bridges/core/: what every broker bridge shares. The Bridge (imports,
 * exports, loop and dedup guards, refusals, resend), the BrokerClient seam
 * each protocol implements, bridge config, attribute mapping, export size
 * checks. Imports broker/'s public surface and routing/.
 */

export { percentDecode, percentEncode } from '../../broker/mod.js';
export { canonicalString, eventFromAttributes, flattenEvent } from './attributes.js';
export { Backoff } from './backoff.js';
export { Bridge, type BridgeState } from './bridge.js';
export { type BridgeContext, type BrokerClient, type ImportOutcome, retryableRefusal } from './broker-client.js';
export { BRIDGE_DEFAULTS, type BridgeEntry, type BridgeSpec, type BridgeType, type ContentMode, resolveBridge } from './config.js';
export { exportSizeRefusal } from './export-size.js';
export { looksStructured } from './plain-event.js';
export type { TopicDialect } from './topic-dialect.js';

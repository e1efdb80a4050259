/**
 * bridges/core/: what every broker bridge shares. The Bridge (imports,
 * exports, loop and dedup guards, refusals, resend), the BrokerClient seam
 * each protocol implements, bridge config, attribute mapping, export size
 * checks. Imports broker/'s public surface and routing/.
 */
export { eventFromAttributes, canonicalString, flattenEvent } from './attributes.js';
export { Bridge, type BridgeState } from './bridge.js';
export type { BridgeContext, BrokerClient, ImportOutcome } from './broker-client.js';
export { type ContentMode, resolveBridge, type BridgeEntry, type BridgeType, BRIDGE_DEFAULTS, type BridgeSpec } from './config.js';
export { exportSizeRefusal } from './export-size.js';
export { percentDecode, percentEncode } from './percent-encoding.js';
export { looksStructured } from './plain-event.js';
export type { TopicDialect } from './topic-dialect.js';

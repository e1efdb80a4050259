/**
 * Topics only the node writes: dead letters and system events (mesh
 * views). Their consumers (the console, dead-letter tooling) trust that
 * what arrives there came from a node, so no client ingress may publish
 * there, with auth on or off and whatever a token's rights say:
 * WebSocket (`/v1/ws`, `/v1/ce/`) and bridge imports are refused with
 * MG_ERR_TOPIC_RESERVED. Events from peers (published there by their
 * node) and the node's own ('system') pass. Subscribing is unaffected.
 *
 * Other `_mg.` topics stay governed by the permission rules alone
 * (broker/auth/permissions.ts: only rights that name `_mg` grant them).
 */
import { DEAD_LETTER_PREFIX } from './dead-letter.js';

/** Where a node publishes its own events (`_mg.sys.mesh.<node id>`). */
export const SYSTEM_TOPIC_PREFIX = '_mg.sys.';

/** Prefixes of the topics only a node writes. */
export const NODE_WRITTEN_PREFIXES: readonly string[] = Object.freeze([DEAD_LETTER_PREFIX, SYSTEM_TOPIC_PREFIX]);

/**
 * Whether only the node may publish on `topic`: a prefix's topics, and the
 * prefix's own two tokens (`_mg.sys`). One `startsWith('_mg.')` for every
 * other topic: this runs per event.
 *
 * @example isNodeWritten('_mg.deadletter.orders') // true
 * @example isNodeWritten('_mg.schemas.orders')    // false
 */
export function isNodeWritten(topic: string): boolean {
  if (!topic.startsWith('_mg.')) return false;
  for (const prefix of NODE_WRITTEN_PREFIXES) {
    if (topic.startsWith(prefix) || (topic.length === prefix.length - 1 && prefix.startsWith(topic))) return true;
  }
  return false;
}

/**
 * broker/ws/: the WebSocket client endpoint. /v1/ws (the JSON and CBOR
 * client protocol) and /v1/ce/ (plain CloudEvents), one session per
 * connection with its subscriptions, backpressure and slow-consumer policy.
 * Imports broker/auth/, broker/pipeline/ and below.
 */
export type { BufferBudget } from './buffer-budget.js';
export { CE_PATH_PREFIX, CLIENT_PATH, mountWsEndpoints } from './ws-endpoint.js';

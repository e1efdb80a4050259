/**
 * broker/base/: what every other broker folder uses. The one error catalogue
 * (stable MG_ERR_* codes, whether a client may retry), the metrics registry
 * behind /metrics, and WebSocket close reasons cut to the protocol's limit.
 * Imports nothing of ours.
 */
export { closeReason } from './close-reason.js';
export { codedReason, ERROR_CODES, type ErrorCode, isRetryable, MeshError } from './errors.js';
export { type Histogram, Metric, MetricsRegistry } from './metrics.js';

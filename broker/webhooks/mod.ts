/**
 * broker/webhooks/: webhook delivery (config `webhooks:`): events matching
 * a filter POSTed in the CloudEvents HTTP binding to a URL, after the
 * CloudEvents Web Hook validation handshake, in order, at least once,
 * with retries; live, or from a stream with a stored position. Imports
 * broker/http/ (the binding's encoder), broker/streams/, broker/pipeline/
 * and below.
 */
export { retryDelay } from './backoff.js';
export { type DeliveryPosition, FileDeliveryPosition, type StoredPosition } from './delivery-position.js';
export { Webhook, type WebhookState } from './webhook.js';
export { WEBHOOK_DEFAULTS, type WebhookConfig, type WebhookRetry, webhookConfigFromEntry } from './webhook-config.js';
export { type HandshakeResult, validateTarget } from './webhook-handshake.js';
export { startWebhooks, type WebhookSet } from './webhook-set.js';

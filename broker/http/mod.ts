/**
 * broker/http/: the node's HTTP surface. /healthz, /metrics, /v1/stats,
 * /v1/peers, /v1/bridges, /v1/routes, /v1/mesh, /v1/webhooks, the schema
 * registry API, the streams API (/v1/streams) and the browser files (client
 * library, console); the CloudEvents HTTP binding: POST /v1/events/ (and its
 * OPTIONS Web Hook handshake), Server-Sent Events on /v1/sse/ (resumable
 * from a stream), and the sending side's encoder for webhooks. Imports broker/ws/, broker/peering/, broker/streams/,
 * broker/pipeline/ and below, schemas/.
 */
export { encodeHttpEvent, type HttpEventRequest } from './cloudevents-http.js';
export { EVENTS_PATH_PREFIX, type EventsApiOptions, mountEventsApi, SSE_PATH_PREFIX } from './events-api.js';
export { mountHttpApi } from './http-api.js';
export { startMeshViewPublisher } from './mesh-view-publisher.js';
export type { SchemaApiOptions, WriteRefusal } from './schema-api.js';
export { type StreamApiOptions, streamJson } from './stream-api.js';

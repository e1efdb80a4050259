/** broker/http/ for its tests: the public surface plus the binding's pure decoder. */

export { decodeHttpEvents } from './cloudevents-http.js';
export * from './mod.js';

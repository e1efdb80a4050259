/**
 * The meshgate client library's public surface. Browsers import the same
 * code from a node: `import { MeshgateClient } from '/v1/client/meshgate-client.js'`.
 */
export * from './meshgate-client.js';

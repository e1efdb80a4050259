/**
 * broker/node/: the composition root. startNode() builds a node and its
 * endpoints from a resolved config; everything else receives what it needs
 * as arguments. Imports every broker folder before it.
 */
export { type BridgeFactory, type BridgeHost, type BridgeSet, type NodeExtensions, startNode, VERSION } from './server.js';

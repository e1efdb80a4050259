/**
 * broker/node/: the composition root. startNode() builds a node and its
 * endpoints from a resolved config; everything else receives what it needs
 * as arguments. Imports every broker folder before it.
 */
export { startNode, VERSION, type NodeExtensions, type BridgeFactory, type BridgeSet } from './server.js';

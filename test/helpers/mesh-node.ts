import { MeshNode, type MeshNodeOptions } from '../../broker/pipeline/mod.js';

/**
 * An in-process MeshNode with the limits tests do not care about filled in
 * (node `n` in region `r`, default topic limits, 1 MiB events, a 60 s
 * dedup window); `overrides` sets what the test is about.
 */
export function testMeshNode(overrides: Partial<MeshNodeOptions> = {}): MeshNode {
  return new MeshNode({
    nodeId: 'n',
    region: 'r',
    topicLimits: { maxLength: 256, maxTokens: 16, maxWildcards: 8 },
    maxEventBytes: 1 << 20,
    dedup: { windowMs: 60_000, maxEntries: 1000 },
    ...overrides,
  });
}

/**
 * bridges/: MQTT, AMQP 0-9-1 and NATS brokers joined to the mesh. The
 * entry point (bin/meshgate.ts) plugs `createBridges` into the node; each
 * protocol folder provides a topic dialect, a CloudEvents binding and a
 * broker client, and bridges/core/ does everything they share.
 */
import { type BridgeFactory, type BridgeSet, MeshError, type MeshNode } from '../broker/mod.js';
import { AMQP_DIALECT, AmqpBrokerClient } from './amqp/mod.js';
import type { BridgeContext, BrokerClient, TopicDialect } from './core/mod.js';
import { Bridge, type BridgeEntry, type BridgeType, resolveBridge } from './core/mod.js';
import { MQTT_DIALECT, MqttBrokerClient } from './mqtt/mod.js';
import { NATS_DIALECT, NatsBrokerClient } from './nats/mod.js';

export { BRIDGE_DEFAULTS, Bridge, type BridgeEntry, type BridgeSpec, type BridgeState, resolveBridge } from './core/mod.js';

const PROTOCOLS: Readonly<Record<BridgeType, { dialect: TopicDialect; client: (ctx: BridgeContext) => BrokerClient }>> = {
  mqtt: { dialect: MQTT_DIALECT, client: (ctx) => new MqttBrokerClient(ctx) },
  amqp: { dialect: AMQP_DIALECT, client: (ctx) => new AmqpBrokerClient(ctx) },
  nats: { dialect: NATS_DIALECT, client: (ctx) => new NatsBrokerClient(ctx) },
};

/** A running set of bridges, with the Bridge objects for tests and benches. */
export interface RunningBridges extends BridgeSet {
  readonly bridges: readonly Bridge[];
}

/**
 * Builds and starts every configured bridge. Every entry is checked before
 * any connects, so a wrong value stops start-up (MeshError
 * MG_ERR_CONFIG_INVALID, key and fix named). A broker that is down at
 * start-up is not an error: the bridge shows `down` and keeps retrying.
 *
 * @example
 * const set = await createBridges(node, [{ type: 'nats', url: 'nats://127.0.0.1:4222' }], console.log);
 */
export const createBridges: BridgeFactory = async (node, entries, log) => startBridges(node, entries as unknown as readonly BridgeEntry[], log);

export async function startBridges(node: MeshNode, entries: readonly BridgeEntry[], log: (line: string) => void): Promise<RunningBridges> {
  const specs = entries.map((e, i) => resolveBridge(e, i, node.nodeId, PROTOCOLS[e.type].dialect));
  const names = new Set<string>();
  for (const s of specs) {
    if (names.has(s.name)) {
      throw new MeshError(
        'MG_ERR_CONFIG_INVALID',
        `invalid configuration:\n  bridges[${s.index}].name: ${JSON.stringify(s.name)} is already used by another bridge; fix: give each bridge its own name`,
      );
    }
    names.add(s.name);
  }
  const bridges = specs.map((s) => new Bridge(node, s, PROTOCOLS[s.type].dialect, PROTOCOLS[s.type].client, log));
  await Promise.all(bridges.map((b) => b.start()));
  for (const b of bridges) log(`bridge ${b.spec.name}: ${b.spec.type} ${b.spec.displayUrl} ${b.state}`);
  return {
    bridges,
    status: () => bridges.map((b) => b.status()),
    close: async () => {
      await Promise.all(bridges.map((b) => b.close()));
    },
  };
}

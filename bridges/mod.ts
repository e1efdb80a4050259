/**
 * bridges/: MQTT, AMQP 0-9-1 and NATS brokers joined to the mesh. The
 * entry point (bin/meshgate.ts) plugs `createBridges` into the node; each
 * protocol folder provides a topic dialect, a CloudEvents binding and a
 * broker client, and bridges/core/ does everything they share.
 */
import { type BridgeFactory, type BridgeHost, type BridgeSet, MeshError, type MeshNode } from '../broker/mod.js';
import { AMQP_DIALECT, AmqpBrokerClient } from './amqp/mod.js';
import type { BridgeContext, BrokerClient, TopicDialect } from './core/mod.js';
import { Bridge, type BridgeEntry, type BridgeType, resolveBridge } from './core/mod.js';
import { MQTT_DIALECT, MqttBrokerClient } from './mqtt/mod.js';
import { NATS_DIALECT, NatsBrokerClient } from './nats/mod.js';
import { PgSource, type PgSourceEntry, resolvePgSource } from './postgres/mod.js';

export { BRIDGE_DEFAULTS, Bridge, type BridgeEntry, type BridgeSpec, type BridgeState, resolveBridge } from './core/mod.js';

const PROTOCOLS: Readonly<Record<BridgeType, { dialect: TopicDialect; client: (ctx: BridgeContext) => BrokerClient }>> = {
  mqtt: { dialect: MQTT_DIALECT, client: (ctx) => new MqttBrokerClient(ctx) },
  amqp: { dialect: AMQP_DIALECT, client: (ctx) => new AmqpBrokerClient(ctx) },
  nats: { dialect: NATS_DIALECT, client: (ctx) => new NatsBrokerClient(ctx) },
};

/** A running set of bridges, with the Bridge objects for tests and benches. */
export interface RunningBridges extends BridgeSet {
  readonly bridges: readonly Bridge[];
  /** The `postgres-source` entries. */
  readonly sources: readonly PgSource[];
}

/** A `bridges[]` entry: a broker bridge or a database source. */
export type AnyBridgeEntry = BridgeEntry | PgSourceEntry;

/**
 * Builds and starts every configured bridge. Every entry is checked before
 * any connects, so a wrong value stops start-up (MeshError
 * MG_ERR_CONFIG_INVALID, key and fix named). A broker that is down at
 * start-up is not an error: the bridge shows `down` and keeps retrying.
 *
 * @example
 * const set = await createBridges(node, [{ type: 'nats', url: 'nats://127.0.0.1:4222' }], console.log);
 */
export const createBridges: BridgeFactory = async (node, entries, log, host) => startBridges(node, entries as unknown as readonly AnyBridgeEntry[], log, host);

export async function startBridges(
  node: MeshNode,
  entries: readonly AnyBridgeEntry[],
  log: (line: string) => void,
  host: BridgeHost = { storageDir: '' },
): Promise<RunningBridges> {
  const brokerSpecs = [];
  const sourceSpecs = [];
  for (const [i, e] of entries.entries()) {
    if (e.type === 'postgres-source') {
      if (host.storageDir === '') {
        throw new MeshError(
          'MG_ERR_CONFIG_INVALID',
          `invalid configuration:\n  bridges[${i}]: a postgres source keeps its position in storage.dir, and none was given; fix: set storage.dir`,
        );
      }
      sourceSpecs.push(resolvePgSource(e, i, node.nodeId));
    } else brokerSpecs.push(resolveBridge(e, i, node.nodeId, PROTOCOLS[e.type].dialect));
  }
  const specs = brokerSpecs;
  const names = new Set<string>();
  for (const s of [...specs, ...sourceSpecs]) {
    if (names.has(s.name)) {
      throw new MeshError(
        'MG_ERR_CONFIG_INVALID',
        `invalid configuration:\n  bridges[${s.index}].name: ${JSON.stringify(s.name)} is already used by another bridge; fix: give each bridge its own name`,
      );
    }
    names.add(s.name);
  }
  // Sources first: a wrong database set-up stops start-up before any broker is dialled.
  const sources: PgSource[] = [];
  try {
    for (const s of sourceSpecs) {
      const source = new PgSource(node, s, host.storageDir, log);
      sources.push(source);
      await source.start();
      log(`bridge ${s.name}: postgres-source ${s.displayUrl} slot ${s.slot} ${source.state}`);
    }
  } catch (err) {
    await Promise.all(sources.map((s) => s.close()));
    throw err;
  }
  const bridges = specs.map((s) => new Bridge(node, s, PROTOCOLS[s.type].dialect, PROTOCOLS[s.type].client, log));
  await Promise.all(bridges.map((b) => b.start()));
  for (const b of bridges) log(`bridge ${b.spec.name}: ${b.spec.type} ${b.spec.displayUrl} ${b.state}`);
  return {
    bridges,
    sources,
    status: () => [...bridges.map((b) => b.status()), ...sources.map((s) => s.status())],
    close: async () => {
      await Promise.all([...bridges.map((b) => b.close()), ...sources.map((s) => s.close())]);
    },
  };
}

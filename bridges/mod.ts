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
import { PgSink, type PgSinkEntry, PgSource, type PgSourceEntry, resolvePgSink, resolvePgSource } from './postgres/mod.js';

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
  /** The `postgres-sink` entries. */
  readonly sinks: readonly PgSink[];
}

/** A `bridges[]` entry: a broker bridge, a database source or a database sink. */
export type AnyBridgeEntry = BridgeEntry | PgSourceEntry | PgSinkEntry;

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
  const sinkSpecs = [];
  for (const [i, e] of entries.entries()) {
    if (e.type === 'postgres-source') {
      if (host.storageDir === '') {
        throw new MeshError(
          'MG_ERR_CONFIG_INVALID',
          `invalid configuration:\n  bridges[${i}]: a postgres source keeps its position in storage.dir, and none was given; fix: set storage.dir`,
        );
      }
      sourceSpecs.push(resolvePgSource(e, i, node.nodeId));
    } else if (e.type === 'postgres-sink') {
      if (host.streams === undefined) {
        throw new MeshError(
          'MG_ERR_CONFIG_INVALID',
          `invalid configuration:\n  bridges[${i}]: a postgres sink reads a stream of the node, and this node has none`,
        );
      }
      sinkSpecs.push(resolvePgSink(e, i));
    } else brokerSpecs.push(resolveBridge(e, i, node.nodeId, PROTOCOLS[e.type].dialect));
  }
  const specs = brokerSpecs;
  const names = new Set<string>();
  for (const s of [...specs, ...sourceSpecs, ...sinkSpecs]) {
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
  const sinks: PgSink[] = [];
  try {
    // Sinks before sources: a both-ways set-up's stream exists before its own source captures anything.
    for (const s of sinkSpecs) {
      const sink = new PgSink(node, s, host.streams!, log);
      sinks.push(sink);
      await sink.start();
      log(`bridge ${s.name}: postgres-sink ${s.displayUrl} stream ${s.stream} ${sink.state}`);
    }
    for (const s of sourceSpecs) {
      const source = new PgSource(node, s, host.storageDir, log, host.schemas ?? null);
      sources.push(source);
      await source.start();
      log(`bridge ${s.name}: postgres-source ${s.displayUrl} slot ${s.slot} ${source.state}`);
    }
  } catch (err) {
    await Promise.all([...sources.map((s) => s.close()), ...sinks.map((s) => s.close())]);
    throw err;
  }
  const bridges = specs.map((s) => new Bridge(node, s, PROTOCOLS[s.type].dialect, PROTOCOLS[s.type].client, log));
  await Promise.all(bridges.map((b) => b.start()));
  for (const b of bridges) log(`bridge ${b.spec.name}: ${b.spec.type} ${b.spec.displayUrl} ${b.state}`);
  return {
    bridges,
    sources,
    sinks,
    status: () => [...bridges.map((b) => b.status()), ...sources.map((s) => s.status()), ...sinks.map((s) => s.status())],
    close: async () => {
      await Promise.all([...bridges.map((b) => b.close()), ...sources.map((s) => s.close()), ...sinks.map((s) => s.close())]);
    },
  };
}

import { MeshError, type BridgeFactory } from '../broker/mod.js';

/**
 * bridges/: MQTT, AMQP 0-9-1 and NATS adapters. Placeholder until the
 * bridges land: any configured bridge stops start-up with a clear error.
 */
export const createBridges: BridgeFactory = async (_node, entries) => {
  if (entries.length === 0) return { status: () => [], close: async () => undefined };
  throw new MeshError('MG_ERR_CONFIG_INVALID', 'bridges: not available in this build yet');
};

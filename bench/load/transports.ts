/**
 * Transport registry: name -> lazy loader. Lazy so that a transport's
 * dependencies load only in the processes that use it.
 */
import type { TransportFactory } from './transport.js';

const loaders: Record<string, () => Promise<TransportFactory>> = {
  nats: async () => (await import('./transport-nats.js')).createNatsTransport,

  // ---- meshgate WebSocket transport -------------------------------------
  // Write bench/load/transport-meshgate-ws.ts exporting
  //   export const createMeshgateWsTransport: TransportFactory = ({ clientId }) => ({ … });
  // (connect to the node's ws:// URL, publish = one event whose data is the
  // payload and whose id is seq as 10 digits, subscribe = the node's subscribe
  // frame + wait for its ack, flush = wait until bufferedAmount drains),
  // then uncomment this line. Scenarios then use { transport: 'meshgate-ws' }.
  'meshgate-ws': async () => (await import('./transport-meshgate-ws.js')).createMeshgateWsTransport,
  // The same, with each payload inside a valid db-change-event body (validation bench).
  'meshgate-ws-change': async () => (await import('./transport-meshgate-ws-change.js')).createMeshgateWsChangeTransport,
};

/** Registered transport names. */
export function transportNames(): string[] {
  return Object.keys(loaders);
}

/** Loads a transport factory by name; throws listing the known names. */
export async function loadTransport(name: string): Promise<TransportFactory> {
  const load = loaders[name];
  if (!load) throw new Error(`unknown transport '${name}'; registered: ${transportNames().join(', ')} (see bench/load/transports.ts)`);
  return load();
}

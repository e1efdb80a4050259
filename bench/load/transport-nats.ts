/** NATS core transport over the `nats` npm client (nats.js v2). */
import { connect, type NatsConnection } from 'nats';
import type { Transport, TransportFactory } from './transport.js';

export const createNatsTransport: TransportFactory = ({ clientId }) => {
  let nc: NatsConnection | undefined;
  let closing = false;
  const conn = (): NatsConnection => {
    if (!nc) throw new Error('nats transport: connect() first');
    return nc;
  };
  const t: Transport = {
    async connect(url) {
      // reconnect: false — a dropped connection (e.g. slow-consumer
      // disconnect) must show up as loss, not be papered over.
      nc = await connect({ servers: url, name: clientId, reconnect: false, noEcho: true });
      const c = nc;
      void c.closed().then((err) => {
        // e.g. "Slow Consumer" when the server cut us off: say so, the
        // driver reports the missing deliveries as lost.
        if (err && !closing) process.stderr.write(`nats transport ${clientId}: connection closed: ${err.message}\n`);
      });
    },
    publish(topic, payload) {
      // nats.js copies the payload into its outbound buffer synchronously.
      conn().publish(topic, payload);
    },
    async subscribe(filter, onMessage) {
      const c = conn();
      // callback subscriptions skip the async iterator: the fastest path.
      c.subscribe(filter, {
        callback: (err, msg) => {
          if (!err) onMessage(msg.data);
        },
      });
      await c.flush(); // the server has processed SUB once PONG is back
    },
    flush: () => conn().flush(),
    async close() {
      closing = true;
      if (nc && !nc.isClosed()) await nc.close();
    },
  };
  return t;
};

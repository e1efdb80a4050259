import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { connect, StringCodec } from 'nats';
import { AmqpMiniConnection } from './amqp-mini.js';
import {
  BrokerMissingError,
  findBinary,
  listeningSockets,
  type NatsServerHandle,
  natsMonitor,
  startMosquitto,
  startNatsCluster,
  startNatsServer,
  startRabbitMQ,
} from './brokers.js';

const run = promisify(execFile);
const sc = StringCodec();

function assertLoopbackOnly(pid: number, what: string): void {
  const socks = listeningSockets(pid);
  assert.ok(socks.length > 0, `${what}: no listening sockets found for pid ${pid}`);
  for (const s of socks) assert.ok(s.loopback, `${what} listens on ${s.address}:${s.port}, not loopback`);
}

/** Subscribes on `sub`, publishes on `pub` until the first message arrives (bounded). */
async function natsRoundTrip(pubServer: NatsServerHandle, subServer: NatsServerHandle, subject: string, text: string): Promise<string> {
  const pubNc = await connect({ servers: pubServer.url, reconnect: false });
  const subNc = pubServer === subServer ? pubNc : await connect({ servers: subServer.url, reconnect: false });
  try {
    const sub = subNc.subscribe(subject, { max: 1 });
    await subNc.flush();
    const received = (async () => {
      for await (const m of sub) return sc.decode(m.data);
      throw new Error('subscription closed without a message');
    })();
    // Across a route the interest reaches the other server asynchronously:
    // publish until it arrives rather than guessing a delay.
    let done = false;
    const deadline = Date.now() + 5000;
    const pump = (async () => {
      while (!done && Date.now() < deadline) {
        pubNc.publish(subject, sc.encode(text));
        await pubNc.flush();
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no message on ${subject} within 5 s`)), 5000).unref());
    try {
      return await Promise.race([received, timeout]);
    } finally {
      done = true;
      await pump;
    }
  } finally {
    await pubNc.close();
    if (subNc !== pubNc) await subNc.close();
  }
}

test('findBinary() throws BrokerMissingError that says how to install', () => {
  assert.throws(
    () => findBinary('meshgate-no-such-broker', 'meshgate-no-such-package'),
    (err: unknown) =>
      err instanceof BrokerMissingError &&
      err.code === 'MG_ERR_TEST_BROKER_MISSING' &&
      /apt-get install -y meshgate-no-such-package/.test(err.message) &&
      /ensure-debian-deps\.sh/.test(err.message),
  );
});

test('startNatsServer() serves a round trip on 127.0.0.1 and restarts on the same port', { timeout: 60_000 }, async (t) => {
  const nats = await startNatsServer();
  t.after(() => nats.stop());
  assert.equal(nats.url, `nats://127.0.0.1:${nats.port}`);
  assertLoopbackOnly(nats.pid, 'nats-server');
  assert.equal(await natsRoundTrip(nats, nats, 'mg.helpers.nats', 'hello'), 'hello');

  const varz = await natsMonitor<{ port: number }>(nats, 'varz');
  assert.equal(varz.port, nats.port);

  const firstPid = nats.pid;
  await nats.restart();
  assert.notEqual(nats.pid, firstPid);
  assert.equal(nats.url, `nats://127.0.0.1:${nats.port}`);
  assert.equal(await natsRoundTrip(nats, nats, 'mg.helpers.nats', 'again'), 'again');

  // kill() then restart(): a crash is recoverable too.
  nats.kill('SIGKILL');
  await nats.restart();
  assert.equal(await natsRoundTrip(nats, nats, 'mg.helpers.nats', 'after-crash'), 'after-crash');
});

test('startNatsCluster(2) carries a message published on node A to a subscriber on node B', { timeout: 60_000 }, async (t) => {
  const [a, b] = await startNatsCluster(2);
  t.after(() => Promise.all([a!.stop(), b!.stop()]));
  assert.ok(a!.clusterPort && b!.clusterPort);
  assertLoopbackOnly(a!.pid, 'nats-server A');
  assert.equal(await natsRoundTrip(a!, b!, 'mg.helpers.cluster', 'one hop'), 'one hop');
});

test('startMosquitto() serves a QoS 1 round trip and keeps the session across restart()', { timeout: 60_000 }, async (t) => {
  const mq = await startMosquitto();
  t.after(() => mq.stop());
  assert.equal(mq.url, `mqtt://127.0.0.1:${mq.port}`);
  assertLoopbackOnly(mq.pid, 'mosquitto');
  const sub = findBinary('mosquitto_sub', 'mosquitto-clients');
  const pub = findBinary('mosquitto_pub', 'mosquitto-clients');
  const host = ['-h', '127.0.0.1', '-p', String(mq.port)];
  const session = [...host, '-i', 'mg-helpers-sub', '-c', '-q', '1', '-t', 'mg/helpers/mqtt'];
  const opts = { timeout: 15_000 };

  // A persistent session subscribes, then exits once the SUBACK is in (-E):
  // from here on the broker queues QoS 1 messages for it.
  await run(sub, [...session, '-E'], opts);
  await run(pub, [...host, '-q', '1', '-t', 'mg/helpers/mqtt', '-m', 'round-trip'], opts);
  const first = await run(sub, [...session, '-C', '1', '-W', '10'], opts);
  assert.equal(first.stdout.trim(), 'round-trip');

  // Queued while the subscriber is offline, then the broker restarts.
  await run(pub, [...host, '-q', '1', '-t', 'mg/helpers/mqtt', '-m', 'across-restart'], opts);
  const port = mq.port;
  const firstPid = mq.pid;
  await mq.restart();
  assert.equal(mq.port, port);
  assert.notEqual(mq.pid, firstPid);
  const second = await run(sub, [...session, '-C', '1', '-W', '10'], opts);
  assert.equal(second.stdout.trim(), 'across-restart');
});

test('startRabbitMQ() serves an AMQP round trip as guest and keeps durable messages across restart()', { timeout: 240_000 }, async (t) => {
  const rmq = await startRabbitMQ();
  t.after(() => rmq.stop());
  assert.equal(rmq.url, `amqp://guest:guest@127.0.0.1:${rmq.port}`);
  assertLoopbackOnly(rmq.pid, 'rabbitmq beam.smp');

  let c = await AmqpMiniConnection.open({ port: rmq.port });
  await c.declareQueue('mg.helpers.q', { durable: true });
  c.publish('', 'mg.helpers.q', Buffer.from('round-trip'));
  const m1 = await c.get('mg.helpers.q');
  assert.equal(m1?.body.toString(), 'round-trip');
  c.publish('', 'mg.helpers.q', Buffer.from('durable'), { persistent: true });
  await c.close(); // close-ok: the broker has handled every frame before it

  const firstPid = rmq.pid;
  await rmq.restart();
  assert.notEqual(rmq.pid, firstPid);
  c = await AmqpMiniConnection.open({ port: rmq.port });
  t.after(() => c.destroy());
  const m2 = await c.get('mg.helpers.q');
  assert.equal(m2?.body.toString(), 'durable');
  assert.equal(await c.get('mg.helpers.q'), null);
  await c.close();
});

/**
 * The bridge core's export path against a scripted broker client (no
 * broker): a MeshError from publish is refused and never sent again; any
 * other failure is held and sent again after a backoff pause, never in
 * the same turn, in order, with the pacing reset once the failed export
 * is settled.
 */
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { BrokerClient } from '../../bridges/core/mod.js';
import { Bridge, resolveBridge } from '../../bridges/core/mod.js';
import { NATS_DIALECT } from '../../bridges/nats/mod.js';
import { MeshError, type MeshEvent } from '../../broker/mod.js';
import type { MeshNode } from '../../broker/pipeline/mod.js';
import { testMeshNode } from '../helpers/mesh-node.js';

/** What the client answers to one publish attempt: undefined = the broker has it. */
type Outcome = Error | undefined;

/**
 * A broker client that answers each publish synchronously from a script
 * (by event id, attempt by attempt; success once the script runs out),
 * the way nats.js throws or an MQTT/AMQP client without a connection fails.
 */
class ScriptedClient implements BrokerClient {
  readonly holdsWhileDown = true;
  readonly messagingSystem = 'test';
  /** Event ids in the order publish was called. */
  readonly attempts: string[] = [];
  /** Date.now() of each attempt, same order. */
  readonly times: number[] = [];
  readonly #script: Map<string, Outcome[]>;
  readonly #waiters = new Map<string, () => void>();

  constructor(script: Record<string, Outcome[]>) {
    this.#script = new Map(Object.entries(script));
  }

  /** Resolves when the broker has taken (or refused for good) event `id`. */
  settled(id: string): Promise<void> {
    return new Promise((resolve) => this.#waiters.set(id, resolve));
  }

  async connect(): Promise<void> {}
  async subscribe(): Promise<void> {}
  async unsubscribe(): Promise<void> {}
  publish(_topic: string, event: MeshEvent, done: (err?: Error) => void): void {
    this.attempts.push(event.id);
    this.times.push(Date.now());
    const outcome = this.#script.get(event.id)?.shift();
    done(outcome);
    if (outcome === undefined || outcome instanceof MeshError) this.#waiters.get(event.id)?.();
  }
  inFlight(): number {
    return 0;
  }
  async close(): Promise<void> {}
}

async function startScripted(
  t: TestContext,
  script: Record<string, Outcome[]>,
): Promise<{ node: MeshNode; bridge: Bridge; client: ScriptedClient; log: string[] }> {
  const node = testMeshNode();
  const spec = resolveBridge(
    { type: 'nats', url: 'nats://127.0.0.1:1', import: [], export: [{ mesh: 'x.>', broker: 'x' }], backoffMinMs: 20, backoffMaxMs: 10_000 },
    0,
    'n',
    NATS_DIALECT,
  );
  const client = new ScriptedClient(script);
  const log: string[] = [];
  const bridge = new Bridge(
    node,
    spec,
    NATS_DIALECT,
    () => client,
    (line) => log.push(line),
  );
  t.after(() => bridge.close());
  await bridge.start();
  assert.equal(bridge.state, 'up');
  return { node, bridge, client, log };
}

function publish(node: MeshNode, id: string): void {
  const result = node.ingest({ id, source: '/resend', type: 't', topic: 'x.y', data: Buffer.from(id), attrs: {}, hops: [] }, 'ws');
  assert.ok(result.ok);
}

/** Lets every queued microtask and immediate run: what a spin would do here, it has done by now. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The delays the bridge announced, in order. */
const announcedDelays = (log: string[]) => log.flatMap((l) => /again in (\d+) ms$/.exec(l)?.slice(1).map(Number) ?? []);

test('an export failing with a plain error is not sent again in the same turn but after growing pauses, ahead of later exports, and the pacing resets once it is through', async (t) => {
  // Full jitter at its top: every pause is the backoff ceiling, 20, 40, 80, 160 ms.
  t.mock.method(Math, 'random', () => 0.999_999);
  const boom = () => new Error('unclassified broker error');
  const { node, bridge, client, log } = await startScripted(t, { a: [boom(), boom(), boom(), boom()], c: [boom()] });

  const aThrough = client.settled('a');
  publish(node, 'a');
  publish(node, 'b'); // arrives while a is held: waits behind it
  await nextTurn();
  // Before the pause (the old core re-sent at once: a microtask loop, a then b then a again...).
  assert.deepEqual(client.attempts, ['a']);
  assert.equal(bridge.status().pending, 2);

  await aThrough;
  await nextTurn();
  assert.deepEqual(client.attempts, ['a', 'a', 'a', 'a', 'a', 'b'], 'a, failing at once, stops each resend; b goes after it');
  assert.deepEqual(announcedDelays(log), [20, 40, 80, 160]);
  const gaps = client.times.slice(1, 5).map((at, i) => at - client.times[i]);
  for (const [i, gap] of gaps.entries()) assert.ok(gap >= [20, 40, 80, 160][i] - 1, `pause ${i} lasted ${gap} ms`);
  let row = bridge.status();
  assert.equal(row.exported, 2);
  assert.equal(row.retries, 4);
  assert.equal(row.pending, 0);
  assert.deepEqual(row.refused, {});
  assert.match(String(row.lastError), /export to x\.y: unclassified broker error/);

  // a went through: the next failure starts again at the shortest pause (else 320 ms).
  const cThrough = client.settled('c');
  publish(node, 'c');
  await cThrough;
  assert.deepEqual(announcedDelays(log), [20, 40, 80, 160, 20]);
  row = bridge.status();
  assert.equal(row.exported, 3);
  assert.equal(row.retries, 5);
});

test('an export failing with a MeshError is refused, counted under its code and never sent again', async (t) => {
  const { node, bridge, client, log } = await startScripted(t, { big: [new MeshError('MG_ERR_EVENT_TOO_LARGE', 'over the broker limit')] });
  const nextThrough = client.settled('next');
  publish(node, 'big');
  publish(node, 'next');
  await nextThrough;
  await nextTurn();
  assert.deepEqual(client.attempts, ['big', 'next']);
  const row = bridge.status();
  assert.deepEqual(row.refused, { MG_ERR_EVENT_TOO_LARGE: 1 });
  assert.equal(row.exported, 1);
  assert.equal(row.retries, 0);
  assert.equal(row.pending, 0);
  assert.deepEqual(announcedDelays(log), []);
  const refused = node.metrics.snapshot().meshgate_bridge_refused_total as Record<string, number>;
  assert.equal(refused['bridge=nats-0,code=MG_ERR_EVENT_TOO_LARGE'], 1);
});

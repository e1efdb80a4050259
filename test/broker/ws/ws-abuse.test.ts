import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { type TestContext, test } from 'node:test';
import WebSocket from 'ws';
import { signHs256 } from '../../../broker/auth/mod.js';
import { freePort, NodeProcess, until } from '../../helpers/mesh.js';
import { ce, FrameClient } from '../../helpers/node.js';

const SECRET = 'abuse-test-secret-0123456789';
const MAX_FRAME = 64 * 1024;

function tokenFor(perms: Record<string, unknown>): string {
  return signHs256({ sub: 'abuse', exp: Math.floor(Date.now() / 1000) + 600, perms }, SECRET);
}

/** Resident memory of a process, bytes (Linux). */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

function url(node: NodeProcess, token?: string): string {
  return token === undefined ? node.wsUrl : `${node.wsUrl}?token=${token}`;
}

async function openClient(t: TestContext, target: string): Promise<FrameClient> {
  const socket = new WebSocket(target, 'meshgate.v1.json');
  const client = new FrameClient(socket, false);
  t.after(() => socket.terminate());
  await client.waitFor((f) => f.op === 'hello');
  return client;
}

/**
 * One abusive connection: garbage frames that each get an error frame,
 * then one frame that gets it closed. Resolves with the close code.
 */
async function abuse(target: string, kind: number): Promise<number> {
  const socket = new WebSocket(target, 'meshgate.v1.json', { maxPayload: 1024 * 1024 });
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', (code: number) => resolve(code)));
  const errs: unknown[] = [];
  let hello = false;
  const wantErrs = 5;
  const gotErrs = new Promise<void>((resolve) =>
    socket.on('message', (raw: Buffer) => {
      const f = JSON.parse(raw.toString()) as { op: string };
      if (f.op === 'hello') hello = true;
      else if (f.op === 'err' && errs.push(f) === wantErrs) resolve();
    }),
  );
  const openedOrClosed = await Promise.race([once(socket, 'open').then(() => true), closed.then(() => false)]);
  if (!openedOrClosed) return closed;
  socket.send('{not json');
  socket.send('[1,2,3]');
  socket.send(JSON.stringify({ op: 'nope' }));
  socket.send(JSON.stringify({ op: 'pub', topic: 'a..b', event: ce('x') }));
  socket.send(JSON.stringify({ op: 'sub', filter: 'x.'.repeat(200) + 'y' }));
  await gotErrs;
  assert.ok(hello);
  // Then one of: a frame over limits.maxFrameBytes (1009), a binary frame on the JSON flavour (1003), a deep JSON bomb.
  if (kind % 3 === 0) socket.send('x'.repeat(MAX_FRAME + 1));
  else if (kind % 3 === 1) socket.send(Buffer.from([0xde, 0xad]));
  else {
    socket.send(`${'['.repeat(30_000)}${']'.repeat(30_000)}`);
    socket.send(Buffer.from([0]));
  }
  return closed;
}

for (const auth of [false, true]) {
  test(`malformed and oversized frames against an ${auth ? 'authenticated' : 'unauthenticated'} endpoint: the node keeps serving others, memory stays bounded`, async (t) => {
    const node = new NodeProcess(t, {
      id: auth ? 'abuse-auth' : 'abuse-open',
      port: await freePort(),
      config: { limits: { maxFrameBytes: MAX_FRAME }, ...(auth ? { auth: { jwt: { secret: SECRET } } } : {}) },
    });
    await node.start();
    const good = auth ? tokenFor({ pub: ['keep.>'], sub: ['keep.>'] }) : undefined;
    const sub = await openClient(t, url(node, good));
    assert.equal((await sub.request({ op: 'sub', filter: 'keep.>' })).op, 'ok');
    const pub = await openClient(t, url(node, good));
    const pid = node.child!.pid!;
    // An abuser with a token may hold one; without auth anyone is an abuser.
    const abuser = auth ? tokenFor({ pub: ['junk.>'], sub: ['junk.>'] }) : undefined;
    let delivered = 0;
    const roundTrip = async () => {
      const id = `keep-${delivered++}`;
      assert.equal((await pub.request({ op: 'pub', topic: 'keep.alive', event: ce(id) })).op, 'ok');
      await sub.waitFor((f) => f.op === 'event' && (f.event as { id: string }).id === id);
    };
    await roundTrip();
    const ROUNDS = 18;
    const WARM_UP = 6;
    const PER_ROUND = 30;
    let baseline = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const closes = await Promise.all(Array.from({ length: PER_ROUND }, (_, i) => abuse(url(node, abuser), i)));
      for (const [i, code] of closes.entries()) assert.equal(code, [1009, 1003, 1003][i % 3], `abuser ${i}`);
      if (auth) {
        // Unauthenticated upgrades, with junk and very long tokens: 401, no socket.
        const statuses = await Promise.all(
          Array.from({ length: PER_ROUND }, (_, i) => {
            const ws = new WebSocket(url(node, i % 2 === 0 ? 'x'.repeat(3000) : `a.${'b'.repeat(50)}.c`), 'meshgate.v1.json');
            return new Promise<number>((resolve) => {
              ws.on('error', () => resolve(0));
              ws.once('unexpected-response', (req, res) => {
                req.destroy();
                req.socket?.destroy();
                resolve(res.statusCode ?? 0);
              });
              ws.once('open', () => resolve(101));
            });
          }),
        );
        assert.ok(
          statuses.every((s) => s === 401),
          statuses.join(','),
        );
      }
      await roundTrip(); // the node still serves the well-behaved pair
      if (round === WARM_UP - 1) baseline = rss(pid); // allocator arenas and JIT settle in the first rounds
    }
    await until('abusive connections are all released', async () => (await node.json<{ connections: number }>('/v1/stats')).connections === 2);
    const stats = await node.json<{ subscriptions: number; metrics: Record<string, unknown> }>('/v1/stats');
    assert.equal(stats.subscriptions, 1);
    const grown = rss(pid) - baseline;
    // Twelve more rounds after the warm-up (360 abusive connections, ~50 MiB
    // of frames) leave the plateau where it was: a leak would grow with them.
    assert.ok(grown < 12 * 1024 * 1024, `RSS grew ${Math.round(grown / 1024 / 1024)} MiB after the warm-up`);
    t.diagnostic(
      `node RSS after warm-up ${Math.round(baseline / 1024 / 1024)} MiB, then ${grown >= 0 ? '+' : ''}${Math.round(grown / 1024)} KiB over ${ROUNDS - WARM_UP} more rounds`,
    );
    await roundTrip();
  });
}

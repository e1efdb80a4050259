import assert from 'node:assert/strict';
import { test } from 'node:test';
import { awaitInterest, awaitLinks, startMesh } from '../../helpers/mesh.js';
import { ce, openClient } from '../../helpers/node.js';

const FORGED = 'fffffffffffffffff';

test('mghlc: stamped by the first node (a forged one discarded), carried unchanged across a peer hop to subscribers, and merged by the receiver', async (t) => {
  const nodes = await startMesh(t, ['a', 'b'], [['a', 'b']]);
  await awaitLinks(nodes, [['a', 'b']]);
  const a = nodes.get('a')!;
  const b = nodes.get('b')!;
  const subA = await openClient(t, a.wsUrl);
  const subB = await openClient(t, b.wsUrl, 'cbor');
  for (const c of [subA, subB]) assert.equal((await c.request({ op: 'sub', filter: 'hlc.>' })).op, 'ok');
  await awaitInterest(nodes, 'hlc.>', ['a', 'b']);
  const pubA = await openClient(t, a.wsUrl);
  const n = 50;
  for (let i = 0; i < n; i++) assert.equal((await pubA.request({ op: 'pub', topic: 'hlc.a', event: ce(`a${i}`, { mghlc: FORGED }) })).op, 'ok');
  await subB.waitFor(() => subB.events().length >= n);
  await subA.waitFor(() => subA.events().length >= n);
  const atA = subA.events().map((f) => (f.event as Record<string, unknown>).mghlc as string);
  const atB = subB.events().map((f) => (f.event as Record<string, unknown>).mghlc as string);
  for (const s of atA) assert.match(s, /^[0-9a-f]{17}$/);
  assert.ok(!atA.includes(FORGED), 'the producer cannot set the clock');
  assert.deepEqual(atB, atA, 'the same stamps on the far side of the hop, JSON and CBOR alike');
  assert.deepEqual([...atA].sort(), atA, 'stamps increase in publish order');
  // b merged a's clock: what b admits now orders after everything it received from a.
  const pubB = await openClient(t, b.wsUrl);
  assert.equal((await pubB.request({ op: 'pub', topic: 'hlc.b', event: ce('b0') })).op, 'ok');
  await subB.waitFor(() => subB.events().length >= n + 1);
  const fromB = (subB.events()[n].event as Record<string, unknown>).mghlc as string;
  assert.ok(fromB > atA[n - 1], `${fromB} > ${atA[n - 1]}`);
});

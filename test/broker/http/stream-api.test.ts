import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tokenFor } from '../../client/jwt.js';
import { startTestNode } from '../../helpers/node.js';
import { testTmpDir } from '../../helpers/tmp.js';

const secret = 'stream-read-secret-0123456789abcdef';

/** A node with auth on and one stream `s` on orders.>, holding a1 (orders.a), b1 (orders.b), a2 (orders.a). */
async function nodeWithEntries(t: Parameters<typeof startTestNode>[0]) {
  const node = await startTestNode(t, {
    auth: { jwt: { secret } },
    storage: { dir: testTmpDir(t, 'stream-api') },
    streams: [{ name: 's', filters: ['orders.>'] }],
  } as never);
  const publisher = tokenFor(secret, { pub: ['orders.>'] });
  for (const [topic, id] of [
    ['orders.a', 'a1'],
    ['orders.b', 'b1'],
    ['orders.a', 'a2'],
  ]) {
    const res = await fetch(`${node.httpUrl}/v1/events/${topic}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${publisher}`,
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-id': id,
        'ce-source': 'test',
        'ce-type': 'order',
      },
      body: '{}',
    });
    assert.equal(res.status, 202, await res.text()); // 202 only once stored in `s`
  }
  return node;
}

const entriesOf = async (url: string, token?: string) => {
  const res = await fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as { error?: string; entries?: Array<{ offset: number; id: string; topic: string }> } };
};

test('with auth on, a stream page lists only the entries on topics the caller may read', async (t) => {
  const node = await nodeWithEntries(t);
  const url = `${node.httpUrl}/v1/streams/s/entries`;

  const anonymous = await entriesOf(url);
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.body.error, 'MG_ERR_AUTH_REQUIRED');
  const forged = await entriesOf(url, tokenFor('another-secret-0123456789abcdefgh', { sub: ['>'] }));
  assert.equal(forged.status, 401);
  assert.match(forged.body.error ?? '', /^MG_ERR_AUTH_/);

  const narrow = await entriesOf(url, tokenFor(secret, { sub: ['orders.a'] }));
  assert.equal(narrow.status, 200);
  assert.deepEqual(
    narrow.body.entries?.map((e) => [e.offset, e.id]),
    [
      [1, 'a1'],
      [3, 'a2'],
    ],
    'orders.b is left out, offsets keep their gap',
  );
  const publishOnly = await entriesOf(url, tokenFor(secret, { pub: ['orders.>'] }));
  assert.deepEqual(publishOnly.body.entries, [], 'publish rights do not read');
  const wide = await entriesOf(url, tokenFor(secret, { sub: ['orders.>'] }));
  assert.deepEqual(
    wide.body.entries?.map((e) => e.id),
    ['a1', 'b1', 'a2'],
  );
});

test('stream API refuses a bad page request, a non-JSON body and an oversized body with their codes', async (t) => {
  const node = await nodeWithEntries(t);
  const reader = tokenFor(secret, { sub: ['orders.>'] });
  for (const query of ['after=-1', 'after=x', 'after=1.5', 'limit=0']) {
    const r = await entriesOf(`${node.httpUrl}/v1/streams/s/entries?${query}`, reader);
    assert.equal(r.status, 400, query);
    assert.equal(r.body.error, 'MG_ERR_STREAM_REQUEST_INVALID', query);
  }
  const admin = tokenFor(secret, { pub: ['_mg.streams.>'] });
  const post = (body: string) =>
    fetch(`${node.httpUrl}/v1/streams`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body });
  const notJson = await post('{"name": "x", ');
  assert.equal(notJson.status, 400);
  assert.equal(((await notJson.json()) as { error: string }).error, 'MG_ERR_STREAM_REQUEST_INVALID');
  const huge = await post(JSON.stringify({ name: 'x', filters: ['x.>'], pad: 'p'.repeat(70_000) }));
  assert.equal(huge.status, 413);
  assert.equal(((await huge.json()) as { error: string }).error, 'MG_ERR_STREAM_TOO_LARGE');
  const list = (await (await fetch(`${node.httpUrl}/v1/streams`)).json()) as { streams: Array<{ name: string }> };
  assert.deepEqual(
    list.streams.map((s) => s.name),
    ['s'],
    'neither refused request created a stream',
  );
});

test('an HTTP publish into a full stream store is refused 507 MG_ERR_STREAM_FULL, single and batched, and nothing is stored', async (t) => {
  const node = await startTestNode(t, {
    storage: { dir: testTmpDir(t, 'stream-full'), engine: 'lmdb', maxBytes: 2_000 },
    streams: [{ name: 's', filters: ['orders.>'] }],
  } as never);
  const binary = (id: string, body: string) =>
    fetch(`${node.httpUrl}/v1/events/orders.a`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': id, 'ce-source': 'test', 'ce-type': 'order' },
      body,
    });
  assert.equal((await binary('fits', '{}')).status, 202);
  const full = await binary('big', JSON.stringify({ pad: 'x'.repeat(3_000) }));
  assert.equal(full.status, 507);
  assert.equal(((await full.json()) as { code: string }).code, 'MG_ERR_STREAM_FULL');
  const batch = await fetch(`${node.httpUrl}/v1/events/orders.a`, {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents-batch+json' },
    body: JSON.stringify([{ specversion: '1.0', id: 'big2', source: 'test', type: 'order', data: { pad: 'y'.repeat(3_000) } }]),
  });
  assert.equal(batch.status, 207);
  const items = ((await batch.json()) as { results: Array<{ status: number; problem?: { code: string } }> }).results;
  assert.deepEqual(
    items.map((r) => [r.status, r.problem?.code]),
    [[507, 'MG_ERR_STREAM_FULL']],
  );
  const entries = ((await (await fetch(`${node.httpUrl}/v1/streams/s/entries`)).json()) as { entries: Array<{ id: string }> }).entries;
  assert.deepEqual(
    entries.map((e) => e.id),
    ['fits'],
  );
});

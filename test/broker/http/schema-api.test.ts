import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { canonicalJson } from '../../../schemas/internal.js';
import { schemaIdOf } from '../../../schemas/mod.js';
import { startTestNode } from '../../helpers/node.js';

/** The id every node gives `schema`: from its content (schemas/schema-id.ts). */
const idOf = (schema: unknown) => schemaIdOf(canonicalJson(schema));

const order = { type: 'object', properties: { id: { type: 'string' } }, additionalProperties: false };

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> & unknown[] }> {
  const res = await fetch(`${base}/v1/schemas${path}`, {
    method,
    headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> & unknown[] };
}

test('the registry API registers, lists, gets by version and id, in the Confluent shape', async (t) => {
  const node = await startTestNode(t);
  const base = node.httpUrl;
  assert.deepEqual((await call(base, 'GET', '/subjects')).json, []);
  let r = await call(base, 'POST', '/subjects/orders/versions', { schema: order, topics: ['orders.>'], types: ['order.created'] });
  assert.deepEqual([r.status, r.json], [200, { id: idOf(order), version: 1 }]);
  // Confluent clients send the schema as a string of JSON text.
  const orderV2 = { ...order, properties: { id: { type: 'string' }, note: { type: 'string' } } };
  r = await call(base, 'POST', '/subjects/orders/versions', { schemaType: 'JSON', schema: JSON.stringify(orderV2) });
  assert.deepEqual([r.status, r.json], [200, { id: idOf(orderV2), version: 2 }]);
  assert.notEqual(idOf(orderV2), idOf(order));
  assert.deepEqual((await call(base, 'GET', '/subjects')).json, ['orders']);
  assert.deepEqual((await call(base, 'GET', '/subjects/orders/versions')).json, [1, 2]);
  assert.deepEqual((await call(base, 'GET', '/subjects/orders/versions/1')).json, {
    subject: 'orders',
    version: 1,
    id: idOf(order),
    schemaType: 'JSON',
    schema: order,
  });
  assert.equal((await call(base, 'GET', '/subjects/orders/versions/latest')).json.version, 2);
  assert.deepEqual((await call(base, 'GET', `/ids/${idOf(order)}`)).json, {
    id: idOf(order),
    schemaType: 'JSON',
    schema: order,
    versions: [{ subject: 'orders', version: 1 }],
  });
  assert.deepEqual((await call(base, 'GET', '/subjects/orders')).json, {
    subject: 'orders',
    compatibility: 'BACKWARD',
    topics: ['orders.>'],
    types: ['order.created'],
    versions: [1, 2],
  });
  // The node's registry is the one validatorFor() reads.
  assert.equal(node.schemas.validatorFor('orders.eu', 'other')!({ id: 1 }), false);
  for (const [path, code] of [
    ['/subjects/nope/versions', 'MG_ERR_SCHEMA_NOT_FOUND'],
    ['/subjects/orders/versions/9', 'MG_ERR_SCHEMA_NOT_FOUND'],
    ['/ids/77', 'MG_ERR_SCHEMA_NOT_FOUND'],
    ['/subjects/orders/versions/x', 'MG_ERR_SCHEMA_INVALID'],
    ['/ids/2147483648', 'MG_ERR_SCHEMA_INVALID'],
  ] as const) {
    const res = await call(base, 'GET', path);
    assert.equal(res.status, code === 'MG_ERR_SCHEMA_NOT_FOUND' ? 404 : 422, path);
    assert.equal(res.json.error, code, path);
  }
});

test('an incompatible version is 409 with the reasons; the compatibility endpoint answers is_compatible and messages', async (t) => {
  const node = await startTestNode(t);
  const base = node.httpUrl;
  await call(base, 'POST', '/subjects/orders/versions', { schema: order });
  const stricter = { ...order, required: ['id'] };
  const refused = await call(base, 'POST', '/subjects/orders/versions', { schema: stricter });
  assert.equal(refused.status, 409);
  assert.equal(refused.json.error, 'MG_ERR_SCHEMA_INCOMPATIBLE');
  assert.deepEqual(refused.json.messages, ["BACKWARD against version 1: property 'id' became required at /properties/id"]);
  assert.deepEqual((await call(base, 'POST', '/compatibility/subjects/orders/versions/latest', { schema: stricter })).json, {
    is_compatible: false,
    messages: ["BACKWARD against version 1: property 'id' became required at /properties/id"],
  });
  assert.deepEqual(
    (await call(base, 'POST', '/compatibility/subjects/orders/versions/latest', { schema: { ...order, properties: { id: { type: ['string', 'null'] } } } }))
      .json,
    { is_compatible: true, messages: [] },
  );
  // Switching the subject to FORWARD makes the stricter schema acceptable.
  assert.deepEqual((await call(base, 'PUT', '/config/orders', { compatibility: 'FORWARD' })).json, { compatibility: 'FORWARD' });
  assert.deepEqual((await call(base, 'GET', '/config/orders')).json, { compatibilityLevel: 'FORWARD' });
  assert.deepEqual((await call(base, 'GET', '/config')).json, { compatibilityLevel: 'BACKWARD' });
  assert.deepEqual((await call(base, 'POST', '/subjects/orders/versions', { schema: stricter })).json, { id: idOf(stricter), version: 2 });
  const badMode = await call(base, 'PUT', '/config/orders', { compatibility: 'SIDEWAYS' });
  assert.deepEqual([badMode.status, badMode.json.error], [422, 'MG_ERR_SCHEMA_INVALID']);
});

test('invalid schemas are 422, bodies that are not JSON 400, binding conflicts 409', async (t) => {
  const node = await startTestNode(t);
  const base = node.httpUrl;
  const invalid = await call(base, 'POST', '/subjects/s/versions', { schema: { type: 'object', propertiez: {} } });
  assert.equal(invalid.status, 422);
  assert.equal(invalid.json.error, 'MG_ERR_SCHEMA_INVALID');
  assert.match(String(invalid.json.message), /unknown keyword: "propertiez"/);
  const missing = await call(base, 'POST', '/subjects/s/versions', { topics: ['a.>'] });
  assert.deepEqual([missing.status, missing.json.error], [422, 'MG_ERR_SCHEMA_INVALID']);
  const notJson = await call(base, 'POST', '/subjects/s/versions', '{"schema":');
  assert.deepEqual([notJson.status, notJson.json.error], [400, 'MG_ERR_SCHEMA_REQUEST_INVALID']);
  await call(base, 'POST', '/subjects/a/versions', { schema: order, topics: ['x.>'] });
  const conflict = await call(base, 'POST', '/subjects/b/versions', { schema: order, topics: ['x.>'] });
  assert.deepEqual([conflict.status, conflict.json.error], [409, 'MG_ERR_SCHEMA_BINDING_CONFLICT']);
  const rebound = await call(base, 'PUT', '/subjects/a/bindings', { topics: ['y.>'], types: ['t'] });
  assert.deepEqual(rebound.json, { subject: 'a', compatibility: 'BACKWARD', topics: ['y.>'], types: ['t'], versions: [1] });
});

test('a body over 1 MiB is refused with 413, whether Content-Length announces it or it is streamed', async (t) => {
  const node = await startTestNode(t);
  const big = JSON.stringify({ schema: { description: 'x'.repeat(1_100_000) } });
  const announced = await call(node.httpUrl, 'POST', '/subjects/s/versions', big);
  assert.deepEqual([announced.status, announced.json.error], [413, 'MG_ERR_SCHEMA_TOO_LARGE']);
  // Chunked: no Content-Length, the limit applies as the data arrives.
  const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      `${node.httpUrl}/v1/schemas/subjects/s/versions`,
      { method: 'POST', headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    for (let i = 0; i < 20; i++) req.write(big.slice(i * 60_000, (i + 1) * 60_000));
    req.end();
  });
  assert.equal(streamed.status, 413);
  assert.equal((JSON.parse(streamed.body) as Record<string, string>).error, 'MG_ERR_SCHEMA_TOO_LARGE');
  assert.deepEqual(node.schemas.subjects(), []);
});

test('with auth on, changing a subject needs publish rights on _mg.schemas.<subject>; reading stays open', async (t) => {
  const { tokenFor } = await import('../../client/jwt.js');
  const secret = 'schema-write-secret-0123456789abcdef';
  const node = await startTestNode(t, { auth: { jwt: { secret } } } as never);
  const url = `${node.httpUrl}/v1/schemas/subjects/orders/versions`;
  const body = JSON.stringify({ schema: { type: 'object' } });
  const post = (token?: string) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body });

  const anonymous = await post();
  assert.equal(anonymous.status, 401);
  assert.equal(((await anonymous.json()) as { error: string }).error, 'MG_ERR_AUTH_REQUIRED');
  // Rights on every ordinary topic do not reach the reserved _mg. space.
  const publisher = await post(tokenFor(secret, { pub: ['>'], sub: ['>'] }));
  assert.equal(publisher.status, 403);
  assert.equal(((await publisher.json()) as { error: string }).error, 'MG_ERR_AUTH_FORBIDDEN');
  const otherSubject = await post(tokenFor(secret, { pub: ['_mg.schemas.payments'] }));
  assert.equal(otherSubject.status, 403);
  assert.equal(((await (await fetch(`${node.httpUrl}/v1/schemas/subjects`)).json()) as unknown[]).length, 0, 'nothing was registered');

  const admin = await post(tokenFor(secret, { pub: ['_mg.schemas.orders'] }));
  assert.equal(admin.status, 200);
  assert.deepEqual(await (await fetch(`${node.httpUrl}/v1/schemas/subjects`)).json(), ['orders']);
});

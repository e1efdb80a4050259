/** The CloudEvents HTTP binding's sending side (webhooks) read back by its receiving side: every attribute and the data bytes survive. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MeshEvent } from '../../../broker/event/mod.js';
import { decodeHttpEvents, encodeHttpEvent } from '../../../broker/http/internal.js';

const event: MeshEvent = {
  id: 'id 1 €',
  source: '/shop?q=1',
  type: 'order.placed',
  topic: 'orders.eu',
  data: Buffer.from('{"total":3}'),
  attrs: { datacontenttype: 'application/json', subject: 'Straße 5 😀', time: '2026-12-04T10:00:00Z', tenant: 'a%b', priority: 3 },
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  origin: { node: 'n1', protocol: 'ws', topic: 'orders/eu' },
  hops: [],
};

test('binary mode: ce- headers percent-encoded, datacontenttype as Content-Type, data as the body; decoded back to the same event', () => {
  const { headers, body } = encodeHttpEvent(event, 'binary');
  assert.equal(headers['ce-id'], 'id%201%20%E2%82%AC');
  assert.equal(headers['content-type'], 'application/json');
  assert.equal(headers['ce-datacontenttype'], undefined);
  assert.equal(headers.traceparent, event.traceparent);
  assert.equal(headers['ce-mgorigin'], 'n1');
  assert.deepEqual(Buffer.from(body), event.data);
  const ce = Object.entries(headers).filter(([n]) => n.startsWith('ce-'));
  const decoded = decodeHttpEvents(ce, headers['content-type']!, Buffer.from(body), 'orders.eu');
  assert.equal(decoded.mode, 'binary');
  if (decoded.mode !== 'binary' || !decoded.result.ok) throw new Error('not decoded');
  const back = decoded.result.event;
  assert.equal(back.id, event.id);
  assert.equal(back.source, event.source);
  assert.equal(back.type, event.type);
  assert.equal(back.attrs.subject, event.attrs.subject);
  assert.equal(back.attrs.tenant, 'a%b');
  assert.equal(back.attrs.time, event.attrs.time);
  assert.deepEqual(Buffer.from(back.data!), event.data);
});

test('structured mode: the JSON format as the body, application/cloudevents+json; decoded back to the same event', () => {
  const { headers, body } = encodeHttpEvent(event, 'structured');
  assert.match(headers['content-type']!, /^application\/cloudevents\+json/);
  const decoded = decodeHttpEvents([], headers['content-type']!, Buffer.from(body), 'orders.eu');
  if (decoded.mode !== 'structured' || !decoded.result.ok) throw new Error('not decoded');
  const back = decoded.result.event;
  assert.equal(back.id, event.id);
  assert.equal(back.attrs.subject, event.attrs.subject);
  assert.equal(back.attrs.priority, 3);
  assert.deepEqual(JSON.parse(Buffer.from(back.data!).toString()), { total: 3 });
});

test('binary mode without data has an empty body and no Content-Type; data without datacontenttype goes as application/json', () => {
  const bare = encodeHttpEvent({ ...event, data: undefined, attrs: {} }, 'binary');
  assert.equal(bare.body.byteLength, 0);
  assert.equal(bare.headers['content-type'], undefined);
  const untyped = encodeHttpEvent({ ...event, attrs: {} }, 'binary');
  assert.equal(untyped.headers['content-type'], 'application/json');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MeshEvent } from '../../../broker/event/mod.js';
import { DEAD_LETTER_TYPE, deadLetter, deadLetterId, deadLetterTopic } from '../../../broker/pipeline/internal.js';
import { checkTopic } from '../../../routing/mod.js';

const limits = { maxLength: 256, maxTokens: 16, maxWildcards: 8 };
const fits = (t: string) => checkTopic(t, limits) === null;

function original(data: Uint8Array | undefined, attrs: MeshEvent['attrs'] = { datacontenttype: 'application/json' }): MeshEvent {
  return { id: 'o-1', source: '/shop', type: 'order.created', topic: 'orders.eu', data, attrs, hops: [] };
}

test('deadLetterTopic() prefixes _mg.deadletter. to the original topic', () => {
  assert.equal(deadLetterTopic('db.orders.insert', fits), '_mg.deadletter.db.orders.insert');
});

test('deadLetterTopic() keeps as many leading tokens as the topic limits allow, and gives up only when none fits', () => {
  const deep = Array.from({ length: 16 }, (_, i) => `t${i}`).join('.');
  assert.equal(checkTopic(deep, limits), null, 'the original is within the limits');
  assert.equal(deadLetterTopic(deep, fits), `_mg.deadletter.${Array.from({ length: 14 }, (_, i) => `t${i}`).join('.')}`);
  const long = `${'a'.repeat(250)}.b`;
  assert.equal(deadLetterTopic(long, fits), null, 'even the first token is too long with the prefix');
});

test('deadLetterId() is the same for the same (topic, source, id) and differs when the split between them moves', () => {
  assert.equal(deadLetterId('orders.eu', '/shop', 'o-1'), deadLetterId('orders.eu', '/shop', 'o-1'));
  assert.match(deadLetterId('orders.eu', '/shop', 'o-1'), /^[0-9a-f]{64}$/);
  assert.notEqual(deadLetterId('t', 'a', 'bc'), deadLetterId('t', 'ab', 'c'));
  assert.notEqual(deadLetterId('a.b', 'c', 'x'), deadLetterId('a', 'b.c', 'x'));
});

test('deadLetterId() differs for the same (source, id) on two topics whose letters share a cut topic', () => {
  // 15 tokens: with the 2 of the prefix, over the 16-token limit, so both letters go to _mg.deadletter.t0...t13.
  const base = Array.from({ length: 14 }, (_, i) => `t${i}`).join('.');
  const [mine, theirs] = [`${base}.mine`, `${base}.theirs`];
  assert.equal(deadLetterTopic(mine, fits), deadLetterTopic(theirs, fits));
  assert.notEqual(deadLetterId(mine, '/shop', 'o-1'), deadLetterId(theirs, '/shop', 'o-1'));
});

test('deadLetter() follows docs/protocol.md: type, source, subject, JSON data with the reasons and the original structured event', () => {
  const reasons = [{ path: '/after/total', message: 'must be integer' }];
  const letter = deadLetter(original(Buffer.from('{"after" : {"total":"x"}}')), reasons, {
    nodeId: 'eu-1',
    topic: '_mg.deadletter.orders.eu',
    maxDataBytes: 262_144,
    now: () => 1_700_000_000_000,
  });
  assert.equal(letter.type, DEAD_LETTER_TYPE);
  assert.equal(letter.source, 'meshgate://eu-1');
  assert.equal(letter.topic, '_mg.deadletter.orders.eu');
  assert.equal(letter.id, deadLetterId('orders.eu', '/shop', 'o-1'));
  assert.deepEqual(letter.attrs, { datacontenttype: 'application/json', subject: 'orders.eu', time: '2023-11-14T22:13:20.000Z' });
  assert.deepEqual(letter.hops, []);
  // The original's data bytes are spliced in as sent (spaces kept).
  assert.equal(
    Buffer.from(letter.data!).toString(),
    '{"reasons":[{"path":"/after/total","message":"must be integer"}],"event":{"specversion":"1.0","id":"o-1","source":"/shop","type":"order.created","datacontenttype":"application/json","data":{"after" : {"total":"x"}}}}',
  );
});

test('deadLetter() leaves out original data that would make it larger than maxDataBytes, and says how many bytes', () => {
  const big = Buffer.alloc(900, 0xff);
  const letter = deadLetter(original(big, { datacontenttype: 'application/octet-stream' }), [{ path: '', message: 'not JSON' }], {
    nodeId: 'n',
    topic: '_mg.deadletter.orders.eu',
    maxDataBytes: 1000,
  });
  const body = JSON.parse(Buffer.from(letter.data!).toString()) as Record<string, unknown>;
  assert.ok(letter.data!.byteLength <= 1000);
  assert.equal(body.omittedDataBytes, 900);
  assert.deepEqual(body.event, { specversion: '1.0', id: 'o-1', source: '/shop', type: 'order.created', datacontenttype: 'application/octet-stream' });
  // Small enough: the data stays (as data_base64 for bytes).
  const small = JSON.parse(
    Buffer.from(
      deadLetter(original(Buffer.from([1, 2, 3]), { datacontenttype: 'application/octet-stream' }), [], { nodeId: 'n', topic: 't', maxDataBytes: 1000 }).data!,
    ).toString(),
  ) as { event: Record<string, unknown>; omittedDataBytes?: number };
  assert.equal(small.event.data_base64, 'AQID');
  assert.equal(small.omittedDataBytes, undefined);
});

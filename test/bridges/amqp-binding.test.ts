/**
 * bridges/amqp/binding.ts decodeAmqp on field-table values as amqplib
 * decodes them (lib/codec.js decodeFields): the edges of the CloudEvents
 * AMQP binding's type mapping (§3.1.3.2) that a broker round trip does
 * not reach cheaply. The round trip itself is amqp-typed-headers.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeAmqp } from '../../bridges/amqp/internal.js';

const BASE = { cloudEvents_specversion: '1.0', cloudEvents_id: 'b-1', cloudEvents_source: '/amqp', cloudEvents_type: 't' };
const decode = (headers: Record<string, unknown>) => decodeAmqp(Buffer.from('1'), 'application/json', { ...BASE, ...headers }, 'a.b');

test('decodeAmqp() refuses a decimal, an array or a table header naming the attribute, rather than dropping it', () => {
  for (const [value, type] of [
    [{ '!': 'decimal', value: { places: 2, digits: 1 } }, 'decimal'],
    [[1, 2], 'array'],
    [{ value: 'x' }, 'table'],
  ] as const) {
    const r = decode({ cloudEvents_price: value });
    assert.ok(r !== null && !r.ok, type);
    assert.equal(r.problem.attribute, 'price');
    assert.match(r.problem.reason, new RegExp(`^is an AMQP ${type};`));
  }
});

test('decodeAmqp() refuses a timestamp RFC 3339 cannot write, and accepts the last one it can', () => {
  const late = decode({ cloudEvents_time: { '!': 'timestamp', value: 253_402_300_800 } });
  assert.ok(late !== null && !late.ok);
  assert.equal(late.problem.attribute, 'time');
  const last = decode({ cloudEvents_time: { '!': 'timestamp', value: 253_402_300_799 } });
  assert.ok(last?.ok);
  assert.equal(last.event.attrs.time, '9999-12-31T23:59:59Z');
});

test('decodeAmqp() reads a byte-array id as UTF-8 text and refuses one that is not UTF-8', () => {
  const ok = decode({ cloudEvents_id: Buffer.from('ü-1') });
  assert.ok(ok?.ok);
  assert.equal(ok.event.id, 'ü-1');
  const bad = decode({ cloudEvents_id: Buffer.from([0xff]) });
  assert.ok(bad !== null && !bad.ok);
  assert.equal(bad.problem.attribute, 'id');
});

test('decodeAmqp() drops bad trace context and provenance instead of refusing the event', () => {
  const r = decode({
    cloudEvents_traceparent: [1],
    cloudEvents_tracestate: Buffer.from([0xff]),
    cloudEvents_mgorigin: { '!': 'decimal', value: { places: 0, digits: 1 } },
  });
  assert.ok(r?.ok);
  assert.equal(r.event.traceparent, undefined);
  assert.equal(r.event.tracestate, undefined);
});

test('decodeAmqp() reads an integral double as an Integer and refuses a fraction, as for any Integer extension', () => {
  const whole = decode({ cloudEvents_n: 3.0 });
  assert.ok(whole?.ok);
  assert.equal(whole.event.attrs.n, 3);
  const frac = decode({ cloudEvents_n: 2.5 });
  assert.ok(frac !== null && !frac.ok);
  assert.equal(frac.problem.attribute, 'n');
});

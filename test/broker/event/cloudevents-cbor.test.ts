import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decode as cborDecode, Encoder } from 'cbor-x';
import { WHOLE_EVENT } from '../../../broker/event/internal.js';
import type { MeshEvent } from '../../../broker/event/mod.js';
import {
  CBOR_OPTIONS,
  decodeEventCbor,
  decodeStructuredJson,
  encodeEventCbor,
  encodeEventMap,
  encodeStructuredJson,
  eventFromMap,
} from '../../../broker/event/mod.js';

const plain = new Encoder({ ...CBOR_OPTIONS });

function full(overrides: Partial<MeshEvent> = {}): MeshEvent {
  return {
    id: 'e-1',
    source: 'urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66',
    type: 'com.example.reading',
    topic: 'sensors.1',
    data: Buffer.from([0, 1, 2, 0xff, 0x80]),
    attrs: {
      time: '2024-05-01T12:00:00.5Z',
      subject: 'sub',
      datacontenttype: 'application/octet-stream',
      dataschema: 'https://e.com/s',
      count: -2147483648,
      on: true,
      note: 'é 東京 😀',
    },
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    tracestate: 'congo=t61rcWkgMzE',
    origin: { node: 'eu-1', protocol: 'amqp', topic: 'sensors.#' },
    hlc: '0018f33a5d0000001',
    hops: [
      { node: 'eu-1', region: 'eu-west', time: 1714557600000 },
      { node: 'us@1,%', region: '', time: 0 },
    ],
    ...overrides,
  };
}

function decodeOk(bytes: Uint8Array, trust = false, topic = 'sensors.1'): MeshEvent {
  const r = decodeEventCbor(bytes, topic, { trustProvenance: trust });
  if (!r.ok) assert.fail(`expected an event, got ${r.problem.attribute}: ${r.problem.reason}`);
  return r.event;
}

function problemOf(map: unknown): string {
  const r = decodeEventCbor(plain.encode(map), 't');
  if (r.ok) assert.fail('expected a problem');
  return r.problem.attribute;
}

test('encodeEventCbor() then decodeEventCbor() (trusted) gives back the same event', () => {
  const e = full();
  assert.deepEqual(decodeOk(encodeEventCbor(e), true), e);
});

test('the CBOR map uses the CloudEvents attribute names, data as a byte string and mghops as [node, region, timeMs] arrays', () => {
  const map = cborDecode(encodeEventCbor(full())) as Record<string, unknown>;
  assert.equal(map.specversion, '1.0');
  assert.equal(map.id, 'e-1');
  assert.equal(map.time, '2024-05-01T12:00:00.5Z');
  assert.equal(map.count, -2147483648);
  assert.equal(map.mgorigin, 'eu-1');
  assert.equal(map.mgprotocol, 'amqp');
  assert.equal(map.mgtopic, 'sensors.#');
  assert.deepEqual(map.mghops, [
    ['eu-1', 'eu-west', 1714557600000],
    ['us@1,%', '', 0],
  ]);
  assert.ok(map.data instanceof Uint8Array);
  assert.deepEqual([...(map.data as Uint8Array)], [0, 1, 2, 0xff, 0x80]);
});

test('data is a plain byte string (major type 2), never tag 64, even from a plain Uint8Array and a default cbor-x encoder', () => {
  const data = new Uint8Array([9, 8, 7]);
  const lead = new Encoder({ useRecords: false, mapsAsObjects: true }); // tagUint8Array left at its default
  for (const bytes of [encodeEventCbor(full({ data, hops: [], origin: undefined })), lead.encode({ op: 'event', event: encodeEventMap(full({ data })) })]) {
    const hex = Buffer.from(bytes).toString('hex');
    assert.ok(hex.includes('6464617461' + '43090807'), hex); // "data" then bstr(3) 09 08 07
    assert.ok(!hex.includes('d840'), 'no tag 64');
  }
});

test('provenance is omitted when absent and when hops are empty', () => {
  const map = cborDecode(encodeEventCbor(full({ origin: undefined, hops: [] }))) as Record<string, unknown>;
  for (const k of ['mgorigin', 'mgprotocol', 'mgtopic', 'mghops']) assert.equal(k in map, false, k);
});

test('provenance from an untrusted sender is stripped; kept when trusted', () => {
  const bytes = encodeEventCbor(full());
  const untrusted = decodeOk(bytes, false);
  assert.equal(untrusted.origin, undefined);
  assert.deepEqual(untrusted.hops, []);
  assert.equal(
    Object.keys(untrusted.attrs).some((k) => k.startsWith('mg')),
    false,
  );
  const trusted = decodeOk(bytes, true);
  assert.deepEqual(trusted.origin, full().origin);
  assert.deepEqual(trusted.hops, full().hops);
});

test('malformed trusted mghops is refused, naming mghops', () => {
  for (const hops of ['a@b@1', [['a', 'b']], [['a', 'b', -1]], [['a', 'b', 1.5]], [[1, 'b', 1]], [{ node: 'a' }]]) {
    const map = { ...encodeEventMap(full({ origin: undefined, hops: [] })), mghops: hops };
    const r = eventFromMap(map, 't', { trustProvenance: true });
    assert.equal(!r.ok && r.problem.attribute, 'mghops', JSON.stringify(hops));
  }
});

test('decoded data is a copy: overwriting the transport buffer afterwards leaves the event intact', () => {
  const encoded = encodeEventCbor(full());
  const transport = new Uint8Array(new ArrayBuffer(encoded.byteLength + 16), 8, encoded.byteLength); // a view, as uWS gives
  transport.set(encoded);
  const e = decodeOk(transport, true);
  transport.fill(0xaa);
  assert.deepEqual([...e.data!], [0, 1, 2, 0xff, 0x80]);
  assert.notEqual(e.data!.buffer, transport.buffer);
});

test('eventFromMap() copies data by default and shares it with copyData: false', () => {
  const view = new Uint8Array([1, 2, 3]);
  const map = { specversion: '1.0', id: '1', source: '/s', type: 't', data: view };
  const copied = eventFromMap(map, 't');
  const shared = eventFromMap(map, 't', { copyData: false });
  assert.ok(copied.ok && shared.ok);
  view[0] = 9;
  assert.equal(copied.event.data![0], 1);
  assert.equal(shared.event.data![0], 9);
});

test('encoded bytes stay valid after many later encodes (cbor-x never rewrites a returned buffer)', () => {
  const first = encodeEventCbor(full());
  const snapshot = Buffer.from(first);
  for (let i = 0; i < 2000; i++) encodeEventCbor(full({ id: `x${i}`, data: Buffer.alloc(100, i) }));
  assert.deepEqual(Buffer.from(first), snapshot);
});

test('a text string data is taken as UTF-8 bytes on ingest', () => {
  const r = eventFromMap({ specversion: '1.0', id: '1', source: '/s', type: 't', data: 'héllo' }, 't');
  assert.ok(r.ok);
  assert.equal(Buffer.from(r.event.data!).toString('utf8'), 'héllo');
});

test('data that is neither bytes nor text is refused, naming data', () => {
  assert.equal(problemOf({ specversion: '1.0', id: '1', source: '/s', type: 't', data: 5 }), 'data');
  assert.equal(problemOf({ specversion: '1.0', id: '1', source: '/s', type: 't', data: { a: 1 } }), 'data');
});

test('data_base64 is a JSON format member and is refused in CBOR', () => {
  assert.equal(problemOf({ specversion: '1.0', id: '1', source: '/s', type: 't', data_base64: 'AAEC' }), 'data_base64');
});

test('the same attribute rules apply as in JSON', () => {
  assert.equal(problemOf({ id: '1', source: '/s', type: 't' }), 'specversion');
  assert.equal(problemOf({ specversion: '1.0', source: '/s', type: 't' }), 'id');
  assert.equal(problemOf({ specversion: '1.0', id: '1', source: 'has space', type: 't' }), 'source');
  assert.equal(problemOf({ specversion: '1.0', id: '1', source: '/s', type: 't', time: 'yesterday' }), 'time');
  assert.equal(problemOf({ specversion: '1.0', id: '1', source: '/s', type: 't', Ext: 1 }), 'Ext');
  assert.equal(problemOf({ specversion: '1.0', id: '1', source: '/s', type: 't', ext: [1] }), 'ext');
  assert.equal(problemOf({ specversion: '1.0', id: '1', source: '/s', type: 't', ext: 2 ** 40 }), 'ext');
});

test('CBOR items that are not a map are refused as a whole event', () => {
  for (const item of [[1, 2], 5, 'str', null, true, new Uint8Array([1])]) {
    assert.equal(problemOf(item), WHOLE_EVENT, String(item));
  }
});

test('every truncated prefix of an encoded event is a problem, never a throw', () => {
  const encoded = encodeEventCbor(full());
  for (let i = 0; i < encoded.byteLength; i++) {
    const r = decodeEventCbor(encoded.subarray(0, i), 't', { trustProvenance: true });
    assert.equal(r.ok, false, `prefix ${i}`);
  }
  assert.equal(decodeEventCbor(encoded, 't').ok, true, 'the decoder still works after all those failures');
});

test('trailing bytes after the event map are a problem', () => {
  const encoded = Buffer.concat([encodeEventCbor(full()), Buffer.from([0x01])]);
  const r = decodeEventCbor(encoded, 't');
  assert.equal(!r.ok && r.problem.attribute, WHOLE_EVENT);
});

test('garbage bytes never throw', () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const base = encodeEventCbor(full());
  for (let n = 0; n < 5000; n++) {
    let bytes: Uint8Array;
    if (n % 2 === 0) {
      bytes = Uint8Array.from(base);
      for (let k = 0; k < 1 + rand(4); k++) bytes[rand(bytes.length)] = rand(256);
    } else {
      bytes = new Uint8Array(rand(40));
      for (let k = 0; k < bytes.length; k++) bytes[k] = rand(256);
    }
    const r = decodeEventCbor(bytes, 't', { trustProvenance: n % 4 === 0 });
    if (r.ok) {
      assert.doesNotThrow(() => encodeEventCbor(r.event));
      assert.doesNotThrow(() => encodeStructuredJson(r.event));
    }
  }
});

// --- JSON <-> CBOR -------------------------------------------------------

const JSON_EVENTS = [
  '{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{ "a" : 1.0e3, "b" : [ ] }}',
  '{"specversion":"1.0","id":"2","source":"/s","type":"t","datacontenttype":"text/plain","data":"plain \\n text é"}',
  '{"specversion":"1.0","id":"3","source":"/s","type":"t","datacontenttype":"image/png","data_base64":"iVBORw0KGgo="}',
  '{"specversion":"1.0","id":"4","source":"/s","type":"t","time":"2018-04-05T17:31:00Z","x1":5,"x2":false,"x3":"v"}',
  '{"specversion":"1.0","id":"5","source":"/s","type":"t","traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","mgorigin":"n","mgprotocol":"ws","mgtopic":"a.b","mghops":"n@r@1","data":null}',
];

for (const text of JSON_EVENTS) {
  test(`JSON -> CBOR -> JSON keeps the attributes and the data bytes: ${text.slice(50, 90)}`, () => {
    const fromJson = decodeStructuredJson(text, 'a.b', { trustProvenance: true });
    assert.ok(fromJson.ok);
    const viaCbor = decodeOk(encodeEventCbor(fromJson.event), true, 'a.b');
    assert.deepEqual(viaCbor, fromJson.event);
    const backToJson = decodeStructuredJson(encodeStructuredJson(viaCbor), 'a.b', { trustProvenance: true });
    assert.ok(backToJson.ok);
    assert.deepEqual(backToJson.event, fromJson.event);
  });
}

test('CBOR -> JSON -> CBOR keeps binary, text and JSON data byte for byte', () => {
  const cases: [string | undefined, Buffer][] = [
    [undefined, Buffer.from('{"k" : [1, 2]}')],
    ['application/json', Buffer.from('  {"padded":true}  ')],
    ['text/csv', Buffer.from('a,b\n1,2\n')],
    ['application/octet-stream', Buffer.from([0, 255, 128, 10, 13])],
    [undefined, Buffer.from([0xff, 0xfe])],
  ];
  for (const [ct, data] of cases) {
    const e = full({ data, attrs: ct === undefined ? {} : { datacontenttype: ct } });
    const fromCbor = decodeOk(encodeEventCbor(e), true);
    const viaJson = decodeStructuredJson(encodeStructuredJson(fromCbor), 'sensors.1', { trustProvenance: true });
    assert.ok(viaJson.ok);
    assert.deepEqual(viaJson.event, fromCbor);
    assert.deepEqual(Buffer.from(viaJson.event.data!), data);
  }
});

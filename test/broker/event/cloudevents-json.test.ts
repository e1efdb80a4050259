import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WHOLE_EVENT } from '../../../broker/event/internal.js';
import type { MeshEvent } from '../../../broker/event/mod.js';
import { decodeStructuredJson, encodeStructuredJson } from '../../../broker/event/mod.js';

const HEAD = '"specversion":"1.0","id":"A234-1234-1234","source":"/mycontext","type":"com.example.someevent"';

function decodeOk(text: string, trust = false): MeshEvent {
  const r = decodeStructuredJson(text, 'orders.eu', { trustProvenance: trust });
  if (!r.ok) assert.fail(`expected an event, got ${r.problem.attribute}: ${r.problem.reason}`);
  return r.event;
}

function problemOf(text: string): string {
  const r = decodeStructuredJson(text, 'orders.eu');
  if (r.ok) assert.fail('expected a problem');
  return r.problem.attribute;
}

function utf8(bytes: Uint8Array | undefined): string {
  assert.ok(bytes !== undefined, 'event has data');
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

function event(overrides: Partial<MeshEvent>): MeshEvent {
  return {
    id: 'e-1',
    source: '/sensors/1',
    type: 'com.example.reading',
    topic: 'sensors.1',
    data: undefined,
    attrs: {},
    traceparent: undefined,
    tracestate: undefined,
    origin: undefined,
    hops: [],
    ...overrides,
  };
}

test('decodeStructuredJson() reads the JSON format §3.2 example with an XML string and an unset extension', () => {
  const e = decodeOk(`{${HEAD},"time":"2018-04-05T17:31:00Z","comexampleextension1":"value","comexampleothervalue":5,
    "unsetextension": null,"datacontenttype":"application/xml","data":"<much wow=\\"xml\\"/>"}`);
  assert.equal(e.id, 'A234-1234-1234');
  assert.equal(e.source, '/mycontext');
  assert.equal(e.type, 'com.example.someevent');
  assert.equal(e.topic, 'orders.eu');
  assert.deepEqual(e.attrs, {
    time: '2018-04-05T17:31:00Z',
    comexampleextension1: 'value',
    comexampleothervalue: 5,
    datacontenttype: 'application/xml',
  });
  assert.equal(utf8(e.data), '<much wow="xml"/>', 'non-JSON content type: the string is the content (§3.1.2)');
  assert.deepEqual(e.hops, []);
  assert.equal(e.origin, undefined);
});

test('decodeStructuredJson() keeps a string data with no datacontenttype as JSON text, quotes included (§3.2 example D)', () => {
  const e = decodeOk(`{${HEAD},"subject":null,"data" : "I'm just a string"}`);
  assert.equal(utf8(e.data), `"I'm just a string"`);
  assert.equal('subject' in e.attrs, false, 'null subject is unset');
});

test('decodeStructuredJson() without data gives an event without data', () => {
  assert.equal(decodeOk(`{${HEAD}}`).data, undefined);
});

test('"data": null is an explicit null payload, distinct from no data (§3.1.1)', () => {
  assert.equal(utf8(decodeOk(`{${HEAD},"data":null}`).data), 'null');
});

// Each case: the data value exactly as a producer might write it.
const JSON_VALUES = [
  '{ "a" : 1 }',
  '{"appinfoA" : "abc", "appinfoB" : 123, "appinfoC" : true}',
  '[1,[2,{"x":[]}],{},{"y":{"z":[[[]]]}}]',
  '"esc \\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\ud83d\\ude00 é 😀 東京"',
  '1.0e3',
  '-0.0',
  '12345678901234567890123',
  'true',
  'null',
  '{"data":{"data":"\\"data\\": 1"}}',
  '{\n\t"multi" :\r\n [ 1 ,\t2 ]\n}',
  '"}{][,:"',
  '{"\\u0064ata":"not the top-level member"}',
];

for (const raw of JSON_VALUES) {
  test(`JSON data ${JSON.stringify(raw)} keeps its bytes exactly through decode and encode (JSON format §3.1, no re-serialisation)`, () => {
    for (const ct of [undefined, 'application/json', 'application/vnd.x+json; charset=utf-8', 'text/json']) {
      const ctMember = ct === undefined ? '' : `,"datacontenttype":${JSON.stringify(ct)}`;
      // data first, in the middle and last, with odd whitespace around it
      for (const text of [
        `{"data":${raw},${HEAD}${ctMember}}`,
        `{${HEAD},"data"  :\n ${raw}  \t,"x1":1${ctMember}}`,
        `{ ${HEAD}${ctMember} , "data":${raw} }`,
      ]) {
        const e = decodeOk(text);
        assert.equal(utf8(e.data), raw, text);
        const encoded = encodeStructuredJson(e);
        assert.ok(encoded.includes(`"data":${raw}`), `spliced verbatim: ${encoded}`);
        assert.equal(utf8(decodeOk(encoded).data), raw);
      }
    }
  });
}

test('a member key written with escapes ("d\\u0061ta") is the data member, as JSON.parse reads it', () => {
  const e = decodeOk(`{${HEAD},"d\\u0061ta": {"k" : 1}}`);
  assert.equal(utf8(e.data), '{"k" : 1}');
});

test('with duplicate data members the last one wins, as in JSON.parse', () => {
  const e = decodeOk(`{${HEAD},"data":{"first":1},"data": [ "second" ]}`);
  assert.equal(utf8(e.data), '[ "second" ]');
});

test('a "data" key nested in another member or inside a string is not the data member', () => {
  const e = decodeOk(`{"x9":"\\"data\\": 1, ",${HEAD},"data":{"yes":{"data":{"no":1}}},"x8":"data"}`);
  assert.equal(utf8(e.data), '{"yes":{"data":{"no":1}}}');
  assert.deepEqual(e.attrs, { x9: '"data": 1, ', x8: 'data' });
});

test('a non-JSON datacontenttype with a non-string data value keeps the JSON text (§3.1.2 MAY)', () => {
  const e = decodeOk(`{${HEAD},"datacontenttype":"application/xml","data":{ "a" : 1 }}`);
  assert.equal(utf8(e.data), '{ "a" : 1 }');
});

test('text data with a text/* datacontenttype round trips as a JSON string', () => {
  const text = 'line 1\nline 2 \u0000 "quoted" é 😀';
  const e = decodeOk(`{${HEAD},"datacontenttype":"text/plain","data":${JSON.stringify(text)}}`);
  assert.equal(utf8(e.data), text);
  const encoded = encodeStructuredJson(e);
  assert.ok(encoded.endsWith(`"data":${JSON.stringify(text)}}`), encoded);
  assert.equal(utf8(decodeOk(encoded).data), text);
});

test('data_base64 decodes to the bytes and binary data encodes back to data_base64 (§3.1.1 Binary)', () => {
  const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 0x7f]);
  const e = decodeOk(`{${HEAD},"datacontenttype":"application/vnd.apache.thrift.binary","data_base64":"${bytes.toString('base64')}"}`);
  assert.deepEqual(Buffer.from(e.data!), bytes);
  const encoded = encodeStructuredJson(e);
  assert.ok(encoded.includes(`"data_base64":"${bytes.toString('base64')}"`), encoded);
  assert.ok(!encoded.includes('"data":'));
  assert.deepEqual(Buffer.from(decodeOk(encoded).data!), bytes);
});

test('data_base64 without padding is accepted', () => {
  assert.deepEqual(Buffer.from(decodeOk(`{${HEAD},"data_base64":"AAEC/w"}`).data!), Buffer.from([0, 1, 2, 0xff]));
  assert.deepEqual(Buffer.from(decodeOk(`{${HEAD},"data_base64":""}`).data!), Buffer.alloc(0));
});

test('"data_base64": null is unset and does not clash with data', () => {
  assert.equal(utf8(decodeOk(`{${HEAD},"data_base64":null,"data":1}`).data), '1');
});

test('encodeStructuredJson() falls back to data_base64 whenever data could not come back byte-identical', () => {
  const cases: [string | undefined, Uint8Array][] = [
    [undefined, Buffer.from('not json')], // absent content type reads as JSON; these bytes are not
    ['application/json', Buffer.from('{"a":')],
    ['application/json', Buffer.from(' {"a":1}')], // surrounding whitespace would be trimmed by the decoder
    ['application/json', Buffer.from('{"a":1}\n')],
    ['application/json', Buffer.from('\ufeff{"a":1}')], // a BOM is not JSON whitespace
    ['application/json', Buffer.alloc(0)],
    ['application/json', Buffer.from([0x22, 0xc3, 0x28, 0x22])], // invalid UTF-8 inside a "string"
    ['text/plain', Buffer.from([0xc3, 0x28])], // invalid UTF-8
    ['text/plain; charset=iso-8859-1', Buffer.from('caf\xe9', 'latin1')],
    ['image/png', Buffer.from('looks like text')],
  ];
  for (const [ct, data] of cases) {
    const e = event({ data, attrs: ct === undefined ? {} : { datacontenttype: ct } });
    const encoded = encodeStructuredJson(e);
    assert.ok(encoded.includes('"data_base64":'), `${ct}: ${encoded}`);
    const back = decodeOk(encoded);
    assert.deepEqual(Buffer.from(back.data!), Buffer.from(data), String(ct));
  }
});

test('a charset parameter in UTF-8 makes any content type carry data as a string', () => {
  const e = event({ data: Buffer.from('<a>é</a>'), attrs: { datacontenttype: 'application/xml; charset="UTF-8"' } });
  assert.ok(encodeStructuredJson(e).endsWith('"data":"<a>é</a>"}'));
});

test('encodeStructuredJson() carries data of every textual media type as a JSON string, as the JSON format §3.2 example does with XML', () => {
  const text = '<a>ü</a>\n"x": 1 € 😀';
  const textual = [
    'text/plain',
    'TEXT/CSV',
    'text/html; foo=bar',
    'application/xml',
    'text/xml',
    'image/svg+xml',
    'application/atom+xml',
    'application/soap+xml; action="urn:x"',
    'application/yaml',
    'application/x-yaml',
    'application/vnd.k8s+yaml',
    'application/javascript',
    'application/ecmascript',
    'application/x-www-form-urlencoded',
    'application/csv',
    'application/toml',
    'application/sql',
    'application/graphql',
    'application/x-ndjson',
    'application/octet-stream; charset=utf-8',
    'application/xml; charset=US-ASCII',
  ];
  for (const ct of textual) {
    const encoded = encodeStructuredJson(event({ data: Buffer.from(text), attrs: { datacontenttype: ct } }));
    assert.ok(encoded.endsWith(`"data":${JSON.stringify(text)}}`), `${ct}: ${encoded}`);
    assert.equal(utf8(decodeOk(encoded).data), text, ct);
  }
  // JSON media types stay JSON values, not strings.
  for (const ct of ['application/json', 'application/cloudevents+json', 'application/geo+json; charset=utf-8']) {
    assert.ok(encodeStructuredJson(event({ data: Buffer.from('{"a":"ü"}'), attrs: { datacontenttype: ct } })).endsWith('"data":{"a":"ü"}}'), ct);
  }
});

test('encodeStructuredJson() sends bytes that are not UTF-8 under a textual media type as data_base64, unaltered', () => {
  const bytes = Buffer.concat([Buffer.from('<a>'), Buffer.from([0xfc, 0xc3, 0x28, 0xed, 0xa0, 0x80]), Buffer.from('</a>')]); // Latin-1 ü, bad pair, a surrogate
  for (const ct of ['application/xml', 'text/plain', 'application/x-yaml', 'application/atom+xml', 'application/csv']) {
    const encoded = encodeStructuredJson(event({ data: bytes, attrs: { datacontenttype: ct } }));
    assert.ok(encoded.endsWith(`"data_base64":"${bytes.toString('base64')}"}`), `${ct}: ${encoded}`);
    assert.deepEqual(Buffer.from(decodeOk(encoded).data!), bytes, ct);
  }
});

test('media types that are not textual keep data_base64 even when the bytes happen to be UTF-8', () => {
  for (const ct of [
    'application/octet-stream',
    'image/png',
    'application/pdf',
    'application/xmlish',
    'application/x-xml-binary',
    'application/xml; charset=iso-8859-1',
    'application/vnd.x+zip',
  ]) {
    const encoded = encodeStructuredJson(event({ data: Buffer.from('plain ascii'), attrs: { datacontenttype: ct } }));
    assert.ok(encoded.includes('"data_base64":'), `${ct}: ${encoded}`);
  }
});

test('a plain Uint8Array (not a Buffer) view encodes only its own bytes', () => {
  const backing = new Uint8Array([0x78, 0x7b, 0x7d, 0x78]); // x{}x
  const e = event({ data: backing.subarray(1, 3) });
  assert.ok(encodeStructuredJson(e).endsWith('"data":{}}'));
});

test('encodeStructuredJson() writes spec-conformant JSON with every attribute, trace context and provenance', () => {
  const e = event({
    data: Buffer.from('{"v":1}'),
    attrs: {
      time: '2024-05-01T12:00:00Z',
      subject: 's"1',
      datacontenttype: 'application/json',
      dataschema: 'https://e.com/s',
      big: 2147483647,
      neg: -1,
      on: true,
      off: false,
    },
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    tracestate: 'a=b',
    origin: { node: 'eu-1', protocol: 'mqtt', topic: 'sensors/1' },
    hlc: '0018f33a5d0000001',
    hops: [
      { node: 'eu-1', region: 'eu-west', time: 1714557600000 },
      { node: 'us@1', region: 'us,east', time: 1714557600042 },
    ],
  });
  const text = encodeStructuredJson(e);
  const parsed = JSON.parse(text) as Record<string, unknown>;
  assert.deepEqual(parsed, {
    specversion: '1.0',
    id: 'e-1',
    source: '/sensors/1',
    type: 'com.example.reading',
    time: '2024-05-01T12:00:00Z',
    subject: 's"1',
    datacontenttype: 'application/json',
    dataschema: 'https://e.com/s',
    big: 2147483647,
    neg: -1,
    on: true,
    off: false,
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    tracestate: 'a=b',
    mgorigin: 'eu-1',
    mgprotocol: 'mqtt',
    mgtopic: 'sensors/1',
    mghops: 'eu-1@eu-west@1714557600000,us%401@us%2Ceast@1714557600042',
    mghlc: '0018f33a5d0000001',
    data: { v: 1 },
  });
  assert.deepEqual(decodeOk(text, true), { ...e, topic: 'orders.eu', data: Buffer.from('{"v":1}') });
});

test('provenance is omitted when absent and hops are omitted when empty', () => {
  const text = encodeStructuredJson(event({}));
  assert.equal(text, '{"specversion":"1.0","id":"e-1","source":"/sensors/1","type":"com.example.reading"}');
});

test('encodeStructuredJson() skips attrs keys that are not writable attributes rather than emit a refused event', () => {
  const e = event({ attrs: { id: 'dup', specversion: '0.3', data: 'x', mgorigin: 'x', 'Bad-Name': 'x', ok: 'y' } as Record<string, string> });
  assert.deepEqual(JSON.parse(encodeStructuredJson(e)), { specversion: '1.0', id: 'e-1', source: '/sensors/1', type: 'com.example.reading', ok: 'y' });
});

test('provenance from an untrusted producer is stripped: no origin, no hops, nothing in attrs', () => {
  const text = `{${HEAD},"mgorigin":"forged","mgprotocol":"ws","mgtopic":"t","mghops":"evil@r@1","data":1}`;
  const e = decodeOk(text);
  assert.equal(e.origin, undefined);
  assert.deepEqual(e.hops, []);
  assert.deepEqual(e.attrs, {});
  assert.equal(encodeStructuredJson(e).includes('mg'), false);
});

test('provenance is kept when trusted (peer links)', () => {
  const e = decodeOk(`{${HEAD},"mgorigin":"n1","mgprotocol":"nats","mgtopic":"a.b","mghops":"n1@r1@1,n2@r2@2"}`, true);
  assert.deepEqual(e.origin, { node: 'n1', protocol: 'nats', topic: 'a.b' });
  assert.deepEqual(e.hops, [
    { node: 'n1', region: 'r1', time: 1 },
    { node: 'n2', region: 'r2', time: 2 },
  ]);
});

test('malformed trusted provenance names the attribute', () => {
  const r1 = decodeStructuredJson(`{${HEAD},"mghops":"n1@r1"}`, 't', { trustProvenance: true });
  assert.equal(!r1.ok && r1.problem.attribute, 'mghops');
  const r2 = decodeStructuredJson(`{${HEAD},"mgorigin":"n1","mgprotocol":"smtp","mgtopic":"x"}`, 't', { trustProvenance: true });
  assert.equal(!r2.ok && r2.problem.attribute, 'mgprotocol');
  const r3 = decodeStructuredJson(`{${HEAD},"mgprotocol":"ws"}`, 't', { trustProvenance: true });
  assert.equal(!r3.ok && r3.problem.attribute, 'mgorigin');
  const r4 = decodeStructuredJson(`{${HEAD},"mghops":["n1","r1",1]}`, 't', { trustProvenance: true });
  assert.equal(!r4.ok && r4.problem.attribute, 'mghops');
});

test('traceparent and tracestate go to their own fields, not attrs', () => {
  const e = decodeOk(`{${HEAD},"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","tracestate":"x=y"}`);
  assert.equal(e.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  assert.equal(e.tracestate, 'x=y');
  assert.deepEqual(e.attrs, {});
});

test('data and data_base64 together are refused, naming data_base64 (§3.1.1 mutually exclusive)', () => {
  assert.equal(problemOf(`{${HEAD},"data":"x","data_base64":"AAEC"}`), 'data_base64');
  assert.equal(problemOf(`{${HEAD},"data":null,"data_base64":"AAEC"}`), 'data_base64');
});

test('bad base64 is refused, naming data_base64', () => {
  for (const bad of ['"abc$"', '"A"', '"AAAAA"', '"AA==AA=="', '"AA AA"', '"AA-_"', '5', 'true', '{}']) {
    assert.equal(problemOf(`{${HEAD},"data_base64":${bad}}`), 'data_base64', bad);
  }
});

test('a bad time is refused, naming time', () => {
  assert.equal(problemOf(`{${HEAD},"time":"2018-04-05T25:00:00Z"}`), 'time');
});

test('each missing REQUIRED attribute is named', () => {
  assert.equal(problemOf('{"id":"1","source":"/s","type":"t"}'), 'specversion');
  assert.equal(problemOf('{"specversion":"1.0","source":"/s","type":"t"}'), 'id');
  assert.equal(problemOf('{"specversion":"1.0","id":"1","type":"t"}'), 'source');
  assert.equal(problemOf('{"specversion":"1.0","id":"1","source":"/s"}'), 'type');
  assert.equal(problemOf(`{${HEAD},"comExample":"x"}`), 'comExample');
  assert.equal(problemOf(`{${HEAD},"ext":{"nested":true}}`), 'ext');
  assert.equal(problemOf(`{${HEAD},"ext":[1]}`), 'ext');
});

test('text that is not a JSON object is refused as a whole event', () => {
  for (const bad of ['', 'nope', '[]', 'null', '"str"', '42', `{${HEAD}`, `{${HEAD}}}`, '\ufeff{}']) {
    assert.equal(problemOf(bad), WHOLE_EVENT, JSON.stringify(bad));
  }
});

test('every prefix of an event is refused without throwing', () => {
  const text = `{${HEAD},"time":"2018-04-05T17:31:00Z","data":{"a":[1,"x\\"y",{"b":null}]}}`;
  for (let i = 0; i < text.length; i++) {
    const r = decodeStructuredJson(text.slice(0, i), 't');
    assert.equal(r.ok, false, `prefix ${i}`);
  }
  assert.equal(decodeStructuredJson(text, 't').ok, true);
});

test('garbage never throws: random text and mutated events', () => {
  let seed = 0x9e3779b9;
  const rand = (n: number) => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const base = `{${HEAD},"datacontenttype":"application/json","data":{"k":[1,2,{"z":"\\u00e9"}]},"data_base64":null}`;
  const alphabet = '{}[]":,\\ 0123456789abcdefdata_base64truefalsenull\u00e9\ud800';
  for (let n = 0; n < 5000; n++) {
    let text: string;
    if (n % 2 === 0) {
      const chars = [...base];
      for (let k = 0; k < 1 + rand(4); k++) chars[rand(chars.length)] = alphabet[rand(alphabet.length)];
      text = chars.join('');
    } else {
      text = '';
      for (let k = 0; k < rand(60); k++) text += alphabet[rand(alphabet.length)];
    }
    const r = decodeStructuredJson(text, 't');
    if (r.ok) assert.doesNotThrow(() => encodeStructuredJson(r.event));
  }
});

test('a multi-megabyte data_base64 and data value decode and encode without throwing', () => {
  const bytes = Buffer.alloc(6 * 1024 * 1024, 0xab);
  const b64 = decodeOk(`{${HEAD},"data_base64":"${bytes.toString('base64')}"}`);
  assert.equal(b64.data!.byteLength, bytes.byteLength);
  const array = `[${'1,'.repeat(1024 * 1024)}1]`;
  const json = decodeOk(`{${HEAD},"data":${array}}`);
  assert.equal(json.data!.byteLength, array.length);
  assert.ok(encodeStructuredJson(json).endsWith(`"data":${array}}`));
});

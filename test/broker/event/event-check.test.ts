import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  checkAttribute,
  checkAttributes,
  isCeString,
  isJsonMediaType,
  isRfc3339Timestamp,
  newAttributeParts,
  readAttributes,
  WHOLE_EVENT,
} from '../../../broker/event/internal.js';

const VALID = Object.freeze({ specversion: '1.0', id: 'A234-1234-1234', source: '/mycontext', type: 'com.example.someevent' });

function problemOf(map: Record<string, unknown>): string | null {
  const p = checkAttributes(map);
  return p === null ? null : p.attribute;
}

test('checkAttributes() accepts the minimal event with the four REQUIRED attributes (spec.md, REQUIRED Attributes)', () => {
  assert.equal(checkAttributes(VALID), null);
});

test('WHOLE_EVENT is not a legal attribute name, so it never collides with one', () => {
  assert.equal(checkAttribute(WHOLE_EVENT, 'x')?.attribute, WHOLE_EVENT);
});

for (const name of ['specversion', 'id', 'source', 'type']) {
  test(`checkAttributes() names ${name} when the REQUIRED ${name} is missing`, () => {
    const map: Record<string, unknown> = { ...VALID };
    delete map[name];
    assert.equal(problemOf(map), name);
  });
  test(`checkAttributes() reads "${name}": null as unset, so a REQUIRED ${name} set to null is missing (JSON format §2.2)`, () => {
    assert.equal(problemOf({ ...VALID, [name]: null }), name);
  });
}

const WRONG: [string, unknown][] = [
  ['specversion', '0.3'],
  ['specversion', 1.0],
  ['specversion', '1.0.2'],
  ['id', ''],
  ['id', 42],
  ['id', 'a\nb'],
  ['source', ''],
  ['source', 7],
  ['source', 'has space'],
  ['source', ':no-scheme'],
  ['source', 'a:b c'],
  ['source', '/bad%zzescape'],
  ['source', '/two#frag#ments'],
  ['type', ''],
  ['type', true],
  ['type', { a: 1 }],
  ['subject', ''],
  ['subject', 3],
  ['time', '2018-04-05'],
  ['time', '2018-04-05 17:31:00Z'],
  ['time', '2018-02-30T00:00:00Z'],
  ['time', '2019-02-29T00:00:00Z'],
  ['time', '2018-04-05T24:00:00Z'],
  ['time', '2018-04-05T17:31:00'],
  ['time', '2018-04-05T17:31:00+2:00'],
  ['time', 1522949460000],
  ['dataschema', '/relative/schema.json'],
  ['dataschema', 'not a uri'],
  ['dataschema', 5],
  ['datacontenttype', 'json'],
  ['datacontenttype', 'application/'],
  ['datacontenttype', 'application/json; charset'],
  ['datacontenttype', 'text/plain\r\nx: y'],
  ['datacontenttype', 1],
];
for (const [name, value] of WRONG) {
  test(`checkAttributes() refuses ${name}=${JSON.stringify(value)} and names ${name}`, () => {
    assert.equal(problemOf({ ...VALID, [name]: value }), name);
  });
}

const RIGHT: [string, unknown][] = [
  ['source', 'https://github.com/cloudevents'],
  ['source', 'mailto:cncf-wg-serverless@lists.cncf.io'],
  ['source', 'urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66'],
  ['source', '/cloudevents/spec/pull/123'],
  ['source', '1-555-123-4567'],
  ['source', 'relative/path?q=1#frag'],
  ['source', '/sensors/tn%2D1234567/alerts'],
  ['time', '2018-04-05T17:31:00Z'],
  ['time', '2018-04-05t17:31:00.123456789+02:00'],
  ['time', '2016-12-31T23:59:60Z'],
  ['time', '2020-02-29T00:00:00-00:00'],
  ['dataschema', 'https://example.com/schemas/order.json'],
  ['dataschema', 'urn:example:schema:1'],
  ['dataschema', 'https://example.com/s.json#/definitions/a'],
  ['datacontenttype', 'application/json'],
  ['datacontenttype', 'application/cloudevents+json; charset=utf-8'],
  ['datacontenttype', 'multipart/form-data; boundary="a b;c"'],
  ['datacontenttype', 'application/vnd.apache.thrift.binary'],
  ['subject', 'larger-context'],
  ['subject', null],
  ['time', null],
];
for (const [name, value] of RIGHT) {
  test(`checkAttributes() accepts ${name}=${JSON.stringify(value)}`, () => {
    assert.equal(problemOf({ ...VALID, [name]: value }), null);
  });
}

test('extension names must be 1-20 of a-z and 0-9: the 20-character SHOULD is enforced (spec.md, Naming Conventions)', () => {
  assert.equal(problemOf({ ...VALID, comexampleextension1: 'v' }), null);
  assert.equal(problemOf({ ...VALID, a2345678901234567890: 'v' }), null, '20 characters');
  assert.equal(problemOf({ ...VALID, a23456789012345678901: 'v' }), 'a23456789012345678901', '21 characters');
  assert.equal(problemOf({ ...VALID, comExample: 'v' }), 'comExample');
  assert.equal(problemOf({ ...VALID, com_example: 'v' }), 'com_example');
  assert.equal(problemOf({ ...VALID, 'com-example': 'v' }), 'com-example');
  assert.equal(problemOf({ ...VALID, '': 'v' }), '');
  assert.equal(problemOf({ ...VALID, é: 'v' }), 'é');
  assert.equal(problemOf({ ...VALID, '1abc': 'v' }), null, 'CloudEvents 1.0 lets a name start with a digit');
});

test('extension values are String, Boolean or 32-bit Integer; objects, arrays and fractions are refused (spec.md, Type System)', () => {
  for (const ok of ['x', '', true, false, 0, -2147483648, 2147483647, 5]) {
    assert.equal(problemOf({ ...VALID, ext: ok }), null, JSON.stringify(ok));
  }
  for (const bad of [{}, [], [1], 1.5, 2147483648, -2147483649, Number.NaN, Infinity, 10n]) {
    assert.equal(problemOf({ ...VALID, ext: bad }), 'ext', String(bad));
  }
});

test('an extension set to null is unset, not refused (JSON format §2.2, "unsetextension": null)', () => {
  const parts = newAttributeParts();
  assert.equal(readAttributes({ ...VALID, unsetextension: null }, parts, false), null);
  assert.deepEqual(parts.attrs, {});
});

test('String values refuse control characters, noncharacters and unpaired surrogates (spec.md, Type System: String)', () => {
  for (const bad of ['a\u0000', 'line\nbreak', 'c1\u0085', 'del\u007f', 'non\ufffe', 'non\ufdd0', 'lone\ud800', 'lone\udead', '\u{1fffe}']) {
    assert.equal(isCeString(bad), false, JSON.stringify(bad));
    assert.equal(problemOf({ ...VALID, ext: bad }), 'ext', JSON.stringify(bad));
  }
  for (const good of ['plain', 'é東京', '\ud800\udead', '😀', '\u00a0', 'tab-free']) {
    assert.equal(isCeString(good), true, JSON.stringify(good));
  }
});

test('readAttributes() collects core and extension attributes into attrs, trace context into its own fields', () => {
  const parts = newAttributeParts();
  const problem = readAttributes(
    {
      ...VALID,
      time: '2018-04-05T17:31:00Z',
      subject: 'sub',
      datacontenttype: 'application/json',
      dataschema: 'https://e.com/s',
      comexampleothervalue: 5,
      flag: true,
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'congo=t61rcWkgMzE',
      data: { ignored: true },
      data_base64: 'ignored',
    },
    parts,
    false,
  );
  assert.equal(problem, null);
  assert.equal(parts.id, VALID.id);
  assert.equal(parts.source, VALID.source);
  assert.equal(parts.type, VALID.type);
  assert.deepEqual(parts.attrs, {
    time: '2018-04-05T17:31:00Z',
    subject: 'sub',
    datacontenttype: 'application/json',
    dataschema: 'https://e.com/s',
    comexampleothervalue: 5,
    flag: true,
  });
  assert.equal(parts.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  assert.equal(parts.tracestate, 'congo=t61rcWkgMzE');
});

test('a malformed traceparent never refuses the event: it is dropped (STYLE, Trace context)', () => {
  for (const bad of [42, { a: 1 }, '', 'bad\nvalue']) {
    const parts = newAttributeParts();
    assert.equal(readAttributes({ ...VALID, traceparent: bad, tracestate: bad }, parts, false), null);
    assert.equal(parts.traceparent, undefined);
    assert.equal(parts.tracestate, undefined);
    assert.deepEqual(parts.attrs, {});
  }
});

test('provenance extensions from an untrusted producer are dropped unseen, even malformed ones', () => {
  const parts = newAttributeParts();
  const map = { ...VALID, mgorigin: 'forged', mgprotocol: 'nope', mgtopic: 7, mghops: { bogus: true } };
  assert.equal(readAttributes(map, parts, false), null);
  assert.equal(parts.mgorigin, undefined);
  assert.equal(parts.mghops, undefined);
  assert.deepEqual(parts.attrs, {});
});

test('provenance extensions are collected raw when trusted', () => {
  const parts = newAttributeParts();
  assert.equal(readAttributes({ ...VALID, mgorigin: 'n1', mgprotocol: 'mqtt', mgtopic: 'a/b', mghops: 'x' }, parts, true), null);
  assert.equal(parts.mgorigin, 'n1');
  assert.equal(parts.mgprotocol, 'mqtt');
  assert.equal(parts.mgtopic, 'a/b');
  assert.equal(parts.mghops, 'x');
  assert.deepEqual(parts.attrs, {});
});

test('a wrong specversion is reported before any other attribute', () => {
  assert.equal(problemOf({ specversion: '0.3', eventTypeVersion: 'x', id: '' }), 'specversion');
});

test('isJsonMediaType() follows JSON format §3.1.1: */json or */*+json, parameters and case ignored', () => {
  for (const yes of [
    'application/json',
    'text/json',
    'application/cloudevents+json',
    'application/vnd.api+json; charset=utf-8',
    'APPLICATION/JSON',
    'application/json ;x=y',
  ]) {
    assert.equal(isJsonMediaType(yes), true, yes);
  }
  for (const no of ['application/jsonx', 'application/x-json+xml', 'text/plain', 'application/xml; note=json', 'json', 'application/json-seq']) {
    assert.equal(isJsonMediaType(no), false, no);
  }
});

test('isRfc3339Timestamp() checks the calendar: leap years, month lengths, leap second', () => {
  assert.equal(isRfc3339Timestamp('2000-02-29T00:00:00Z'), true);
  assert.equal(isRfc3339Timestamp('1900-02-29T00:00:00Z'), false);
  assert.equal(isRfc3339Timestamp('2021-04-31T00:00:00Z'), false);
  assert.equal(isRfc3339Timestamp('2021-13-01T00:00:00Z'), false);
  assert.equal(isRfc3339Timestamp('2021-12-01T00:00:61Z'), false);
  assert.equal(isRfc3339Timestamp('2021-12-01T00:00:00+24:00'), false);
});

test('checkAttribute() judges a single attribute for binary-mode bindings', () => {
  assert.equal(checkAttribute('time', 'yesterday')?.attribute, 'time');
  assert.equal(checkAttribute('comexample', 'ok'), null);
  assert.equal(checkAttribute('Bad', 'ok')?.attribute, 'Bad');
  assert.equal(checkAttribute('subject', null), null);
});

test('checkAttributes() never throws on odd maps', () => {
  const odd: Record<string, unknown>[] = [
    {},
    Object.create(null) as Record<string, unknown>,
    { specversion: '1.0' },
    { ...VALID, ['__proto__']: 'x' },
    JSON.parse('{"specversion":"1.0","id":"1","source":"/s","type":"t","__proto__":{"a":1}}') as Record<string, unknown>,
    { ...VALID, constructor: 'x' },
  ];
  for (const map of odd) assert.doesNotThrow(() => checkAttributes(map));
  assert.equal(problemOf(odd[4]), '__proto__');
  assert.equal(problemOf(odd[5]), null, '"constructor" is a legal extension name');
});

test('multi-megabyte attribute values are judged without throwing (no regex backtrack-stack overflow)', () => {
  const long = 'a'.repeat(4 * 1024 * 1024);
  assert.equal(problemOf({ ...VALID, source: `/${long}` }), null);
  assert.equal(problemOf({ ...VALID, source: `/${'%41'.repeat(1024 * 1024)}` }), null);
  assert.equal(problemOf({ ...VALID, dataschema: `https://e.com/${long}` }), null);
  assert.equal(problemOf({ ...VALID, id: long, type: long, subject: long, ext: long }), null);
  assert.equal(problemOf({ ...VALID, time: long }), 'time');
  assert.equal(problemOf({ ...VALID, datacontenttype: `a/b${'; x=y'.repeat(1024 * 1024)}` }), 'datacontenttype', 'over 1024 characters');
  assert.equal(problemOf({ ...VALID, datacontenttype: `a/b${'; x=y'.repeat(200)}` }), null, '1003 characters');
  assert.equal(problemOf({ ...VALID, datacontenttype: `a/b; x="${long}"` }), 'datacontenttype');
});

test('isRfc3339Timestamp() agrees with the RFC 3339 grammar as a regex plus range checks, on near-misses too (property)', () => {
  // The reference: the regex the hand-written reader replaced.
  const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;
  const DAYS = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  const reference = (v: string): boolean => {
    const m = TIMESTAMP.exec(v);
    if (m === null) return false;
    const [year, month, day] = [+m[1], +m[2], +m[3]];
    if (month < 1 || month > 12 || day < 1 || day > DAYS[month]) return false;
    if (month === 2 && day === 29 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) return false;
    if (+m[4] > 23 || +m[5] > 59 || +m[6] > 60) return false;
    return !(m[7] !== undefined && (+m[7] > 23 || +m[8] > 59));
  };
  const two = fc.integer({ min: 0, max: 99 }).map((n) => String(n).padStart(2, '0'));
  const stamp = fc
    .tuple(
      fc.integer({ min: 0, max: 9999 }),
      two,
      two,
      fc.constantFrom('T', 't', ' '),
      two,
      two,
      two,
      fc.constantFrom('', '.5', '.123456789', '.'),
      fc.constantFrom('Z', 'z', '+01:00', '-23:59', '+24:00', '+1:00', 'Q', ''),
    )
    .map(([y, mo, d, t, h, mi, s, f, z]) => `${String(y).padStart(4, '0')}-${mo}-${d}${t}${h}:${mi}:${s}${f}${z}`);
  // Near-misses: a valid-looking stamp with one character replaced, dropped or added.
  const mutated = fc.tuple(stamp, fc.nat(), fc.constantFrom('', '0', '9', '-', ':', 'T', 'Z', '.', 'x', '٣')).map(([v, at, c]) => {
    const i = at % (v.length + 1);
    return v.slice(0, i) + c + v.slice(i + (c === '' ? 1 : at % 2));
  });
  fc.assert(
    fc.property(fc.oneof(stamp, mutated, fc.string()), (v) => isRfc3339Timestamp(v) === reference(v)),
    { numRuns: 20_000 },
  );
  for (const v of ['2024-02-29T00:00:00Z', '1985-04-12T23:20:50.52Z', '1990-12-31T15:59:60-08:00']) assert.equal(isRfc3339Timestamp(v), true, v);
  for (const v of ['2023-02-29T00:00:00Z', '2024-13-01T00:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01T00:00:00', '2024-01-01T00:00:00.Z'])
    assert.equal(isRfc3339Timestamp(v), false, v);
});

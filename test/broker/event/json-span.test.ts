import assert from 'node:assert/strict';
import { test } from 'node:test';
import { topLevelMemberSpan } from '../../../broker/event/mod.js';

const slice = (text: string, name: string) => {
  const span = topLevelMemberSpan(text, name);
  return span === null ? null : text.slice(span[0], span[1]);
};

test('topLevelMemberSpan() returns the raw text of a top-level member, whitespace and number spelling kept', () => {
  const text = '{ "a" : 1.50e0 , "data" :  { "x" : [1, "}]"] } ,"z":"q\\"x"}';
  assert.equal(slice(text, 'data'), '{ "x" : [1, "}]"] }');
  assert.equal(slice(text, 'a'), '1.50e0');
  assert.equal(slice(text, 'z'), '"q\\"x"');
});

test('topLevelMemberSpan() ignores nested members of the same name and escaped keys match decoded', () => {
  assert.equal(slice('{"outer":{"data":1},"data":2}', 'data'), '2');
  assert.equal(slice('{"d\\u0061ta":true}', 'data'), 'true');
  assert.equal(slice('{"other":1}', 'data'), null);
  assert.equal(slice('[1,2]', 'data'), null);
});

test('topLevelMemberSpan() returns the last of duplicated keys, as JSON.parse keeps the last', () => {
  const text = '{"event":{"id":"A"},"event":{"id":"B"}}';
  assert.equal(slice(text, 'event'), '{"id":"B"}');
  assert.deepEqual(JSON.parse(slice(text, 'event')!), (JSON.parse(text) as { event: unknown }).event);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { closeReason } from '../../../broker/base/mod.js';

const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8');

test('closeReason keeps a reason that fits and cuts a longer one to at most 123 bytes on a character boundary', () => {
  assert.equal(closeReason('MG_ERR_TOPIC_INVALID: short'), 'MG_ERR_TOPIC_INVALID: short');
  assert.equal(closeReason('x'.repeat(123)), 'x'.repeat(123));
  assert.equal(closeReason('x'.repeat(124)), 'x'.repeat(123));
  // 'é' is 2 bytes: 61 of them are 122 bytes, a 62nd would be 124.
  assert.equal(closeReason('é'.repeat(80)), 'é'.repeat(61));
  // '😀' is a surrogate pair, 4 bytes: never split in half.
  assert.equal(closeReason('a' + '😀'.repeat(40)), 'a' + '😀'.repeat(30));
});

test('closeReason, on any text: a prefix of it, within 123 bytes, never ending in half a pair, and as long as can be', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
      const reason = closeReason(text);
      assert.ok(text.startsWith(reason));
      assert.ok(utf8Bytes(reason) <= 123, `${utf8Bytes(reason)} bytes`);
      const last = reason.charCodeAt(reason.length - 1);
      const next = text.charCodeAt(reason.length);
      assert.ok(!(last >= 0xd800 && last <= 0xdbff && (next & 0xfc00) === 0xdc00), 'a surrogate pair was split');
      if (reason.length < text.length) {
        // One more character (a whole pair, when it is one) would not fit.
        const step = (next & 0xfc00) === 0xd800 && (text.charCodeAt(reason.length + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
        assert.ok(utf8Bytes(text.slice(0, reason.length + step)) > 123);
      }
    }),
    { numRuns: 2000 },
  );
});

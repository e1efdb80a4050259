import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCeString } from '../../../broker/event/internal.js';
import type { Hop } from '../../../broker/event/mod.js';
import { formatHops, parseHops } from '../../../broker/event/mod.js';

const NASTY = ['', '@', ',', '%', '%40', '%%', 'a@b,c%d', '@@,,', '東京', '😀', 'line\nbreak', 'c1\u0085', 'nul\u0000', ' spaced ', '%2C', 'x%'];

test('formatHops() then parseHops() gives back hops whose names hold separators, escapes, controls and unicode', () => {
  const hops: Hop[] = [];
  for (let i = 0; i < NASTY.length; i++) hops.push({ node: NASTY[i], region: NASTY[NASTY.length - 1 - i], time: i * 1_000_000_007 });
  hops.push({ node: 'max', region: 'r', time: Number.MAX_SAFE_INTEGER });
  const text = formatHops(hops);
  assert.deepEqual(parseHops(text), hops);
  for (const h of hops) assert.deepEqual(parseHops(formatHops([h])), [h], JSON.stringify(h));
});

test('formatHops() output is a legal CloudEvents String even for names with control characters', () => {
  assert.equal(isCeString(formatHops(NASTY.map((n) => ({ node: n, region: n, time: 1 })))), true);
});

test('formatHops() writes node@region@timeMs joined by commas, escaping only what it must', () => {
  assert.equal(
    formatHops([
      { node: 'eu-1', region: 'eu-west', time: 1714557600000 },
      { node: 'a@b', region: 'c,d%', time: 0 },
    ]),
    'eu-1@eu-west@1714557600000,a%40b@c%2Cd%25@0',
  );
});

test('no hops is the empty string, both ways', () => {
  assert.equal(formatHops([]), '');
  assert.deepEqual(parseHops(''), []);
});

test('parseHops() accepts lower-case hex escapes', () => {
  assert.deepEqual(parseHops('a%2cb@r%40@5'), [{ node: 'a,b', region: 'r@', time: 5 }]);
});

test('parseHops() returns null, never throws, for anything that is not a hop path', () => {
  for (const bad of [
    'a',
    'a@b',
    'a@b@',
    'a@b@c',
    'a@b@01',
    'a@b@-1',
    'a@b@1.5',
    'a@b@1e3',
    'a@b@99999999999999999',
    'a@b@1,',
    ',a@b@1',
    'a@b@1,,c@d@2',
    'a@b@1@2',
    '%4@b@1',
    'a%zz@b@1',
    'a%@b@1',
    'a@b%4@1',
    ' a@b@ 1',
  ]) {
    assert.equal(parseHops(bad), null, bad);
  }
});

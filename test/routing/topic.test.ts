import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkFilter, checkTopic, DEFAULT_TOPIC_LIMITS, filterMatches, type TopicLimits } from '../../routing/mod.js';

function assertProblem(problem: ReturnType<typeof checkTopic>, code: 'MG_ERR_TOPIC_INVALID' | 'MG_ERR_TOPIC_LIMIT', words: RegExp): void {
  assert.ok(problem !== null, 'expected a problem');
  assert.equal(problem.code, code);
  assert.match(problem.message, words);
}

test('checkTopic() accepts ordinary topics and the characters other protocols reserve', () => {
  for (const topic of ['a', 'db.orders.insert', 'v1/2.c++.#tag', 'cpu.50%', 'caf\u00e9.\u6771\u4eac', 'emoji.\u{1F600}', '$SYS.x']) {
    assert.equal(checkTopic(topic), null, topic);
  }
});

test('checkTopic() reports an empty topic', () => {
  assertProblem(checkTopic(''), 'MG_ERR_TOPIC_INVALID', /topic is empty/);
});

test('checkTopic() names the empty token and its position', () => {
  assertProblem(checkTopic('a..b'), 'MG_ERR_TOPIC_INVALID', /token 2 of 'a\.\.b' is empty/);
  assertProblem(checkTopic('.a'), 'MG_ERR_TOPIC_INVALID', /token 1 of '\.a' is empty/);
  assertProblem(checkTopic('a.'), 'MG_ERR_TOPIC_INVALID', /token 2 of 'a\.' is empty/);
  assertProblem(checkTopic('.'), 'MG_ERR_TOPIC_INVALID', /token 1 .* is empty/);
});

test('checkTopic() refuses wildcards: a topic names one destination', () => {
  assertProblem(checkTopic('a.*'), 'MG_ERR_TOPIC_INVALID', /token 2 .* wildcard '\*'/);
  assertProblem(checkTopic('a.>'), 'MG_ERR_TOPIC_INVALID', /token 2 .* wildcard '>'/);
});

test('checkTopic() and checkFilter() refuse * and > inside a longer token', () => {
  for (const check of [checkTopic, checkFilter]) {
    assertProblem(check('a.b*'), 'MG_ERR_TOPIC_INVALID', /token 2 .* has '\*' inside it/);
    assertProblem(check('a>b'), 'MG_ERR_TOPIC_INVALID', /token 1 .* has '>' inside it/);
    assertProblem(check('**'), 'MG_ERR_TOPIC_INVALID', /inside it/);
  }
});

test('checkTopic() refuses whitespace and control characters, naming the code point', () => {
  assertProblem(checkTopic('a b'), 'MG_ERR_TOPIC_INVALID', /token 1 .* whitespace \(U\+0020\) at index 1/);
  assertProblem(checkTopic('a.b\tc'), 'MG_ERR_TOPIC_INVALID', /token 2 .* control character \(U\+0009\)/);
  assertProblem(checkTopic('a\u0000'), 'MG_ERR_TOPIC_INVALID', /U\+0000/);
  assertProblem(checkTopic('a\u007f'), 'MG_ERR_TOPIC_INVALID', /U\+007F/);
  assertProblem(checkTopic('a\u0085'), 'MG_ERR_TOPIC_INVALID', /U\+0085/);
  assertProblem(checkTopic('a\u00a0b'), 'MG_ERR_TOPIC_INVALID', /whitespace \(U\+00A0\)/);
  assertProblem(checkTopic('a\u2028'), 'MG_ERR_TOPIC_INVALID', /U\+2028/);
  assertProblem(checkTopic('a\u3000'), 'MG_ERR_TOPIC_INVALID', /U\+3000/);
  assertProblem(checkTopic('a\ufeff'), 'MG_ERR_TOPIC_INVALID', /U\+FEFF/);
});

test('a problem message shows control characters escaped, not raw', () => {
  const problem = checkTopic('a\nb');
  assert.ok(problem);
  assert.ok(!problem.message.includes('\n'));
  assert.match(problem.message, /'a\\u000ab'/);
});

test('checkTopic() refuses an unpaired surrogate but accepts a pair', () => {
  assertProblem(checkTopic('a.\ud800'), 'MG_ERR_TOPIC_INVALID', /unpaired surrogate/);
  assertProblem(checkTopic('a.\udc00x'), 'MG_ERR_TOPIC_INVALID', /unpaired surrogate/);
  assert.equal(checkTopic('a.\ud83d\ude00'), null);
});

test('checkFilter() accepts * anywhere and > as the last token', () => {
  for (const filter of ['*', '>', 'a.*', '*.b', 'a.*.c.>', '*.*.*']) assert.equal(checkFilter(filter), null, filter);
});

test('checkFilter() refuses > before the last token', () => {
  assertProblem(checkFilter('a.>.b'), 'MG_ERR_TOPIC_INVALID', /token 2 .* '>' but not the last token/);
  assertProblem(checkFilter('>.>'), 'MG_ERR_TOPIC_INVALID', /token 1/);
});

test('checkFilter() reports the same token problems as checkTopic()', () => {
  assertProblem(checkFilter(''), 'MG_ERR_TOPIC_INVALID', /filter is empty/);
  assertProblem(checkFilter('a..*'), 'MG_ERR_TOPIC_INVALID', /token 2 .* empty/);
  assertProblem(checkFilter('a.* '), 'MG_ERR_TOPIC_INVALID', /inside it|whitespace/);
});

test('the default limits are frozen: 256 characters, 16 tokens, 8 wildcards', () => {
  assert.ok(Object.isFrozen(DEFAULT_TOPIC_LIMITS));
  assert.deepEqual({ ...DEFAULT_TOPIC_LIMITS }, { maxLength: 256, maxTokens: 16, maxWildcards: 8 });
});

test('checkTopic() enforces maxLength in UTF-16 code units', () => {
  assert.equal(checkTopic('a'.repeat(256)), null);
  assertProblem(checkTopic('a'.repeat(257)), 'MG_ERR_TOPIC_LIMIT', /257 characters long; the limit is 256/);
  // One astral character is two code units.
  assert.equal(checkTopic('\u{1F600}'.repeat(128)), null);
  assertProblem(checkTopic('\u{1F600}'.repeat(129)), 'MG_ERR_TOPIC_LIMIT', /258 characters/);
});

test('checkTopic() and checkFilter() enforce maxTokens', () => {
  const sixteen = Array(16).fill('a').join('.');
  assert.equal(checkTopic(sixteen), null);
  assertProblem(checkTopic(`${sixteen}.a`), 'MG_ERR_TOPIC_LIMIT', /17 tokens; the limit is 16/);
  assertProblem(checkFilter(`${sixteen}.>`), 'MG_ERR_TOPIC_LIMIT', /17 tokens/);
});

test('checkFilter() enforces maxWildcards, counting * and >', () => {
  assert.equal(checkFilter('*.*.*.*.*.*.*.>'), null);
  assertProblem(checkFilter('*.*.*.*.*.*.*.*.>'), 'MG_ERR_TOPIC_LIMIT', /9 wildcards; the limit is 8/);
});

test('custom limits replace the defaults', () => {
  const limits: TopicLimits = { maxLength: 5, maxTokens: 2, maxWildcards: 1 };
  assert.equal(checkTopic('a.b', limits), null);
  assertProblem(checkTopic('abcdef', limits), 'MG_ERR_TOPIC_LIMIT', /limit is 5/);
  assertProblem(checkTopic('a.b.c', limits), 'MG_ERR_TOPIC_LIMIT', /3 tokens/);
  assertProblem(checkFilter('*.*', limits), 'MG_ERR_TOPIC_LIMIT', /2 wildcards/);
});

test('a syntax error in an over-long topic is reported as the length limit, found without scanning', () => {
  assertProblem(checkTopic(`${'.'.repeat(300)}`), 'MG_ERR_TOPIC_LIMIT', /300 characters/);
});

test('filterMatches() lets * match exactly one token', () => {
  assert.equal(filterMatches('a.*', 'a.b'), true);
  assert.equal(filterMatches('a.*', 'a'), false);
  assert.equal(filterMatches('a.*', 'a.b.c'), false);
  assert.equal(filterMatches('*.b', 'a.b'), true);
  assert.equal(filterMatches('*', 'a'), true);
});

test('filterMatches() lets > match one or more trailing tokens, never zero', () => {
  assert.equal(filterMatches('a.>', 'a.b'), true);
  assert.equal(filterMatches('a.>', 'a.b.c.d'), true);
  assert.equal(filterMatches('a.>', 'a'), false);
  assert.equal(filterMatches('>', 'a'), true);
  assert.equal(filterMatches('>', 'a.b'), true);
});

test('filterMatches() compares literal tokens exactly', () => {
  assert.equal(filterMatches('a.b', 'a.b'), true);
  assert.equal(filterMatches('a.b', 'a.B'), false);
  assert.equal(filterMatches('a.b', 'a.b.c'), false);
  assert.equal(filterMatches('a.b.c', 'a.b'), false);
});

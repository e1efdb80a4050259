import { type FilterSpelling, MESH_TOKENS, type TokenDialect, translateMeshFilter, translateToken, utf8Length } from './token-escape.js';
import { checkTopic, NO_TOPIC_LIMITS } from './topic.js';
import { quote, TopicError } from './topic-problem.js';
import { zeroOrMoreToMesh } from './zero-or-more.js';

/**
 * Mesh <-> AMQP 0-9-1 topic exchange translation (RabbitMQ semantics).
 *
 * Both separate words with `.`. In binding keys `*` is exactly one word
 * and `#` zero or more words, anywhere in the key; in routing keys both
 * are ordinary text. A routing key is a shortstr: at most 255 bytes.
 *
 * Escape table (rules in token-escape.ts: escapes are upper-case UTF-8
 * percent-encodings, and a `%` is literal unless it starts one):
 *
 * | character                     | in a mesh token       | in an AMQP word |
 * |-------------------------------|-----------------------|-----------------|
 * | `.`                           | `%2E`                 | `%2E`           |
 * | `*` as the whole token        | `%2A`                 | `%2A`           |
 * | `#` as the whole token        | `#`                   | `%23`           |
 * | `*` inside a longer token     | `%2A`                 | `*`             |
 * | `#` inside a longer token     | `#`                   | `#`             |
 * | `>`                           | `%3E`                 | `>`             |
 * | whitespace, control (U+0001-U+0020, U+007F-U+00A0, Unicode spaces) | `%20`, `%0A`, `%C2%A0` ... | literal |
 * | `%` followed by an escape     | `%25`                 | `%25`           |
 * | any other `%`                 | `%`                   | `%`             |
 * | empty word (`a..b`, `.a`, `a.`) | `%00` (whole token) | empty           |
 *
 * Why a whole-word `*` or `#` is escaped on the AMQP side: no binding
 * can select a routing key word that is literally `*` (the binding `*`
 * matches every word), so a mesh subscription to it could not be carried.
 * Escaped, it is an ordinary word that bindings match exactly. The same
 * characters inside longer words are literal to RabbitMQ and stay as is.
 *
 * Not representable, so these throw `TopicError`: the empty routing key
 * (RabbitMQ splits it into no words in older releases and one empty word
 * in newer ones, and mesh topics have at least one token, so mesh `%00`
 * has no AMQP form either); a routing key word that is a bare `*` or `#`;
 * U+0000; keys over 255 bytes; tokens not in canonical escaped form; and
 * binding keys with a `#` followed by a literal word (`#.b`, `a.#.c`),
 * since the mesh `>` only ends a filter.
 */

/** The AMQP dialect: `.` separates words; a whole-word `*` or `#` would read as a binding wildcard. */
export const AMQP_WORDS: TokenDialect = Object.freeze({
  protocol: 'AMQP',
  unit: 'word',
  empty: '',
  mustEscape: (c: number, token: string) => c === 0x2e || (token.length === 1 && (c === 0x2a || c === 0x23)),
  escapable: (c: number) => c === 0x2e || c === 0x2a || c === 0x23,
});

/** AMQP 0-9-1 shortstr: routing and binding keys are at most 255 bytes. */
const AMQP_MAX_BYTES = 255;

/**
 * AMQP routing key for a mesh topic. Throws `TopicError`.
 *
 * @example
 * meshTopicToAmqp('db.orders.insert'); // 'db.orders.insert'
 * meshTopicToAmqp('fw.v1%2E2');        // 'fw.v1%2E2' (the '.' stays escaped)
 */
export function meshTopicToAmqp(topic: string): string {
  const problem = checkTopic(topic, NO_TOPIC_LIMITS);
  if (problem !== null) throw TopicError.from(problem);
  // Fast path: without '%' and '#' every token is spelled the same way.
  const out =
    topic.includes('%') || topic.includes('#')
      ? topic
          .split('.')
          .map((token, i) => translateToken(token, MESH_TOKENS, AMQP_WORDS, i, topic))
          .join('.')
      : topic;
  if (out === '') {
    throw invalid(`mesh topic ${quote(topic)} is one empty token; the empty AMQP routing key has no agreed word count`);
  }
  checkBytes(out, 'routing key');
  return out;
}

/**
 * Mesh topic for an AMQP routing key. Throws `TopicError`. Mesh limits
 * are the caller's: check the result with `checkTopic`.
 *
 * @example
 * amqpTopicToMesh('fw.v1 2..x'); // 'fw.v1%202.%00.x'
 */
export function amqpTopicToMesh(key: string): string {
  if (key === '') {
    throw invalid('AMQP routing key is empty; RabbitMQ reads it as no words or as one empty word by version, so it has no mesh form');
  }
  checkBytes(key, 'routing key');
  if (!needsWork(key)) return key;
  return key
    .split('.')
    .map((word, i) => {
      if (word === '*' || word === '#') {
        const code = word === '*' ? '%2A' : '%23';
        throw invalid(
          `word ${i + 1} of AMQP routing key ${quote(key)} is a bare '${word}', which any binding reads as a wildcard; ` +
            `it has no mesh form: publish '${code}' to mean the literal word`,
        );
      }
      return translateToken(word, AMQP_WORDS, MESH_TOKENS, i, key);
    })
    .join('.');
}

/**
 * AMQP binding key matching exactly the topics `filter` matches: `*` ->
 * `*`; a final `>` -> `*.#` (one word, then zero or more), or `#` when it
 * is the whole filter. Throws `TopicError`.
 *
 * @example
 * meshFilterToAmqp('a.>'); // 'a.*.#'
 */
export function meshFilterToAmqp(filter: string): string {
  const out = translateMeshFilter(filter, AMQP_FILTER_SPELLING);
  checkBytes(out, 'binding key');
  return out;
}

const AMQP_FILTER_SPELLING: FilterSpelling = {
  separator: '.',
  one: '*',
  oneOrMore: '*.#',
  all: '#',
  tokens: AMQP_WORDS,
  emptyReason: 'the empty AMQP binding key has no agreed word count',
};

/**
 * Mesh filters whose union matches exactly the routing keys the AMQP
 * binding key matches. `#` must end the key, or be followed only by `*`
 * and `#` (`#.*` is the same set as `*.#`); otherwise this throws
 * `TopicError` MG_ERR_TOPIC_INVALID.
 *
 * @example
 * amqpFilterToMesh('a.#');   // ['a', 'a.>']
 * amqpFilterToMesh('a.*.#'); // ['a.>']
 * amqpFilterToMesh('#');     // ['>']
 */
export function amqpFilterToMesh(filter: string): string[] {
  if (filter === '') {
    throw invalid('AMQP binding key is empty; it matches only the empty routing key, which has no mesh form');
  }
  checkBytes(filter, 'binding key');
  const words = filter.split('.');
  const tokens: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (word === '#') {
      let stars = 0;
      for (let j = i + 1; j < words.length; j++) {
        if (words[j] === '*') stars++;
        else if (words[j] !== '#') {
          throw invalid(
            `word ${i + 1} of AMQP binding key ${quote(filter)} is '#' followed by the word ${quote(words[j])}; ` +
              `mesh filters have no zero-or-more wildcard before a literal word ('>' only ends a filter), so '#' must be last`,
          );
        }
      }
      return zeroOrMoreToMesh(tokens, stars);
    }
    tokens.push(word === '*' ? '*' : translateToken(word, AMQP_WORDS, MESH_TOKENS, i, filter));
  }
  return [tokens.join('.')];
}

/** Whether a routing key needs more than a copy: escapes, syntax characters, empty words, non-printable-ASCII. */
function needsWork(key: string): boolean {
  const n = key.length;
  if (key.charCodeAt(0) === 0x2e || key.charCodeAt(n - 1) === 0x2e) return true;
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x25 || c === 0x2a || c === 0x3e || c === 0x23) return true;
    if (c === 0x2e && key.charCodeAt(i + 1) === 0x2e) return true;
  }
  return false;
}

function checkBytes(s: string, what: string): void {
  if (s.length <= AMQP_MAX_BYTES / 3) return;
  const bytes = utf8Length(s);
  if (bytes > AMQP_MAX_BYTES) {
    throw new TopicError('MG_ERR_TOPIC_LIMIT', `AMQP ${what} ${quote(s)} is ${bytes} bytes in UTF-8; the limit is ${AMQP_MAX_BYTES} (AMQP 0-9-1 shortstr)`);
  }
}

function invalid(message: string): TopicError {
  return new TopicError('MG_ERR_TOPIC_INVALID', message);
}

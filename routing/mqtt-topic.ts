import { type FilterSpelling, MESH_TOKENS, type TokenDialect, translateMeshFilter, translateToken, utf8Length } from './token-escape.js';
import { checkTopic, NO_TOPIC_LIMITS } from './topic.js';
import { quote, TopicError } from './topic-problem.js';
import { zeroOrMoreToMesh } from './zero-or-more.js';

/**
 * Mesh <-> MQTT topic translation (MQTT 3.1.1 and 5, which agree here).
 *
 * Separators: mesh `.`, MQTT `/`. Wildcards: mesh `*` = MQTT `+` (one
 * level); mesh `>` = one or more trailing tokens, MQTT `#` = zero or more
 * trailing levels, parent included (`a/#` matches `a`) [MQTT-4.7.1-1].
 *
 * Escape table (rules in token-escape.ts: escapes are upper-case UTF-8
 * percent-encodings, and a `%` is literal unless it starts one):
 *
 * | character                    | in a mesh token        | in an MQTT level |
 * |------------------------------|------------------------|------------------|
 * | `.`                          | `%2E`                  | `.`              |
 * | `*`                          | `%2A`                  | `*`              |
 * | `>`                          | `%3E`                  | `>`              |
 * | whitespace, control (U+0001-U+0020, U+007F-U+00A0, Unicode spaces) | `%20`, `%0A`, `%C2%A0` ... | literal |
 * | `/`                          | `/`                    | `%2F`            |
 * | `+`                          | `+`                    | `%2B`            |
 * | `#`                          | `#`                    | `%23`            |
 * | `%` followed by an escape    | `%25`                  | `%25`            |
 * | any other `%`                | `%`                    | `%`              |
 * | empty level (`a//b`, `/a`, `a/`) | `%00` (whole token) | empty        |
 *
 * Examples: mesh `files.v1/2` <-> MQTT `files/v1%2F2`; MQTT `fw/v1.2` <->
 * mesh `fw.v1%2E2`; MQTT `/a//b/` <-> mesh `%00.a.%00.b.%00`; mesh
 * `cpu.50%` <-> MQTT `cpu/50%`.
 *
 * Not representable, so these throw `TopicError`: a mesh topic that is a
 * single empty token (`%00`: an MQTT topic is at least one character
 * [MQTT-4.7.3-1]), U+0000 [MQTT-4.7.3-2], and tokens not in canonical
 * escaped form (`a%2Fb` in the mesh, `a%2Eb` in MQTT: each would come back
 * spelled differently).
 *
 * Known difference: MQTT wildcards in the first level do not match topics
 * that begin with `$` [MQTT-4.7.2-1]; mesh wildcards match every token.
 * So mesh `>` translates to `#`, which skips `$SYS/...` on the MQTT side.
 * `$` topics are broker-internal, which is the point of the MQTT rule.
 */

/** The MQTT dialect: `/` separates levels, `+` and `#` are reserved for filters. */
export const MQTT_LEVELS: TokenDialect = Object.freeze({
  protocol: 'MQTT',
  unit: 'level',
  empty: '',
  mustEscape: (c: number) => mqttEscapable(c),
  escapable: (c: number) => mqttEscapable(c),
});

function mqttEscapable(c: number): boolean {
  return c === 0x2f || c === 0x2b || c === 0x23;
}

/** [MQTT-4.7.3-3]: topic names and filters encode to at most 65,535 bytes. */
const MQTT_MAX_BYTES = 65_535;

/**
 * MQTT topic name for a mesh topic. Throws `TopicError` for an invalid
 * mesh topic or one with no MQTT form (see the table above).
 *
 * @example
 * meshTopicToMqtt('sensors.v1/2.temp'); // 'sensors/v1%2F2/temp'
 */
export function meshTopicToMqtt(topic: string): string {
  const problem = checkTopic(topic, NO_TOPIC_LIMITS);
  if (problem !== null) throw TopicError.from(problem);
  // Fast path for the usual topic: nothing to escape or unescape.
  const out = hasAny(topic, MESH_SPECIAL_FOR_MQTT)
    ? topic
        .split('.')
        .map((token, i) => translateToken(token, MESH_TOKENS, MQTT_LEVELS, i, topic))
        .join('/')
    : topic.replaceAll('.', '/');
  if (out === '') {
    throw invalid(`mesh topic ${quote(topic)} is one empty token; an MQTT topic name is at least one character [MQTT-4.7.3-1]`);
  }
  checkBytes(out, 'topic name');
  return out;
}

/**
 * Mesh topic for an MQTT topic name. Throws `TopicError` if `topic` is
 * not a valid MQTT topic name or is not in canonical escaped form.
 * Mesh limits are the caller's: check the result with `checkTopic`.
 *
 * @example
 * mqttTopicToMesh('fw/v1.2//x'); // 'fw.v1%2E2.%00.x'
 */
export function mqttTopicToMesh(topic: string): string {
  if (topic === '') throw invalid('MQTT topic name is empty; it must be at least one character [MQTT-4.7.3-1]');
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0x2b || c === 0x23) {
      throw invalid(`MQTT topic name ${quote(topic)} contains the wildcard '${topic[i]}' at index ${i}; wildcards belong in filters only [MQTT-3.3.2-2]`);
    }
    if (c === 0) throw invalid(`MQTT topic name ${quote(topic)} contains U+0000 at index ${i} [MQTT-4.7.3-2]`);
  }
  checkBytes(topic, 'topic name');
  if (!hasAny(topic, MQTT_SPECIAL_FOR_MESH) && !hasEmptyLevel(topic)) return topic.replaceAll('/', '.');
  return topic
    .split('/')
    .map((level, i) => translateToken(level, MQTT_LEVELS, MESH_TOKENS, i, topic))
    .join('.');
}

/**
 * MQTT topic filter matching exactly the topics `filter` matches: `*` ->
 * `+`; a final `>` -> `+/#` (one level, then zero or more), or `#` when it
 * is the whole filter (every topic has a level). Throws `TopicError`.
 *
 * @example
 * meshFilterToMqtt('db.>');   // 'db/+/#'
 * meshFilterToMqtt('*.temp'); // '+/temp'
 */
export function meshFilterToMqtt(filter: string): string {
  const out = translateMeshFilter(filter, MQTT_FILTER_SPELLING);
  checkBytes(out, 'topic filter');
  return out;
}

const MQTT_FILTER_SPELLING: FilterSpelling = {
  separator: '/',
  one: '+',
  oneOrMore: '+/#',
  all: '#',
  tokens: MQTT_LEVELS,
  emptyReason: 'an MQTT topic filter is at least one character [MQTT-4.7.3-1]',
};

/**
 * Mesh filters whose union matches exactly the topics the MQTT `filter`
 * matches (apart from the `$` rule above): `#` becomes "the parent, and
 * `.>`" unless a `+` before it lets one `>` say it all.
 *
 * @example
 * mqttFilterToMesh('a/#');   // ['a', 'a.>']
 * mqttFilterToMesh('a/+/#'); // ['a.>']
 * mqttFilterToMesh('#');     // ['>']
 */
export function mqttFilterToMesh(filter: string): string[] {
  if (filter === '') throw invalid('MQTT topic filter is empty; it must be at least one character [MQTT-4.7.3-1]');
  if (filter.includes('\u0000')) throw invalid(`MQTT topic filter ${quote(filter)} contains U+0000 [MQTT-4.7.3-2]`);
  if (filter.startsWith('$share/')) {
    throw invalid(`MQTT topic filter ${quote(filter)} is a shared subscription [MQTT-4.8.2]; strip '$share/<group>/' and translate the filter after it`);
  }
  checkBytes(filter, 'topic filter');
  const levels = filter.split('/');
  const last = levels.length - 1;
  const tokens: string[] = [];
  for (let i = 0; i <= last; i++) {
    const level = levels[i];
    if (level === '#') {
      if (i !== last) {
        throw invalid(`level ${i + 1} of MQTT filter ${quote(filter)} is '#' but not the last level [MQTT-4.7.1-1]`);
      }
      return zeroOrMoreToMesh(tokens, 0);
    }
    if (level === '+') {
      tokens.push('*');
      continue;
    }
    if (level.includes('+') || level.includes('#')) {
      throw invalid(
        `level ${i + 1} of MQTT filter ${quote(filter)} mixes a wildcard with other characters; '+' and '#' must be a whole level [MQTT-4.7.1-1] [MQTT-4.7.1-2]`,
      );
    }
    tokens.push(translateToken(level, MQTT_LEVELS, MESH_TOKENS, i, filter));
  }
  return [tokens.join('.')];
}

// Characters that need more than a separator swap. Whitespace and control
// characters are caught by the `< 0x21 / > 0x7e` test in hasAny.
const MESH_SPECIAL_FOR_MQTT = charSet('%/+#');
const MQTT_SPECIAL_FOR_MESH = charSet('%.*>');

function charSet(chars: string): Uint8Array {
  const set = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) set[chars.charCodeAt(i)] = 1;
  return set;
}

/** Whether `s` has a character of `set`, or any character outside printable ASCII. */
function hasAny(s: string, set: Uint8Array): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || set[c] === 1) return true;
  }
  return false;
}

function hasEmptyLevel(topic: string): boolean {
  return topic.startsWith('/') || topic.endsWith('/') || topic.includes('//');
}

function checkBytes(s: string, what: string): void {
  // A UTF-16 unit is at most 3 UTF-8 bytes: skip the count for short strings.
  if (s.length * 3 <= MQTT_MAX_BYTES) return;
  const bytes = utf8Length(s);
  if (bytes > MQTT_MAX_BYTES) {
    throw new TopicError('MG_ERR_TOPIC_LIMIT', `MQTT ${what} ${quote(s)} is ${bytes} bytes in UTF-8; the limit is ${MQTT_MAX_BYTES} [MQTT-4.7.3-3]`);
  }
}

function invalid(message: string): TopicError {
  return new TopicError('MG_ERR_TOPIC_INVALID', message);
}

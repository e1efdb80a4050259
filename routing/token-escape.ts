import { checkFilter, isSpaceOrControl, NO_TOPIC_LIMITS } from './topic.js';
import { quote, TopicError } from './topic-problem.js';

/**
 * The percent-escape scheme that makes topic translation reversible.
 *
 * Each protocol spells a token ("level" in MQTT, "word" in AMQP) in its
 * own dialect. Translating decodes the token from one dialect to its
 * plain text, then encodes that text in the other:
 *
 * ```
 *  mesh token ──decode(mesh)──> plain text ──encode(MQTT)──> MQTT level
 *  'v1%2E2'                     'v1.2'                       'v1.2'
 *  'v1/2'                       'v1/2'                       'v1%2F2'
 * ```
 *
 * Rules, the same for every dialect:
 * 1. A character the dialect cannot carry in a token is written as the
 *    percent-encoding of its UTF-8 bytes, upper-case hex (`.` -> `%2E`,
 *    U+00A0 -> `%C2%A0`). Which characters those are is the dialect's table.
 * 2. A `%` sequence is an escape only if it encodes a character of that
 *    table or `%` itself (`%25`). Anything else is literal: `50%off`, `%zz` and `%41` are plain text. So most text with a
 *    `%` in it needs no change at all.
 * 3. A literal `%` is written `%25` exactly when what follows it would
 *    otherwise read as an escape (`%2E` as text is `%252E`).
 * 4. The empty token has a dialect spelling: `%00` in the mesh (mesh
 *    tokens are never empty, and U+0000 is a control character the mesh
 *    escapes anyway), the empty string in MQTT and AMQP. U+0000 itself is
 *    never part of a token: MQTT forbids it and the mesh reserves `%00`.
 *
 * Decoding accepts only the canonical spelling (decode then encode gives
 * the input back) and throws `TopicError` otherwise, e.g. mesh `a%2Fb`
 * (`/` needs no escape in the mesh) or `%25x` (a lone `%` needs none
 * either). That is what makes every accepted translation round-trip.
 */
export interface TokenDialect {
  /** Protocol name for messages: 'mesh', 'MQTT', 'AMQP'. */
  readonly protocol: string;
  /** What the protocol calls a token: 'token', 'level', 'word'. */
  readonly unit: string;
  /** Spelling of the empty token. */
  readonly empty: string;
  /** Whether UTF-16 unit `c` at `index` of the plain token must be escaped. Only BMP characters are ever escaped. */
  mustEscape(c: number, token: string, index: number): boolean;
  /** Whether `%XX` of `c` reads as an escape: every character `mustEscape` may be true for, at any position. */
  escapable(c: number): boolean;
}

const PERCENT = 0x25;
const HEX = '0123456789ABCDEF';

/**
 * The mesh dialect: `.` (the separator), `*` and `>` (wildcards),
 * whitespace and control characters are escaped.
 */
export const MESH_TOKENS: TokenDialect = Object.freeze({
  protocol: 'mesh',
  unit: 'token',
  empty: '%00',
  mustEscape: (c: number) => meshEscapable(c),
  escapable: (c: number) => meshEscapable(c),
});

function meshEscapable(c: number): boolean {
  return c === 0x2e || c === 0x2a || c === 0x3e || isSpaceOrControl(c);
}

/** Plain text of `raw`, a token spelled in `from`, re-spelled in `to`. Throws `TopicError` (see {@link decodeToken}). */
export function translateToken(raw: string, from: TokenDialect, to: TokenDialect, index: number, whole: string): string {
  return encodeToken(decodeToken(raw, from, index, whole), to);
}

/** Spells plain text `text` as a token of `dialect`. Total: every text without U+0000 has one spelling. */
export function encodeToken(text: string, dialect: TokenDialect): string {
  if (text.length === 0) return dialect.empty;
  let simple = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === PERCENT || dialect.mustEscape(c, text, i)) {
      simple = false;
      break;
    }
  }
  if (simple) return text;
  // Right to left, because whether a '%' needs escaping (rule 3) depends
  // on the spelling of what follows it. `head` keeps the first characters
  // of that spelling: an escape is at most 9 characters ('%E3%80%80').
  const pieces = new Array<string>(text.length);
  let head = '';
  for (let i = text.length - 1; i >= 0; i--) {
    const c = text.charCodeAt(i);
    let piece: string;
    if (c === PERCENT) piece = escapeAt(`%${head}`, 0, dialect) >= 0 ? '%25' : '%';
    else if (dialect.mustEscape(c, text, i)) piece = percentEncode(c);
    else piece = text[i];
    pieces[i] = piece;
    head = (piece + head).slice(0, 8);
  }
  return pieces.join('');
}

/**
 * Plain text of `raw`, a token spelled in `dialect`. Throws
 * `TopicError` MG_ERR_TOPIC_INVALID if the spelling is not canonical, or
 * holds U+0000 or an unpaired surrogate. `index` (0-based) and `whole`
 * only serve the message.
 */
export function decodeToken(raw: string, dialect: TokenDialect, index: number, whole: string): string {
  if (raw === dialect.empty) return '';
  let text = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === PERCENT) {
      const e = escapeAt(raw, i, dialect);
      if (e === 0) {
        throw fail(dialect, index, whole, `has the escape '%00' inside it; '%00' only ever spells a whole empty mesh token`);
      }
      if (e > 0) {
        text += String.fromCharCode(e);
        i += escapeLength - 1;
        continue;
      }
    } else if (c === 0) {
      throw fail(dialect, index, whole, 'contains the null character U+0000, which the mesh does not carry');
    } else if (c >= 0xd800 && c <= 0xdfff) {
      const next = raw.charCodeAt(i + 1);
      if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) {
        throw fail(dialect, index, whole, `has an unpaired surrogate at index ${i}; it has no UTF-8 form`);
      }
      text += raw[i] + raw[i + 1];
      i++;
      continue;
    }
    text += raw[i];
  }
  const canonical = encodeToken(text, dialect);
  if (canonical !== raw) {
    throw fail(
      dialect,
      index,
      whole,
      `is not in canonical escaped form: it reads as ${quote(text)}, which is spelled ${quote(canonical)}; ` +
        `escape only the characters the escape table lists, and '%' only before an escape, so translation stays reversible`,
    );
  }
  return text;
}

function fail(dialect: TokenDialect, index: number, whole: string, what: string): TopicError {
  return new TopicError('MG_ERR_TOPIC_INVALID', `${dialect.protocol} ${dialect.unit} ${index + 1} of ${quote(whole)} ${what}`);
}

function percentByte(b: number): string {
  return `%${HEX[b >> 4]}${HEX[b & 15]}`;
}

/** UTF-8 percent-encoding of one BMP, non-surrogate UTF-16 unit. */
function percentEncode(c: number): string {
  if (c < 0x80) return percentByte(c);
  if (c < 0x800) return percentByte(0xc0 | (c >> 6)) + percentByte(0x80 | (c & 63));
  return percentByte(0xe0 | (c >> 12)) + percentByte(0x80 | ((c >> 6) & 63)) + percentByte(0x80 | (c & 63));
}

/** Characters consumed by the last successful {@link escapeAt}. */
let escapeLength = 0;

/**
 * If `s` holds an escape of `dialect` at `i`, returns the escaped UTF-16
 * unit and sets `escapeLength`; else -1. Upper-case hex only, shortest
 * UTF-8 form only, BMP only: anything else is literal text (rule 2).
 */
function escapeAt(s: string, i: number, dialect: TokenDialect): number {
  const b1 = hexByte(s, i);
  if (b1 < 0) return -1;
  let c: number;
  let length: number;
  if (b1 < 0x80) {
    c = b1;
    length = 3;
  } else if (b1 >= 0xc2 && b1 <= 0xdf) {
    const b2 = continuation(s, i + 3);
    if (b2 < 0) return -1;
    c = ((b1 & 31) << 6) | (b2 & 63);
    length = 6;
  } else if (b1 >= 0xe0 && b1 <= 0xef) {
    const b2 = continuation(s, i + 3);
    const b3 = continuation(s, i + 6);
    if (b2 < 0 || b3 < 0) return -1;
    c = ((b1 & 15) << 12) | ((b2 & 63) << 6) | (b3 & 63);
    if (c < 0x800 || (c >= 0xd800 && c <= 0xdfff)) return -1;
    length = 9;
  } else {
    return -1;
  }
  if (c !== PERCENT && !dialect.escapable(c)) return -1;
  escapeLength = length;
  return c;
}

function hexByte(s: string, i: number): number {
  if (s.charCodeAt(i) !== PERCENT) return -1;
  const hi = hexDigit(s.charCodeAt(i + 1));
  const lo = hexDigit(s.charCodeAt(i + 2));
  return hi < 0 || lo < 0 ? -1 : (hi << 4) | lo;
}

function continuation(s: string, i: number): number {
  const b = hexByte(s, i);
  return b >= 0x80 && b <= 0xbf ? b : -1;
}

/** Upper-case hex digit value, or -1: lower case is literal text, so each character has one spelling. */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** UTF-8 size of `s` in bytes (unpaired surrogates count 3, as their U+FFFD replacement would). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** How a target protocol spells mesh filters: its separator, wildcards and token escapes. */
export interface FilterSpelling {
  readonly separator: string;
  /** Mesh `*`: exactly one token. */
  readonly one: string;
  /** A final mesh `>` after other tokens: one token, then zero or more. */
  readonly oneOrMore: string;
  /** A lone mesh `>`: every topic. */
  readonly all: string;
  readonly tokens: TokenDialect;
  /** Why one empty token cannot be expressed, for the error. */
  readonly emptyReason: string;
}

/**
 * The target filter matching exactly the topics mesh `filter` matches.
 * Throws `TopicError`.
 */
export function translateMeshFilter(filter: string, spelling: FilterSpelling): string {
  const problem = checkFilter(filter, NO_TOPIC_LIMITS);
  if (problem !== null) throw TopicError.from(problem);
  const tokens = filter.split('.');
  if (tokens.length === 1 && tokens[0] === '>') return spelling.all;
  const out = tokens
    .map((token, i) => {
      if (token === '*') return spelling.one;
      if (token === '>') return spelling.oneOrMore;
      return translateToken(token, MESH_TOKENS, spelling.tokens, i, filter);
    })
    .join(spelling.separator);
  if (out === '') throw new TopicError('MG_ERR_TOPIC_INVALID', `mesh filter ${quote(filter)} is one empty token; ${spelling.emptyReason}`);
  return out;
}

import { quote, type TopicProblem } from './topic-problem.js';

/**
 * Topic syntax of the mesh (NATS style).
 *
 * ```
 * topic   = token *( "." token )          e.g. db.orders.insert
 * filter  = ftoken *( "." ftoken )         e.g. db.*.insert   db.>
 * token   = 1*tchar                        no ".", no "*" or ">" anywhere,
 *                                          no whitespace, no control character
 * ftoken  = token / "*" / ">"              ">" only as the last token
 * ```
 * `*` matches exactly one token; `>` matches one or more trailing tokens.
 * Every other character (`/`, `+`, `#`, `%`, any letter of any script) is
 * an ordinary token character. Unpaired UTF-16 surrogates are refused:
 * they have no UTF-8 form, so no protocol binding could carry them.
 */

/** Abuse limits applied to every topic and filter a client hands us. */
export interface TopicLimits {
  /**
   * Longest topic or filter, in UTF-16 code units (`string.length`), which
   * equals characters for the BMP and bounds the UTF-8 size by 3x.
   * @default 256
   */
  readonly maxLength: number;
  /** Most tokens in a topic or filter. @default 16 */
  readonly maxTokens: number;
  /** Most `*` and `>` tokens in one filter. @default 8 */
  readonly maxWildcards: number;
}

/**
 * The limits a node applies unless configured otherwise. Frozen: spread
 * it to derive others.
 *
 * @example
 * checkTopic(topic, { ...DEFAULT_TOPIC_LIMITS, maxTokens: 8 });
 */
export const DEFAULT_TOPIC_LIMITS: TopicLimits = Object.freeze({
  maxLength: 256,
  maxTokens: 16,
  maxWildcards: 8,
});

/**
 * No limits: syntax only. For translators and the trie, whose callers
 * apply their own configured limits.
 */
export const NO_TOPIC_LIMITS: TopicLimits = Object.freeze({
  maxLength: Infinity,
  maxTokens: Infinity,
  maxWildcards: Infinity,
});

const DOT = 0x2e;
const STAR = 0x2a;
const GT = 0x3e;

/**
 * Whitespace (everything JavaScript's `\s` matches) and control
 * characters (C0, DEL, C1): invisible in logs and UIs, so two topics that
 * look the same could differ. Translators escape these as `%XX`.
 */
export function isSpaceOrControl(c: number): boolean {
  return (
    c <= 0x20 ||
    (c >= 0x7f && c <= 0xa0) ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/**
 * Checks a concrete topic (the address of one event). Runs per event: it
 * never throws and allocates only when it reports a problem.
 *
 * @example
 * checkTopic('db.orders.insert');   // null
 * checkTopic('db..insert')?.message; // "token 2 of 'db..insert' is empty"
 */
export function checkTopic(topic: string, limits: TopicLimits = DEFAULT_TOPIC_LIMITS): TopicProblem | null {
  return scan(topic, limits, false);
}

/**
 * Checks a subscription filter. `*` and `>` must be whole tokens, `>`
 * only the last one.
 *
 * @example
 * checkFilter('db.*.insert'); // null
 * checkFilter('db.>.insert')?.code; // 'MG_ERR_TOPIC_INVALID'
 */
export function checkFilter(filter: string, limits: TopicLimits = DEFAULT_TOPIC_LIMITS): TopicProblem | null {
  return scan(filter, limits, true);
}

function scan(s: string, limits: TopicLimits, isFilter: boolean): TopicProblem | null {
  const what = isFilter ? 'filter' : 'topic';
  const n = s.length;
  if (n === 0) return invalid(`${what} is empty`);
  // Length first: it bounds the work of the scan below.
  if (n > limits.maxLength) {
    return limit(`${what} ${quote(s)} is ${n} characters long; the limit is ${limits.maxLength}`);
  }
  let tokens = 1;
  let wildcards = 0;
  let start = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    // Printable ASCII other than the three syntax characters: most topics
    // are made of nothing else, so this test comes first.
    if (c > 0x20 && c < 0x7f && c !== DOT && c !== STAR && c !== GT) continue;
    if (c === DOT) {
      if (i === start) return invalid(`token ${tokens} of ${quote(s)} is empty`);
      tokens++;
      start = i + 1;
      continue;
    }
    if (c === STAR || c === GT) {
      const ch = c === STAR ? '*' : '>';
      const whole = i === start && (i + 1 === n || s.charCodeAt(i + 1) === DOT);
      if (!whole) {
        return invalid(`token ${tokens} of ${quote(s)} has '${ch}' inside it; '*' and '>' are wildcards and must be whole tokens`);
      }
      if (!isFilter) {
        return invalid(`token ${tokens} of ${quote(s)} is the wildcard '${ch}'; a topic names one destination, only filters take wildcards`);
      }
      if (c === GT && i + 1 !== n) {
        return invalid(`token ${tokens} of ${quote(s)} is '>' but not the last token; '>' matches all remaining tokens so it must end the filter`);
      }
      wildcards++;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return invalid(`token ${tokens} of ${quote(s)} has an unpaired surrogate at index ${i}; it has no UTF-8 form`);
    }
    if (isSpaceOrControl(c)) {
      const kind = c === 0x20 || c >= 0xa0 ? 'whitespace' : 'a control character';
      const hex = c.toString(16).toUpperCase().padStart(4, '0');
      return invalid(`token ${tokens} of ${quote(s)} contains ${kind} (U+${hex}) at index ${i}; tokens are visible characters only`);
    }
  }
  if (start === n) return invalid(`token ${tokens} of ${quote(s)} is empty`);
  if (tokens > limits.maxTokens) {
    return limit(`${what} ${quote(s)} has ${tokens} tokens; the limit is ${limits.maxTokens}`);
  }
  if (wildcards > limits.maxWildcards) {
    return limit(`filter ${quote(s)} has ${wildcards} wildcards; the limit is ${limits.maxWildcards}`);
  }
  return null;
}

function invalid(message: string): TopicProblem {
  return { code: 'MG_ERR_TOPIC_INVALID', message };
}

function limit(message: string): TopicProblem {
  return { code: 'MG_ERR_TOPIC_LIMIT', message };
}

/**
 * Whether `filter` matches `topic`: the plain reference definition, one
 * split of each. Right for a caller holding one filter, and the brute
 * force the trie is tested against. Both arguments are assumed valid.
 *
 * @example
 * filterMatches('db.>', 'db.orders.insert'); // true
 * filterMatches('db.>', 'db');               // false: '>' needs one token or more
 */
export function filterMatches(filter: string, topic: string): boolean {
  const f = filter.split('.');
  const t = topic.split('.');
  const last = f.length - 1;
  for (let i = 0; i <= last; i++) {
    const tok = f[i];
    if (tok === '>' && i === last) return t.length > i;
    if (i >= t.length) return false;
    if (tok !== '*' && tok !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Finds where a top-level member's value sits in a JSON object's source
 * text, so a codec can keep that value's bytes exactly as the producer
 * wrote them instead of re-serialising a parsed copy.
 *
 * Call it only on text JSON.parse has accepted: it trusts the syntax and
 * only tracks strings and nesting depth. With a duplicated key it returns
 * the last one, as JSON.parse keeps the last.
 *
 * ```
 *   {"id":"1", "data" :  { "a" : 1 } , "x":2}
 *                         ^start      ^end
 * ```
 *
 * @example topLevelMemberSpan('{"a":1,"data": {"x":[1]} }', 'data') // -> [15, 24]
 */
export function topLevelMemberSpan(text: string, name: string): [start: number, end: number] | null {
  let found: [number, number] | null = null;
  let i = skipWs(text, 0);
  if (text.charCodeAt(i) !== LBRACE) return null;
  i++;
  const n = text.length;
  while (i < n) {
    i = skipWs(text, i);
    if (text.charCodeAt(i) !== QUOTE) return found; // '}' of an empty object
    const keyStart = i;
    i = skipString(text, i);
    const isName = keyIs(text, keyStart, i, name);
    i = skipWs(text, skipWs(text, i) + 1); // past ':'
    const valueStart = i;
    i = skipValue(text, i);
    if (isName) found = [valueStart, i];
    i = skipWs(text, i);
    if (text.charCodeAt(i) !== COMMA) return found;
    i++;
  }
  return found;
}

/**
 * Spans of the elements of the JSON array whose source is text[start, end).
 * Same trust rule as topLevelMemberSpan: only for text JSON.parse accepted.
 */
export function arrayElementSpans(text: string, start: number, end: number): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let i = skipWs(text, start);
  if (text.charCodeAt(i) !== LBRACKET) return spans;
  i = skipWs(text, i + 1);
  if (text.charCodeAt(i) === RBRACKET) return spans;
  while (i < end) {
    const elementStart = i;
    i = skipValue(text, i);
    spans.push([elementStart, i]);
    i = skipWs(text, i);
    if (text.charCodeAt(i) !== COMMA) return spans;
    i = skipWs(text, i + 1);
  }
  return spans;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

function skipWs(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/** Index just past the string whose opening quote is at `i`. */
function skipString(text: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = text.indexOf('"', j);
    if (q === -1) return text.length;
    // The quote closes the string unless an odd number of backslashes precede it.
    let b = q - 1;
    while (text.charCodeAt(b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** Index just past the JSON value starting at `i`. */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return skipString(text, i);
  if (c === LBRACE || c === LBRACKET) {
    let depth = 1;
    let j = i + 1;
    const n = text.length;
    while (j < n) {
      const d = text.charCodeAt(j);
      if (d === QUOTE) {
        j = skipString(text, j);
        continue;
      }
      if (d === LBRACE || d === LBRACKET) depth++;
      else if ((d === RBRACE || d === RBRACKET) && --depth === 0) return j + 1;
      j++;
    }
    return n;
  }
  // number, true, false, null: up to the next delimiter or whitespace
  let j = i + 1;
  for (;;) {
    const d = text.charCodeAt(j);
    if (d === COMMA || d === RBRACE || d === RBRACKET || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09 || Number.isNaN(d)) return j; // NaN: past the end
    j++;
  }
}

/** True when the key string spanning [start, end) (quotes included) is `name`, escapes decoded. */
function keyIs(text: string, start: number, end: number, name: string): boolean {
  if (end - start === name.length + 2 && text.startsWith(name, start + 1)) return true;
  // "d\u0061ta" and friends: JSON.parse read them as the plain name, so must we.
  if (end - start < name.length + 2) return false;
  for (let k = start + 1; k < end - 1; k++) {
    if (text.charCodeAt(k) === BACKSLASH) return JSON.parse(text.slice(start, end)) === name;
  }
  return false;
}

/**
 * Finds where a top-level member's value sits in a JSON object's source
 * text, so a codec can keep that value's bytes exactly as the producer
 * wrote them instead of re-serialising a parsed copy.
 *
 * Call it only on text JSON.parse has accepted: it trusts the syntax and
 * only tracks strings and nesting depth. With a duplicated key it returns
 * the last one, as JSON.parse keeps the last.
 *
 * @example topLevelMemberSpan('{"a":1,"data": {"x":[1]} }', 'data') // -> [15, 24]
 */
export function topLevelMemberSpan(text: string, name: string): [start: number, end: number] | null {
  const n = text.length;
  let i = skipWs(text, 0);
  if (text.charCodeAt(i) !== 0x7b /* { */) return null;
  i++;
  let found: [number, number] | null = null;
  while (i < n) {
    i = skipWs(text, i);
    if (text.charCodeAt(i) === 0x7d /* } */) return found;
    // Key: compare decoded, since a key may use escapes ("d\u0061ta").
    const keyEnd = stringEnd(text, i);
    const rawKey = text.slice(i, keyEnd);
    const key = rawKey.includes('\\') ? (JSON.parse(rawKey) as string) : rawKey.slice(1, -1);
    i = skipWs(text, keyEnd) + 1; // past ':'
    i = skipWs(text, i);
    const valueEnd = valueEndAt(text, i);
    if (key === name) found = [i, valueEnd];
    i = skipWs(text, valueEnd);
    if (text.charCodeAt(i) === 0x2c /* , */) i++;
    else return found;
  }
  return found;
}

function skipWs(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/** Index just past the string starting at `i` (which holds its opening quote). */
function stringEnd(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x5c /* \ */) j++;
    else if (c === 0x22 /* " */) return j + 1;
  }
  return text.length;
}

/** Index just past the JSON value starting at `i`. */
function valueEndAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 0x22) return stringEnd(text, i);
  if (c === 0x7b || c === 0x5b /* { [ */) {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const d = text.charCodeAt(j);
      if (d === 0x22) j = stringEnd(text, j) - 1;
      else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    return text.length;
  }
  // Number, true, false, null: runs until a delimiter.
  let j = i;
  while (j < text.length) {
    const d = text.charCodeAt(j);
    if (d === 0x2c || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break;
    j++;
  }
  return j;
}

/**
 * Whether some concrete topic is matched by both filters `a` and `b`
 * (both valid mesh filters). Token by token:
 *
 * | a \ b       | literal y        | `*`   | `>`   |
 * |-------------|------------------|-------|-------|
 * | literal x   | x = y: go on     | go on | yes   |
 * | `*`         | go on            | go on | yes   |
 * | `>`         | yes              | yes   | yes   |
 *
 * and when one runs out of tokens first: no (`>` needs at least one more
 * token, a literal or `*` exactly one).
 *
 * @example
 * filtersOverlap('a.*', 'a.b.>'); // false: 'a.*' has two tokens, 'a.b.>' three or more
 * filtersOverlap('>', '_mg.>');   // true
 */
export function filtersOverlap(a: string, b: string): boolean {
  if (a === b) return true;
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; ; i++) {
    if (i === x.length || i === y.length) return x.length === y.length;
    const s = x[i];
    const t = y[i];
    if (s === '>' || t === '>') return true;
    if (s !== '*' && t !== '*' && s !== t) return false;
  }
}

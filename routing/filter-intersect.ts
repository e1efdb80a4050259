/**
 * Intersection of two mesh filters: the filter matching exactly the topics
 * both match, or null when no topic matches both. Token by token:
 *
 * | a \ b     | literal y          | `*`       | `>` (rest of b: >= 1 token) |
 * |-----------|--------------------|-----------|-----------------------------|
 * | literal x | x if x = y, else ∅ | x         | a's rest                    |
 * | `*`       | y                  | `*`       | a's rest                    |
 * | `>`       | b's rest           | b's rest  | `>`                         |
 *
 * Used wherever interest is narrowed: a bridge's import (what someone
 * wants within what a mapping may bring in) and a partly authorized
 * subscription (what a client asks for within what it may read).
 *
 * @example
 * intersectFilters('db.>', '*.orders.insert'); // 'db.orders.insert'
 * intersectFilters('a.*', 'b.>');              // null
 */
export function intersectFilters(a: string, b: string): string | null {
  const x = a.split('.');
  const y = b.split('.');
  const out: string[] = [];
  for (let i = 0; ; i++) {
    const ai = x[i];
    const bi = y[i];
    if (ai === '>') return i < y.length ? [...out, ...y.slice(i)].join('.') : null;
    if (bi === '>') return i < x.length ? [...out, ...x.slice(i)].join('.') : null;
    if (ai === undefined || bi === undefined) return ai === bi ? out.join('.') : null;
    if (ai === '*') out.push(bi);
    else if (bi === '*' || ai === bi) out.push(ai);
    else return null;
  }
}

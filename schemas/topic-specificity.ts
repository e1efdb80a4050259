/**
 * Which of several topic filters matching one topic is the most specific:
 * compare token by token from the left; at the first position where the
 * kinds differ, a literal token beats `*`, and `*` beats `>`. Two distinct
 * filters that match the same topic always differ somewhere, so the order
 * is total on them. Examples for topic `orders.eu.created`:
 *
 *   orders.eu.created  >  orders.eu.*  >  orders.eu.>  >  orders.*.created  >  orders.>
 *
 * Returns a negative number when `a` is more specific than `b`.
 */
export function compareSpecificity(a: string, b: string): number {
  const ta = a.split('.');
  const tb = b.split('.');
  for (let i = 0; i < Math.max(ta.length, tb.length); i++) {
    const d = rank(tb[i]) - rank(ta[i]);
    if (d !== 0) return d;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function rank(token: string | undefined): number {
  if (token === undefined) return -1;
  return token === '>' ? 0 : token === '*' ? 1 : 2;
}

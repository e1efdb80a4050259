/**
 * Mesh filters for a foreign "zero or more trailing tokens" wildcard
 * (MQTT `#`, AMQP `#`), which the mesh's `>` (one or more) cannot say
 * alone.
 *
 * `prefix` is the filter before the wildcard, already in mesh tokens, and
 * `stars` counts `*` that the foreign filter put after it (AMQP `#.*` is
 * the same set as `*.#`). `*` tokens that end the prefix join them, since
 * "k single tokens then zero or more" is "k-1 single tokens then one or
 * more":
 *
 * ```
 * a #        -> a, a.>        (zero more: 'a' itself; one or more: 'a.>')
 * a * #      -> a.>
 * * * #      -> *.>
 * #          -> >             (every topic has at least one token)
 * ```
 */
export function zeroOrMoreToMesh(prefix: readonly string[], stars: number): string[] {
  let end = prefix.length;
  let k = stars;
  while (end > 0 && prefix[end - 1] === '*') {
    end--;
    k++;
  }
  const base = prefix.slice(0, end);
  if (k > 0) {
    for (let i = 1; i < k; i++) base.push('*');
    base.push('>');
    return [base.join('.')];
  }
  if (base.length === 0) return ['>'];
  const exact = base.join('.');
  return [exact, `${exact}.>`];
}

/**
 * The step both filter tries take while inserting a filter (topic-trie.ts
 * for subscriptions, filter-cover.ts for covers): from `node`, follow token
 * `tok` (`*` or a literal), creating the child with `make` when missing.
 */
export interface SteppableNode<N> {
  star?: N;
  lit?: Map<string, N>;
}

export function stepOrGrow<N extends SteppableNode<N>>(node: N, tok: string, make: () => N): N {
  if (tok === '*') return (node.star ??= make());
  const lit = (node.lit ??= new Map());
  let child = lit.get(tok);
  if (child === undefined) {
    child = make();
    lit.set(tok, child);
  }
  return child;
}

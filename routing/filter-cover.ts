/**
 * Filter coverage, for interest aggregation: a node advertises to a peer
 * only the filters that no other advertised filter already covers.
 *
 * `general` covers `specific` when every topic `specific` matches is also
 * matched by `general`. Token by token:
 *
 * | general \ specific | literal x      | `*`   | `>`   |
 * |--------------------|----------------|-------|-------|
 * | literal x          | same x: go on  | no    | no    |
 * | `*`                | go on          | go on | no    |
 * | `>`                | yes            | yes   | yes   |
 *
 * and when one filter runs out of tokens first: covered only if both run
 * out together. `>` in `specific` stands for "one token or more", which
 * only a `>` in `general` at the same place can absorb.
 */
import { stepOrGrow } from './trie-step.js';

/**
 * Whether every topic matched by `specific` is matched by `general`. Both
 * must be valid filters.
 *
 * @example
 * filterCovers('db.>', 'db.orders.*'); // true
 * filterCovers('a.*', 'a.>');          // false: 'a.b.c' escapes 'a.*'
 */
export function filterCovers(general: string, specific: string): boolean {
  if (general === specific) return true;
  const g = general.split('.');
  const s = specific.split('.');
  for (let i = 0; i < g.length; i++) {
    const gt = g[i];
    if (gt === '>') return i < s.length;
    if (i >= s.length) return false;
    const st = s[i];
    if (st === '>') return false;
    if (gt !== '*' && gt !== st) return false;
  }
  return g.length === s.length;
}

interface CoverNode {
  lit: Map<string, CoverNode> | undefined;
  star: CoverNode | undefined;
  /** A filter ends here. */
  end: boolean;
  /** A filter ends with '>' right after this node. */
  rest: boolean;
}

function newNode(): CoverNode {
  return { lit: undefined, star: undefined, end: false, rest: false };
}

/**
 * The filters of `filters` that no other filter covers, deduplicated and
 * sorted. Advertising these instead of the whole set attracts exactly the
 * same topics.
 *
 * All filters go into a trie once (which also drops duplicates). One
 * depth-first walk then visits each trie node `v` carrying the nodes `S`
 * whose paths cover v's path token by token (`*` covers any token): the
 * candidates that could cover a filter ending at or below v. At v:
 *
 * - if a node of S other than v has a `>` filter, it covers everything
 *   below v and v's own `>` filter: skip all of it;
 * - else if v has a `>` filter, that one covers everything below v: keep
 *   it and skip the subtree (the "skip subtrees under '>'" rule);
 * - a filter ending exactly at v is covered if another node of S ends a
 *   filter too.
 *
 * S is shared by every filter below v, so the cost is the sum of |S| over
 * the trie's nodes: close to the number of tokens for hierarchical
 * filters, never a comparison of every pair.
 *
 * @example
 * minimalCover(['db.orders.*', 'db.>', 'a.b', 'a.*']); // ['a.*', 'db.>']
 */
export function minimalCover(filters: Iterable<string>): string[] {
  const root = newNode();
  for (const filter of filters) {
    const tokens = filter.split('.');
    const last = tokens.length - 1;
    let node = root;
    for (let i = 0; i <= last; i++) {
      const tok = tokens[i];
      if (tok === '>' && i === last) {
        node.rest = true;
        break;
      }
      node = stepOrGrow(node, tok, newNode);
      if (i === last) node.end = true;
    }
  }
  const out: string[] = [];
  visit(root, [root], '', out);
  return out.sort();
}

/** One step of the walk described on {@link minimalCover}; `covering` always holds `node` itself. */
function visit(node: CoverNode, covering: CoverNode[], path: string, out: string[]): void {
  const sep = path === '' ? '' : '.';
  let restElsewhere = false;
  let endElsewhere = false;
  for (const u of covering) {
    if (u === node) continue;
    if (u.rest) restElsewhere = true;
    if (u.end) endElsewhere = true;
  }
  // A `>` in S at this depth needs one more token, so it never covers a
  // filter ending here; a `>` one level up would have skipped us already.
  if (node.end && !endElsewhere) out.push(path);
  if (restElsewhere) return;
  if (node.rest) {
    out.push(`${path}${sep}>`);
    return;
  }
  if (node.lit !== undefined) {
    for (const [tok, child] of node.lit) {
      const next: CoverNode[] = [];
      for (const u of covering) {
        const same = u.lit?.get(tok);
        if (same !== undefined) next.push(same);
        if (u.star !== undefined) next.push(u.star);
      }
      visit(child, next, `${path}${sep}${tok}`, out);
    }
  }
  if (node.star !== undefined) {
    const next: CoverNode[] = [];
    for (const u of covering) if (u.star !== undefined) next.push(u.star);
    visit(node.star, next, `${path}${sep}*`, out);
  }
}

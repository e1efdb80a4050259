/**
 * NATS-style filter matching (docs/protocol.md, Topics): `*` matches one
 * token, `>` one or more trailing tokens. The node sends each event once
 * per connection; the client uses this to hand it to every subscription
 * whose filter matches.
 */
export function filterMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const f = filter.split('.');
  const t = topic.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return t.length > i;
    if (i >= t.length) return false;
    if (f[i] !== '*' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

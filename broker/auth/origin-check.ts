/**
 * Browser Origin check (RFC 6454 serialisation: scheme://host[:port]).
 * Browsers always send Origin on a WebSocket upgrade, so a page on another
 * site cannot ride a user's network position or cookies into the node. A
 * request without Origin is not a browser's and is let through (its
 * credentials are checked as usual).
 *
 * Entries match exactly (case-insensitively); `*` allows every origin;
 * `https://*.example.com` allows any subdomain of example.com over https.
 *
 * @example
 * const allowed = originChecker(['https://app.example.com']);
 * allowed('https://evil.example'); // false
 */
export function originChecker(allowedOrigins: readonly string[] | undefined): (origin: string) => boolean {
  if (allowedOrigins === undefined || allowedOrigins.includes('*')) return () => true;
  const exact = new Set<string>();
  const suffixes: Array<{ scheme: string; suffix: string }> = [];
  for (const raw of allowedOrigins) {
    const o = raw.toLowerCase().replace(/\/+$/, '');
    const m = /^([a-z][a-z0-9+.-]*:\/\/)\*(\.[^/]+)$/.exec(o);
    if (m !== null) suffixes.push({ scheme: m[1], suffix: m[2] });
    else exact.add(o);
  }
  return (origin) => {
    if (origin === '') return true;
    const o = origin.toLowerCase();
    if (exact.has(o)) return true;
    for (const { scheme, suffix } of suffixes) {
      if (o.startsWith(scheme) && o.endsWith(suffix) && o.length > scheme.length + suffix.length && !o.slice(scheme.length, -suffix.length).includes('/'))
        return true;
    }
    return false;
  };
}

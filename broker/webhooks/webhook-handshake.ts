/**
 * The CloudEvents Web Hook abuse protection (Web Hook spec §4), sending
 * side: before its first delivery a webhook asks the target, with
 *
 *   OPTIONS <url>
 *   WebHook-Request-Origin: <origin>
 *
 * and delivers only when the answer is 200 or 204 with a
 * WebHook-Allowed-Origin of that origin or `*` (the spec: a status alone
 * is no consent). WebHook-Allowed-Rate (requests per minute, or `*`) is
 * kept and honoured. A 5xx, 408, 429, timeout or connection error is no
 * answer: the handshake is tried again with backoff. Any other answer is a
 * refusal and disables the webhook. (The callback variant,
 * WebHook-Request-Callback, is not offered.)
 */

export type HandshakeResult =
  | { readonly ok: true; readonly ratePerMinute: number | null }
  | { readonly ok: false; readonly refused: boolean; readonly reason: string; readonly retryAfter: string | null };

export async function validateTarget(
  url: string,
  origin: string,
  timeoutMs: number,
  stop: AbortSignal,
  headers: Readonly<Record<string, string>> = {},
): Promise<HandshakeResult> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'OPTIONS',
      headers: { ...headers, 'WebHook-Request-Origin': origin },
      signal: AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]),
    });
    await res.body?.cancel();
  } catch (err) {
    return { ok: false, refused: false, reason: `validation request failed: ${describeFetchError(err)}`, retryAfter: null };
  }
  const status = res.status;
  if (status >= 500 || status === 408 || status === 429)
    return { ok: false, refused: false, reason: `validation answered ${status}`, retryAfter: res.headers.get('retry-after') };
  const allowed = res.headers.get('webhook-allowed-origin');
  if (status !== 200 && status !== 204)
    return { ok: false, refused: true, reason: `validation handshake refused: OPTIONS answered ${status}`, retryAfter: null };
  if (allowed === null) return { ok: false, refused: true, reason: 'validation handshake refused: no WebHook-Allowed-Origin in the answer', retryAfter: null };
  if (allowed.trim() !== '*' && allowed.trim() !== origin)
    return {
      ok: false,
      refused: true,
      reason: `validation handshake refused: WebHook-Allowed-Origin '${allowed.slice(0, 100)}' is not '${origin}'`,
      retryAfter: null,
    };
  const rate = res.headers.get('webhook-allowed-rate');
  const perMinute = rate !== null && /^\d{1,9}$/.test(rate.trim()) && Number(rate) > 0 ? Number(rate) : null;
  return { ok: true, ratePerMinute: perMinute };
}

/** "timeout", "ECONNREFUSED", ...: what undici's TypeError('fetch failed') hides in its cause. */
export function describeFetchError(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timeout';
  if (e.name === 'AbortError') return 'aborted';
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

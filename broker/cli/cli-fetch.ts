/**
 * fetch() for the CLI's HTTP commands (peers, schema). Node's fetch
 * rejects an unreachable node with only "fetch failed" and hides the
 * reason in `cause`: name the URL and the cause (ECONNREFUSED, ENOTFOUND, ...).
 */
export async function fetchNode(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const cause = (err as Error).cause as (Error & { code?: string }) | undefined;
    const why =
      cause === undefined
        ? (err as Error).message
        : cause.code !== undefined && !cause.message.includes(cause.code)
          ? `${cause.code}: ${cause.message}`
          : cause.message;
    throw new Error(`cannot reach the node at ${url}: ${why}`, { cause: err });
  }
}

/** The node's HTTP API the admin commands use when --url and MESHGATE_URL are unset. */
export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

/**
 * http(s)://host:port<path> from a node URL of any scheme (ws:// and wss://
 * name the same node as http:// and https://).
 * @example apiBase('ws://127.0.0.1:8081/v1/ws', '/v1/streams') // 'http://127.0.0.1:8081/v1/streams'
 */
export function apiBase(url: string | undefined, path: string): string {
  const u = new URL(url ?? process.env.MESHGATE_URL ?? DEFAULT_API_URL);
  u.protocol = u.protocol === 'wss:' || u.protocol === 'https:' ? 'https:' : 'http:';
  return `${u.origin}${path}`;
}

/** One JSON request to the node's API: the status and the JSON answer ({} for an empty body; the text as `message` when it is not JSON). */
export async function callJson(method: string, url: string, body?: unknown): Promise<[number, Record<string, unknown>]> {
  const res = await fetchNode(url, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (text === '') return [res.status, {}];
  try {
    return [res.status, JSON.parse(text) as Record<string, unknown>];
  } catch {
    return [res.status, { error: `HTTP ${res.status}`, message: text }];
  }
}

/** Prints a node's refusal (`CODE: message`, then each reason the answer lists in `messages`); exit 1. */
export function printRefusal(answer: Record<string, unknown>): number {
  const reasons = Array.isArray(answer.messages) ? (answer.messages as string[]) : [];
  process.stderr.write(`${String(answer.error)}: ${String(answer.message)}\n${reasons.map((m) => `  ${m}\n`).join('')}`);
  return 1;
}

/**
 * The CLI's client of the node's CloudEvents HTTP binding: `meshgate pub
 * --http` (POST /v1/events/<topic>, binary mode) and `meshgate sub --sse`
 * (GET /v1/sse/<filter>). Refusals come back as RFC 9457 problem bodies;
 * they become MeshErrors with the body's `code`, so the CLI prints and
 * exits exactly as it does for the WebSocket client.
 */
import { ERROR_CODES, type ErrorCode, MeshError } from '../base/mod.js';
import { percentEncode } from '../event/mod.js';
import { CLIENT_PATH } from '../ws/mod.js';
import { fetchNode } from './cli-fetch.js';
import { type OutgoingEvent, type ReceivedEvent, toCloudEvent } from './mesh-client.js';

/**
 * The node's HTTP base a user's URL names. The same URLs the WebSocket
 * client takes work here: ws(s):// means http(s)://, and a URL without a
 * path, `/`, or the client endpoint `/v1/ws` (what `ws://H:P` means there)
 * means the node itself. Any other path is kept as a prefix (a proxy may
 * map it); a 404 there is MG_ERR_CLIENT_URL.
 */
export function httpBaseUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MeshError('MG_ERR_CLIENT_URL', `'${url}' is not a URL; fix: http://HOST:PORT, e.g. http://127.0.0.1:8080`);
  }
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  else if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new MeshError(
      'MG_ERR_CLIENT_URL',
      `'${url.split('?')[0]}': expected an http(s):// or ws(s):// URL; fix: http://HOST:PORT, e.g. http://127.0.0.1:8080`,
    );
  }
  u.search = '';
  u.hash = '';
  if (u.pathname === CLIENT_PATH || u.pathname === `${CLIENT_PATH}/`) u.pathname = '/';
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u;
}

/** `base` + `v1/<kind>/<encoded name>`. */
function endpoint(base: URL, kind: 'events' | 'sse', name: string): string {
  return new URL(`v1/${kind}/${encodeURIComponent(name)}`, base).toString();
}

function authHeaders(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

/**
 * Publishes one event in binary mode (CloudEvents HTTP binding §3.1):
 * every attribute a `ce-` header, percent-encoded (§3.1.3.2); the data is
 * the body and its datacontenttype the Content-Type (§3.1.1).
 */
export async function httpPublish(base: URL, topic: string, event: OutgoingEvent, token?: string): Promise<{ duplicate: boolean }> {
  const ce = toCloudEvent(event);
  const headers: Record<string, string> = authHeaders(token);
  let body: string | Blob | undefined;
  for (const [name, value] of Object.entries(ce)) {
    if (value === undefined) continue;
    if (name === 'data') {
      const ct = typeof ce.datacontenttype === 'string' ? ce.datacontenttype : 'application/json';
      body = /json/i.test(ct) ? JSON.stringify(value) : String(value);
    } else if (name === 'data_base64') body = new Blob([Buffer.from(String(value), 'base64')]);
    else if (name === 'datacontenttype') headers['content-type'] = String(value);
    else headers[`ce-${name}`] = percentEncode(String(value));
  }
  const url = endpoint(base, 'events', topic);
  const res = await fetchNode(url, { method: 'POST', headers, body });
  if (res.status !== 202) throw await refusal(res, url);
  const reply = (await res.json()) as { duplicate?: unknown };
  return { duplicate: reply.duplicate === true };
}

/** A refused request as a MeshError: the problem body's code and detail, one line per schema violation. */
async function refusal(res: Response, url: string): Promise<MeshError> {
  const text = (await res.text()).slice(0, 65_536);
  let body: Record<string, unknown> | null = null;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = null;
  }
  const code = body?.code;
  if (typeof code === 'string' && code in ERROR_CODES) {
    const reasons = Array.isArray(body!.reasons) ? (body!.reasons as Array<{ path: string; message: string }>) : [];
    const lines = [String(body!.detail), ...reasons.map((r) => `  ${r.path === '' ? '(data)' : r.path}: ${r.message}`)];
    return new MeshError(code as ErrorCode, lines.join('\n'));
  }
  const where = url.split('?')[0];
  // A 404 without a problem body: the URL names no events endpoint of a node.
  if (res.status === 404) {
    return new MeshError(
      'MG_ERR_CLIENT_URL',
      `${where}: HTTP 404, no meshgate events endpoint there; fix: give the node's address (http://HOST:PORT or ws://HOST:PORT)`,
    );
  }
  return new MeshError('MG_ERR_INTERNAL', `${where}: HTTP ${res.status}: ${text.trim().slice(0, 500)}`);
}

/** An open SSE subscription. */
export interface SseSubscription {
  /** Resolves when the stream ends: 'closed' by close(), 'ended' by the node. */
  readonly done: Promise<'closed' | 'ended'>;
  close(): void;
}

/**
 * Opens GET /v1/sse/<filter> and resolves once the node answered 200 (the
 * subscription is in place then); a refusal rejects with its MeshError.
 * Each message's data lines are one structured CloudEvent; its topic is
 * the event's `mgtopic`.
 */
export async function sseSubscribe(base: URL, filter: string, token: string | undefined, onEvent: (e: ReceivedEvent) => void): Promise<SseSubscription> {
  const url = endpoint(base, 'sse', filter);
  const abort = new AbortController();
  const res = await fetchNode(url, { headers: { accept: 'text/event-stream', ...authHeaders(token) }, signal: abort.signal });
  if (res.status !== 200 || res.body === null) throw await refusal(res, url);
  let closed = false;
  const done = (async (): Promise<'closed' | 'ended'> => {
    const decoder = new TextDecoder();
    let buffer = '';
    let data: string[] = [];
    let type = 'message';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        // SSE lines end in CR LF, LF or CR (WHATWG HTML §9.2.6); a blank line ends a message.
        for (let m = /\r\n|\n|\r/.exec(buffer); m !== null; m = /\r\n|\n|\r/.exec(buffer)) {
          // A lone CR at the end may be half of a CR LF: wait for the next chunk.
          if (m[0] === '\r' && m.index === buffer.length - 1) break;
          const line = buffer.slice(0, m.index);
          buffer = buffer.slice(m.index + m[0].length);
          if (line === '') {
            // Only plain messages are events: a resuming stream's `event: mg-reset` notice is not one.
            if (data.length > 0 && type === 'message') {
              const event = JSON.parse(data.join('\n')) as Record<string, unknown>;
              if (!closed) onEvent({ topic: String(event.mgtopic ?? ''), event });
            }
            data = [];
            type = 'message';
          } else if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
          else if (line.startsWith('event:')) type = line.slice(line.startsWith('event: ') ? 7 : 6);
          // comments (':'), id: and retry: lines carry nothing the CLI prints
        }
      }
    } catch (err) {
      if (!closed) throw err;
    }
    return closed ? 'closed' : 'ended';
  })();
  return {
    done,
    close: () => {
      if (closed) return;
      closed = true;
      abort.abort();
    },
  };
}

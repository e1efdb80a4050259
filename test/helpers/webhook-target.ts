import { once } from 'node:events';
import http from 'node:http';
import type { TestContext } from 'node:test';

/** One request a webhook target received. */
export interface TargetRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** The status it was answered with; null while held (never answered). */
  status: number | null;
}

/** What the target does with a request: a status (and headers), 'hang' (never answers) or 'reset' (drops the connection). */
export type TargetAnswer = { status: number; headers?: Record<string, string> } | 'hang' | 'reset';

export interface WebhookTarget {
  readonly url: string;
  readonly requests: TargetRequest[];
  /** Resolves once `pred(requests)` holds (checked after each answered request). */
  waitFor(pred: (requests: TargetRequest[]) => boolean): Promise<void>;
  /** POSTs answered 2xx. */
  delivered(): TargetRequest[];
}

/** The CloudEvents Web Hook handshake answer that allows any origin: echo it. */
export function allowOrigin(req: { headers: http.IncomingHttpHeaders }): TargetAnswer {
  return { status: 200, headers: { 'WebHook-Allowed-Origin': String(req.headers['webhook-request-origin'] ?? ''), 'WebHook-Allowed-Rate': '*' } };
}

/**
 * A real HTTP server on 127.0.0.1 as a webhook target: records every
 * request and answers as `answer` says (OPTIONS included). Closed, held
 * requests and all, after the test.
 */
export async function startWebhookTarget(t: TestContext, answer: (req: TargetRequest, index: number) => TargetAnswer, port = 0): Promise<WebhookTarget> {
  const requests: TargetRequest[] = [];
  const waiters: Array<{ pred: (r: TargetRequest[]) => boolean; done: () => void }> = [];
  const check = () => {
    for (const w of waiters.splice(0))
      if (w.pred(requests)) w.done();
      else waiters.push(w);
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: TargetRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), status: null };
      requests.push(r);
      const a = answer(r, requests.length - 1);
      if (a === 'reset') req.socket.destroy();
      else if (a !== 'hang') {
        r.status = a.status;
        res.writeHead(a.status, a.headers ?? {}).end();
      }
      check();
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });
  const bound = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${bound}/hook`,
    requests,
    waitFor: (pred) => (pred(requests) ? Promise.resolve() : new Promise((done) => waiters.push({ pred, done }))),
    delivered: () => requests.filter((r) => r.method === 'POST' && r.status !== null && r.status >= 200 && r.status < 300),
  };
}

/** A port nothing listens on (bound and closed again), for a target that is not up yet. */
export async function unusedPort(): Promise<number> {
  const server = http.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

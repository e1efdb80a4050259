import type { HttpResponse } from 'uWebSockets.js';

/** Answers with a JSON body, corked: one write for status, header and body. */
export function sendJson(res: HttpResponse, status: string, body: unknown): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('Content-Type', 'application/json').end(JSON.stringify(body));
  });
}

import type { HttpResponse } from 'uWebSockets.js';
import type { ErrorCode } from '../base/mod.js';

/** Answers with a JSON body, corked: one write for status, header and body. */
export function sendJson(res: HttpResponse, status: string, body: unknown): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('Content-Type', 'application/json').end(JSON.stringify(body));
  });
}

/** Answers a refusal as `{error: code, message}`, the code typed against the one catalogue. */
export function sendError(res: HttpResponse, status: string, code: ErrorCode, message: string): void {
  sendJson(res, status, { error: code, message });
}

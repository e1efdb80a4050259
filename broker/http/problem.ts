/**
 * RFC 9457 problem details, the body of every refusal on the HTTP
 * binding's endpoints (POST /v1/events/, GET /v1/sse/):
 *
 *   { "type": "urn:meshgate:error:MG_ERR_EVENT_INVALID", "title": <catalogue meaning>,
 *     "status": 400, "detail": "id: is required", "code": "MG_ERR_EVENT_INVALID",
 *     "reasons": [...] }   // reasons only for MG_ERR_EVENT_SCHEMA
 *
 * `type` is a URN built from the stable code (RFC 9457 §3.1.1 allows a
 * URI that does not resolve); `code` repeats it as the extension member
 * clients switch on, the same code every other protocol of the node uses.
 */
import type { HttpResponse } from 'uWebSockets.js';
import { ERROR_CODES, type ErrorCode } from '../base/mod.js';
import type { SchemaReason } from '../pipeline/mod.js';

/** Media type of a problem body (RFC 9457 §3). */
export const PROBLEM_JSON = 'application/problem+json';

export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: ErrorCode;
  readonly reasons?: readonly SchemaReason[];
}

/** HTTP status of a refusal by its code, for the binding's endpoints. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  MG_ERR_AUTH_REQUIRED: 401,
  MG_ERR_AUTH_INVALID: 401,
  MG_ERR_AUTH_EXPIRED: 401,
  MG_ERR_AUTH_FORBIDDEN: 403,
  MG_ERR_ORIGIN_FORBIDDEN: 403,
  MG_ERR_TOPIC_RESERVED: 403,
  MG_ERR_NOT_FOUND: 404,
  MG_ERR_STREAM_UNKNOWN: 404,
  MG_ERR_EVENT_TOO_LARGE: 413,
  MG_ERR_HTTP_MEDIA_TYPE: 415,
  MG_ERR_EVENT_SCHEMA: 422,
  MG_ERR_CONN_LIMIT: 429,
  MG_ERR_CONN_RATE: 429,
  MG_ERR_PUB_RATE: 429,
  MG_ERR_INTERNAL: 500,
  // The event was accepted but could not be stored: nothing was acked, the publisher may retry.
  MG_ERR_STREAM_FULL: 507,
  MG_ERR_STREAM_IO: 503,
};

const REASON_PHRASE: Readonly<Record<number, string>> = {
  202: 'Accepted',
  207: 'Multi-Status',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

/** The HTTP status a refusal with `code` is answered with (400 unless listed). */
export function httpStatusOf(code: ErrorCode): number {
  return STATUS[code] ?? 400;
}

/** "413 Content Too Large", as uWS writeStatus takes it. */
export function statusLine(status: number): string {
  return `${status} ${REASON_PHRASE[status] ?? 'Error'}`;
}

/** The problem object of one refusal (also one item of a batch answer). */
export function problemOf(code: ErrorCode, detail: string, reasons?: readonly SchemaReason[]): Problem {
  const problem: Problem = { type: `urn:meshgate:error:${code}`, title: ERROR_CODES[code].meaning, status: httpStatusOf(code), detail, code };
  return reasons === undefined ? problem : { ...problem, reasons };
}

/**
 * Answers a refusal, corked. `close` asks uWS to close the connection
 * after the answer: for a body that is not read to its end (413), whose
 * remaining bytes must not be parsed as the next request.
 */
export function sendProblem(res: HttpResponse, problem: Problem, close = false): void {
  res.cork(() => {
    res.writeStatus(statusLine(problem.status)).writeHeader('Content-Type', PROBLEM_JSON);
    res.end(JSON.stringify(problem), close);
  });
}

import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { type ErrorCode, MeshError } from '../base/mod.js';
import { consumersOf, decodeStoredEvent, type StreamInfo, type StreamManager, streamConfigFromEntry } from '../streams/mod.js';
import type { WriteRefusal } from './schema-api.js';
import { sendJson } from './send-json.js';

/**
 * Streams over HTTP (operations; reading events is a later step):
 *
 *   GET    /v1/streams          {streams: [info, ...]}
 *   GET    /v1/streams/:name    info: {name, first, last, events, bytes, epoch, config, consumers}
 *                               consumers: [{name, filter, ackWaitMs, maxInFlight, ackFloor, inFlight, lag, bound, active}]
 *   GET    /v1/streams/:name/entries?after=N&limit=M
 *                               {entries: [{offset, time, topic, id, source, type}], last, epoch}
 *                               (an inspection view: committed entries only, at most 1000)
 *   POST   /v1/streams          {name, filters, maxAge?, maxBytes?, maxEvents?} -> 201 info (200 when it existed as is)
 *   DELETE /v1/streams/:name    204
 *   DELETE /v1/streams/:name/consumers/:consumer   204 (404 MG_ERR_CONSUMER_UNKNOWN); same rights as removing the stream
 *
 * Errors are problem details (RFC 9457, application/problem+json) with
 * the node's code in `code` (and `error`, as the other endpoints answer):
 * 404 MG_ERR_STREAM_UNKNOWN, 409 _EXISTS, 422 _INVALID, 413 body too large,
 * 400 body not JSON, 503 _CLOSED / _LOCKED / _CORRUPT / _IO.
 */
export interface StreamApiOptions {
  /** Largest request body accepted, bytes. @default 65_536 */
  readonly maxBodyBytes?: number;
  /** With auth on: may this request create or remove stream `name`? Absent: writes are open (auth off). */
  readonly authorizeWrite?: (req: HttpRequest, name: string) => WriteRefusal | null;
  /**
   * With auth on: who is reading a stream's entries? A refusal, or the
   * check of which topics the caller may read: entries on other topics are
   * left out of the page (their offsets are skipped), so the inspection view
   * shows no more than a stream subscription would deliver. Absent: open.
   */
  readonly authorizeRead?: (req: HttpRequest) => WriteRefusal | ((topic: string) => boolean);
}

const STATUS: Partial<Record<ErrorCode, string>> = {
  MG_ERR_STREAM_UNKNOWN: '404 Not Found',
  MG_ERR_STREAM_EXISTS: '409 Conflict',
  MG_ERR_STREAM_INVALID: '422 Unprocessable Entity',
  MG_ERR_STREAM_REQUEST_INVALID: '400 Bad Request',
  MG_ERR_STREAM_TOO_LARGE: '413 Payload Too Large',
};

/** The JSON form of a stream: offsets, counts, epoch and its config (maxAge in ms). */
export function streamJson(info: StreamInfo): Record<string, unknown> {
  const c = info.config;
  return {
    name: info.name,
    first: info.first,
    last: info.last,
    events: info.events,
    bytes: info.bytes,
    epoch: info.epoch,
    config: { filters: c.filters, maxAge: c.maxAgeMs, maxBytes: c.maxBytes, maxEvents: c.maxEvents },
  };
}

/** streamJson plus the stream's durable consumers (ack floor, in flight, lag = last - ack floor). */
export function streamJsonOf(streams: StreamManager): (info: StreamInfo) => Record<string, unknown> {
  const consumers = consumersOf(streams);
  return (info) => ({ ...streamJson(info), consumers: consumers.list(info.name).map((c) => ({ ...c, active: c.bound > 0 })) });
}

export function mountStreamApi(app: TemplatedApp, streams: StreamManager, options: StreamApiOptions = {}): void {
  const maxBodyBytes = options.maxBodyBytes ?? 65_536;
  const refused = (res: HttpResponse, req: HttpRequest, name: string): boolean => {
    const r = options.authorizeWrite?.(req, name) ?? null;
    if (r === null) return false;
    problem(res, r.status, r.code, r.message);
    return true;
  };
  const withConsumers = streamJsonOf(streams);
  app.get('/v1/streams', (res) => sendJson(res, '200 OK', { streams: streams.list().map(withConsumers) }));
  app.get('/v1/streams/:name', (res, req) => {
    const name = param(req, 0);
    const info = streams.info(name);
    if (info === undefined)
      return problem(
        res,
        '404 Not Found',
        'MG_ERR_STREAM_UNKNOWN',
        `no stream '${name}'; fix: create it (POST /v1/streams) or check the name (GET /v1/streams)`,
      );
    sendJson(res, '200 OK', withConsumers(info));
  });
  app.del('/v1/streams/:name/consumers/:consumer', (res, req) => {
    const name = param(req, 0);
    const consumer = param(req, 1);
    if (refused(res, req, name)) return;
    let aborted = false;
    res.onAborted(() => (aborted = true));
    void consumersOf(streams)
      .remove(name, consumer)
      .then(
        (removed) => {
          if (aborted) return;
          if (!removed) problem(res, '404 Not Found', 'MG_ERR_CONSUMER_UNKNOWN', `no consumer '${consumer}' on stream '${name}'`);
          else res.cork(() => res.writeStatus('204 No Content').end());
        },
        (err: unknown) => {
          if (!aborted) replyError(res, err);
        },
      );
  });
  app.get('/v1/streams/:name/entries', (res, req) => {
    const name = param(req, 0);
    const after = Number(req.getQuery('after') ?? '0');
    const limit = Math.min(1000, Number(req.getQuery('limit') ?? '100'));
    if (!Number.isSafeInteger(after) || after < 0 || !Number.isSafeInteger(limit) || limit < 1) {
      return problem(res, '400 Bad Request', 'MG_ERR_STREAM_REQUEST_INVALID', 'after: a whole number >= 0, limit: 1-1000');
    }
    const reader = options.authorizeRead?.(req) ?? null;
    if (reader !== null && typeof reader !== 'function') return problem(res, reader.status, reader.code, reader.message);
    let aborted = false;
    res.onAborted(() => (aborted = true));
    // An engine that caches (JetStream) fetches first, so a page is never short only for want of a fetch.
    void streams.readable(name, after, limit).then(
      () => {
        if (aborted) return;
        const r = streams.read(name, after, limit);
        if (!r.ok) {
          const status = r.code === 'MG_ERR_STREAM_UNKNOWN' ? '404 Not Found' : '409 Conflict';
          return problem(res, status, r.code, `stream '${name}': cannot read after ${after} (${r.reason}; first ${r.first}, last ${r.last})`);
        }
        const readable = reader === null ? r.entries : r.entries.filter((e) => reader(e.topic));
        const entries = readable.map((e) => {
          const ev = decodeStoredEvent(e.bytes);
          return { offset: e.offset, time: e.time, topic: e.topic, id: ev?.id ?? null, source: ev?.source ?? null, type: ev?.type ?? null };
        });
        sendJson(res, '200 OK', { entries, last: r.last, epoch: r.epoch });
      },
      (err: unknown) => {
        if (!aborted) problem(res, '503 Service Unavailable', 'MG_ERR_STREAM_IO', `stream '${name}': cannot read after ${after} (${(err as Error).message})`);
      },
    );
  });
  app.post('/v1/streams', (res, req) => {
    // The name is in the body: read it first, authorize, then create.
    const auth = options.authorizeWrite === undefined ? null : captureAuth(req);
    withJsonBody(res, req, maxBodyBytes, async (body) => {
      const config = streamConfigFromEntry(body, 'stream');
      if (auth !== null) {
        const r = options.authorizeWrite!(auth, config.name);
        if (r !== null) throw new MeshError(r.code, r.message, { cause: r.status });
      }
      const existed = streams.info(config.name) !== undefined;
      const info = await streams.create(config);
      return [existed ? '200 OK' : '201 Created', streamJson(info)];
    });
  });
  app.del('/v1/streams/:name', (res, req) => {
    const name = param(req, 0);
    if (refused(res, req, name)) return;
    let aborted = false;
    res.onAborted(() => (aborted = true));
    void streams.remove(name).then(
      (removed) => {
        if (aborted) return;
        if (!removed) problem(res, '404 Not Found', 'MG_ERR_STREAM_UNKNOWN', `no stream '${name}'`);
        else res.cork(() => res.writeStatus('204 No Content').end());
      },
      (err: unknown) => {
        if (!aborted) replyError(res, err);
      },
    );
  });
}

/**
 * uWS requests are valid only during the handler: keep the headers the
 * authorizer reads, as a stand-in request it can ask later.
 */
function captureAuth(req: HttpRequest): HttpRequest {
  const authorization = req.getHeader('authorization');
  const token = req.getQuery('token');
  return {
    getHeader: (h: string) => (h.toLowerCase() === 'authorization' ? authorization : ''),
    getQuery: (k?: string) => (k === 'token' ? token : undefined),
  } as unknown as HttpRequest;
}

function param(req: HttpRequest, index: number): string {
  const raw = req.getParameter(index) ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** RFC 9457 problem details, with the node's code. */
function problem(res: HttpResponse, status: string, code: ErrorCode | string, detail: string, close = false): void {
  const n = Number.parseInt(status, 10);
  res.cork(() => {
    res
      .writeStatus(status)
      .writeHeader('Content-Type', 'application/problem+json')
      .end(JSON.stringify({ type: `urn:meshgate:error:${code}`, title: code, status: n, detail, code, error: code, message: detail }), close);
  });
}

function replyError(res: HttpResponse, err: unknown, close = false): void {
  if (err instanceof MeshError) {
    // An authorizer's refusal carries its status as the cause.
    const status = typeof err.cause === 'string' ? err.cause : (STATUS[err.code as ErrorCode] ?? '503 Service Unavailable');
    problem(res, status, err.code, err.message, close);
  } else {
    problem(res, '500 Internal Server Error', 'MG_ERR_INTERNAL', (err as Error)?.message ?? String(err), close);
  }
}

/** Reads a JSON body (chunks copied: uWS reuses them), then answers with `handle(body)`'s [status, body] or the error it throws. */
function withJsonBody(res: HttpResponse, req: HttpRequest, limit: number, handle: (body: unknown) => Promise<[string, unknown]>): void {
  let done = false;
  let aborted = false;
  res.onAborted(() => {
    done = true;
    aborted = true;
  });
  const tooLarge = () => {
    done = true;
    problem(res, '413 Payload Too Large', 'MG_ERR_STREAM_TOO_LARGE', `request body over ${limit} bytes`, true);
  };
  const declared = Number(req.getHeader('content-length'));
  if (Number.isFinite(declared) && declared > limit) return tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  res.onData((chunk, isLast) => {
    if (done) return;
    size += chunk.byteLength;
    if (size > limit) return tooLarge();
    chunks.push(Buffer.from(chunk.slice(0)));
    if (!isLast) return;
    done = true;
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (err) {
      return problem(res, '400 Bad Request', 'MG_ERR_STREAM_REQUEST_INVALID', `the body is not JSON: ${(err as Error).message}`);
    }
    handle(body).then(
      ([status, out]) => {
        if (!aborted) sendJson(res, status, out);
      },
      (err: unknown) => {
        if (!aborted) replyError(res, err);
      },
    );
  });
}

/**
 * The CloudEvents HTTP binding on the node's port:
 *
 *   POST /v1/events/<topic>   publish, binary, structured or batched mode (cloudevents-http.ts)
 *   GET  /v1/sse/<filter>     subscribe, Server-Sent Events of structured JSON (sse-session.ts),
 *                             resumable when a stream covers the filter (sse-resume.ts)
 *   OPTIONS /v1/events/<topic>  the CloudEvents Web Hook validation handshake: this node as a webhook target
 *
 * Both go through the same checks as the WebSocket endpoints: the
 * UpgradeGate (Origin, per-address limits, credential from the
 * Authorization header or the `token` query parameter), the token's
 * publish and subscribe rights (SessionGuard), the node's topic and filter
 * rules, and MeshNode.ingest with protocol 'http'. Every refusal is
 * counted (MeshNode.reject) and answered with an RFC 9457 problem body
 * (problem.ts) before anything else is written.
 *
 * Per-address limits: a request holds one of the address's
 * limits.maxConnectionsPerIp slots while it is in flight, an SSE stream
 * for as long as it is open, and each request takes one
 * limits.connectionRatePerIp token (uWS shows HTTP requests, not the TCP
 * connections under them). limits.publishRate applies per client address
 * here: a keep-alive connection has no identity the handler sees.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { type GuardRefusal, type Principal, type PublishLimit, SessionGuard, TokenBucket, type UpgradeGate } from '../auth/mod.js';
import type { ErrorCode, Metric } from '../base/mod.js';
import type { EventDecodeResult } from '../event/mod.js';
import type { IngestResult, MeshNode, Refusal } from '../pipeline/mod.js';
import type { StreamManager } from '../streams/mod.js';
import type { BufferBudget } from '../ws/mod.js';
import { decodeHttpEvents } from './cloudevents-http.js';
import { problemOf, sendProblem, statusLine } from './problem.js';
import { readBody } from './request-body.js';
import { readStreamIntoSession, resolveSseStart } from './sse-resume.js';
import { SseSession } from './sse-session.js';

/** Prefix of the publish endpoint: POST /v1/events/<url-encoded topic>. */
export const EVENTS_PATH_PREFIX = '/v1/events/';
/** Prefix of the Server-Sent Events endpoint: GET /v1/sse/<url-encoded filter>. */
export const SSE_PATH_PREFIX = '/v1/sse/';

export interface EventsApiOptions {
  /** Largest request body, bytes (limits.maxFrameBytes): past it 413 MG_ERR_EVENT_TOO_LARGE, read no further. */
  readonly maxBodyBytes: number;
  /** Bytes buffered for one SSE stream before it is closed as slow (limits.maxBufferedBytes). */
  readonly maxBufferedBytes: number;
  /** The node-wide buffer bound the WebSocket sessions use (mountWsEndpoints' budget). */
  readonly budget: BufferBudget;
  /** Comment line written to every SSE stream this often, ms (http.sseHeartbeatMs). @default 15_000 */
  readonly sseHeartbeatMs?: number;
  /** Origin, per-address limits and credentials; none: every client admitted. */
  readonly gate?: UpgradeGate;
  /** limits.publishRate / publishBurst, per client address; none or rate 0: unlimited. */
  readonly publishLimit?: PublishLimit | null;
  /** The node's streams: an SSE filter a stream covers is read from it, with ids to resume by (sse-resume.ts). */
  readonly streams?: StreamManager;
  /** WebHook-Request-Origin values OPTIONS /v1/events/ allows (http.webhookOrigins); empty or none: any that passes auth. */
  readonly webhookOrigins?: readonly string[];
}

/** Client addresses whose publish buckets are kept; past it the map starts over (a bucket refills anyway). */
const MAX_RATE_ADDRESSES = 65_536;

type Admitted = { readonly principal: Principal | null; readonly ip: string | null };

/** Mounts POST /v1/events/* and GET /v1/sse/*; returns the open SSE stream count and a close for shutdown. */
export function mountEventsApi(app: TemplatedApp, node: MeshNode, options: EventsApiOptions): { streams: () => number; closeAll: () => void } {
  const m = node.metrics;
  const gate = options.gate;
  const heartbeatMs = options.sseHeartbeatMs ?? 15_000;
  const requests: Record<'accepted' | 'refused', Metric> = {
    accepted: m.counter('meshgate_http_publish_requests_total', 'POST /v1/events/ requests, by outcome (refused: answered 4xx/5xx as a whole)', {
      outcome: 'accepted',
    }),
    refused: m.counter('meshgate_http_publish_requests_total', 'POST /v1/events/ requests, by outcome (refused: answered 4xx/5xx as a whole)', {
      outcome: 'refused',
    }),
  };
  const bytesIn = m.counter('meshgate_http_bytes_in_total', 'Request body bytes read on POST /v1/events/');
  const sessionOptions = {
    maxBufferedBytes: options.maxBufferedBytes,
    // The WebSocket sessions' series: one slow-consumer count per node, whatever the protocol.
    slowConsumerCloses: m.counter(
      'meshgate_slow_consumer_closes_total',
      'Subscribers closed with 1008 as slow consumers: their unsent bytes passed limits.maxBufferedBytes (limit="socket"), or they held the most when the node passed limits.maxNodeBufferedBytes (limit="node")',
      { limit: 'socket' },
    ),
    bytesOut: m.counter('meshgate_sse_bytes_out_total', 'Bytes written to Server-Sent Events streams'),
    budget: options.budget,
  };
  const streams = new Set<SseSession>();
  m.gaugeFn('meshgate_sse_streams', 'Open Server-Sent Events streams (GET /v1/sse/)', () => streams.size);
  const filtered = m.counter(
    'meshgate_auth_filtered_deliveries_total',
    'Deliveries withheld from a partly authorized wildcard subscription (topic not readable by its token)',
  );
  const resumes = {
    resumed: m.counter('meshgate_sse_resumes_total', 'SSE streams opened with a Last-Event-ID, by outcome (reset: the position was gone, mg-reset sent)', {
      outcome: 'resumed',
    }),
    reset: m.counter('meshgate_sse_resumes_total', 'SSE streams opened with a Last-Event-ID, by outcome (reset: the position was gone, mg-reset sent)', {
      outcome: 'reset',
    }),
  };
  const buckets = new Map<string, TokenBucket>();
  const publishLimit = options.publishLimit ?? null;
  const rateLimited = publishLimit !== null && publishLimit.rate > 0;

  const heartbeat = setInterval(() => {
    for (const s of streams) {
      s.comment('heartbeat');
      s.onHeartbeat?.();
    }
  }, heartbeatMs);
  heartbeat.unref();

  /** Refuses with a problem body, counted by code. */
  const refuse = (res: HttpResponse, code: ErrorCode, detail: string, close = false) => {
    node.reject(code, detail);
    sendProblem(res, problemOf(code, detail), close);
  };

  /** Gate checks from the request's headers; null when refused (answered). The caller releases `ip`. */
  const admit = (res: HttpResponse, req: HttpRequest): Admitted | null => {
    if (gate === undefined) return OPEN;
    const verdict = gate.check({
      origin: req.getHeader('origin'),
      authorization: req.getHeader('authorization'),
      queryToken: req.getQuery('token'),
      ip: Buffer.from(res.getRemoteAddressAsText()).toString(),
    });
    if (verdict.ok) return verdict;
    refuse(res, verdict.code, verdict.message);
    return null;
  };

  /** Rights, then the per-address rate, for one event. */
  const checkPublish = (guard: SessionGuard, address: string, topic: string): GuardRefusal | null => {
    const denied = guard.checkPublish(topic);
    if (denied !== null || !rateLimited) return denied;
    let bucket = buckets.get(address);
    if (bucket === undefined) {
      if (buckets.size >= MAX_RATE_ADDRESSES) buckets.clear();
      bucket = new TokenBucket(publishLimit.rate, publishLimit.burst > 0 ? publishLimit.burst : publishLimit.rate);
      buckets.set(address, bucket);
    }
    return bucket.take() ? null : { code: 'MG_ERR_PUB_RATE', message: 'publishing faster than limits.publishRate; event dropped' };
  };

  /** One decoded event through the rights check and the pipeline. */
  const publishOne = (decoded: EventDecodeResult, guard: SessionGuard, address: string, topic: string): IngestResult => {
    if (!decoded.ok) return node.reject('MG_ERR_EVENT_INVALID', `${decoded.problem.attribute}: ${decoded.problem.reason}`);
    const denied = checkPublish(guard, address, topic);
    if (denied !== null) return node.reject(denied.code, denied.message);
    return node.ingest(decoded.event, 'http');
  };

  app.post(`${EVENTS_PATH_PREFIX}*`, (res, req) => {
    /** Set once the request is answered or the client went away: nothing more is written. */
    let aborted = false;
    /** The client went away (uWS forbids touching `res` after that). */
    let gone = false;
    const admitted = admit(res, req);
    if (admitted === null) return;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      gate?.release(admitted.ip);
    };
    res.onAborted(() => {
      aborted = true;
      gone = true;
      release();
    });
    const topic = decodePath(req.getUrl().slice(EVENTS_PATH_PREFIX.length));
    const topicProblem =
      topic === null ? { code: 'MG_ERR_TOPIC_INVALID' as const, message: 'the topic in the path is not valid percent-encoded UTF-8' } : node.checkTopic(topic);
    // Everything the handler needs from `req` is read now: it is invalid once this callback returns.
    const headers: Array<[string, string]> = [];
    req.forEach((name, value) => {
      if (name.startsWith('ce-') || name === 'traceparent' || name === 'tracestate') headers.push([name, value]);
    });
    const contentType = req.getHeader('content-type');
    const contentLength = req.getHeader('content-length');
    const address = Buffer.from(res.getRemoteAddressAsText()).toString();
    const guard = new SessionGuard(admitted.principal, null);
    if (topicProblem !== null) {
      requests.refused.inc();
      refuse(res, topicProblem.code, topicProblem.message, true);
      release();
      aborted = true;
      return;
    }
    readBody(res, contentLength, options.maxBodyBytes, (outcome) => {
      if (aborted) return;
      aborted = true; // answered below: a late abort must not release twice
      release();
      if (!outcome.ok) {
        requests.refused.inc();
        // The rest of the body is not read: close after answering, so it is never parsed as a request.
        refuse(res, 'MG_ERR_EVENT_TOO_LARGE', `the request body is over ${options.maxBodyBytes} bytes (limits.maxFrameBytes)`, true);
        return;
      }
      bytesIn.inc(outcome.body.byteLength);
      const decoded = decodeHttpEvents(headers, contentType, outcome.body, topic!);
      if (decoded.mode === 'refused') {
        requests.refused.inc();
        refuse(res, decoded.code, decoded.detail);
        return;
      }
      if (decoded.mode !== 'batch') {
        const result = publishOne(decoded.result, guard, address, topic!);
        if (!result.ok) {
          requests.refused.inc();
          sendProblem(res, problemOf(result.code, result.message, result.reasons));
          return;
        }
        const id = decoded.result.ok ? decoded.result.event.id : '';
        const accept = (stored: Refusal | null) => {
          if (gone) return;
          if (stored !== null) {
            requests.refused.inc();
            sendProblem(res, problemOf(stored.code, stored.message));
            return;
          }
          requests.accepted.inc();
          sendJsonStatus(res, 202, { id, duplicate: result.duplicate });
        };
        // Matched a local stream: 202 only once it is durably stored (as a /v1/ws pub's ok).
        if (result.durable === undefined) accept(null);
        else void result.durable.then(accept);
        return;
      }
      // Batched: each item on its own; refused items carry their index and problem, the rest are accepted.
      const waits: Array<Promise<void>> = [];
      const results = decoded.items.map((item, index) => {
        const result = publishOne(item, guard, address, topic!);
        const id = item.ok ? item.event.id : undefined;
        if (result.ok) {
          const answer: Record<string, unknown> = { index, id, status: 202, duplicate: result.duplicate };
          // Stored items are answered 202 only once committed; a store refusal replaces the answer.
          if (result.durable !== undefined)
            waits.push(
              result.durable.then((stored) => {
                if (stored === null) return;
                const problem = problemOf(stored.code, stored.message);
                answer.status = problem.status;
                answer.problem = problem;
                delete answer.duplicate;
              }),
            );
          return answer;
        }
        const problem = problemOf(result.code, result.message, result.reasons);
        return { index, id, status: problem.status, problem };
      });
      const answerBatch = () => {
        if (gone) return;
        const refusedItems = results.filter((r) => r.status !== 202).length;
        if (refusedItems < results.length) requests.accepted.inc();
        else requests.refused.inc();
        sendJsonStatus(res, refusedItems === 0 ? 202 : 207, { results });
      };
      if (waits.length === 0) answerBatch();
      else void Promise.all(waits).then(answerBatch);
    });
  });

  /**
   * The CloudEvents Web Hook abuse-protection handshake, this node as the
   * delivery target. A WebHook-Request-Origin is allowed when the request
   * passes the same checks a POST to the topic does (the gate: Origin,
   * per-address limits, credential from the Authorization header or
   * `token`; the topic; the token's publish right on it) and, when
   * http.webhookOrigins is set, the origin is in it (or it holds `*`).
   * Allowed: 200 with WebHook-Allowed-Origin echoing the origin and
   * WebHook-Allowed-Rate (limits.publishRate a minute, `*` unlimited).
   * Not: the refusal as a problem body, no WebHook-Allowed-* headers.
   * Without WebHook-Request-Origin it is a plain OPTIONS: 204 with Allow.
   */
  const allowedOrigins = options.webhookOrigins ?? [];
  const allowedRate = rateLimited ? String(publishLimit.rate * 60) : '*';
  app.options(`${EVENTS_PATH_PREFIX}*`, (res, req) => {
    const origin = req.getHeader('webhook-request-origin');
    const topic = decodePath(req.getUrl().slice(EVENTS_PATH_PREFIX.length));
    if (origin === '') {
      res.cork(() => {
        res.writeStatus('204 No Content').writeHeader('Allow', 'POST, OPTIONS').endWithoutBody();
      });
      return;
    }
    const admitted = admit(res, req);
    if (admitted === null) return;
    gate?.release(admitted.ip);
    const topicProblem =
      topic === null ? { code: 'MG_ERR_TOPIC_INVALID' as const, message: 'the topic in the path is not valid percent-encoded UTF-8' } : node.checkTopic(topic);
    if (topicProblem !== null) return refuse(res, topicProblem.code, topicProblem.message);
    const guard = new SessionGuard(admitted.principal, null);
    const denied = guard.checkPublish(topic!);
    guard.stop();
    if (denied !== null) return refuse(res, denied.code, denied.message);
    if (allowedOrigins.length > 0 && !allowedOrigins.includes('*') && !allowedOrigins.includes(origin))
      return refuse(res, 'MG_ERR_ORIGIN_FORBIDDEN', `WebHook-Request-Origin '${origin.slice(0, 100)}' is not in http.webhookOrigins`);
    res.cork(() => {
      res
        .writeStatus('200 OK')
        .writeHeader('Allow', 'POST, OPTIONS')
        .writeHeader('WebHook-Allowed-Origin', origin)
        .writeHeader('WebHook-Allowed-Rate', allowedRate)
        .end();
    });
  });

  app.get(`${SSE_PATH_PREFIX}*`, (res, req) => {
    const admitted = admit(res, req);
    if (admitted === null) return;
    const filter = decodePath(req.getUrl().slice(SSE_PATH_PREFIX.length));
    const problem =
      filter === null
        ? { code: 'MG_ERR_TOPIC_INVALID' as const, message: 'the filter in the path is not valid percent-encoded UTF-8' }
        : node.checkFilter(filter);
    if (problem !== null) {
      gate?.release(admitted.ip);
      return refuse(res, problem.code, problem.message);
    }
    const guard = new SessionGuard(admitted.principal, null);
    const denied = guard.checkSubscribe(filter!);
    if (denied !== null) {
      gate?.release(admitted.ip);
      return refuse(res, denied.code, denied.message);
    }
    // Rights first (above), so a token without them learns nothing of the streams.
    const headerId = req.getHeader('last-event-id');
    const start = resolveSseStart(options.streams, filter!, {
      stream: req.getQuery('stream'),
      lastEventId: headerId !== '' ? headerId : req.getQuery('lastEventId'),
      from: req.getQuery('from'),
    });
    if (start.kind === 'refused') {
      gate?.release(admitted.ip);
      return refuse(res, start.code, start.message);
    }
    let stopReader: (() => void) | null = null;
    const session: SseSession = new SseSession(res, sessionOptions, () => {
      stopReader?.();
      guard.stop();
      gate?.release(admitted.ip);
      for (const f of session.routerFilters) node.unsubscribe(f, session);
      streams.delete(session);
    });
    res.onAborted(() => session.markClosed());
    res.cork(() => {
      res
        .writeStatus('200 OK')
        .writeHeader('Content-Type', 'text/event-stream; charset=utf-8')
        .writeHeader('Cache-Control', 'no-store')
        // nginx and others buffer responses unless told; a stream must not be held back.
        .writeHeader('X-Accel-Buffering', 'no');
      if (start.kind === 'stream') res.writeHeader('Meshgate-Stream', start.stream).writeHeader('Meshgate-Stream-Epoch', start.epoch);
      // uWS sends the status and headers with the first write: a client sees the stream open at once.
      res.write(': meshgate sse\n\n');
    });
    streams.add(session);
    if (guard.filtering) {
      session.admits = (topic) => {
        if (guard.admits(topic)) return true;
        filtered.inc();
        return false;
      };
    }
    if (start.kind === 'stream') {
      if (start.resumed && start.reset === null) resumes.resumed.inc();
      stopReader = readStreamIntoSession(options.streams!, session, filter!, start, () => resumes.reset.inc());
    } else {
      for (const f of guard.routerFilters(filter!, (x) => node.checkFilter(x) === null)) {
        if (session.routerFilters.includes(f)) continue;
        session.routerFilters.push(f);
        node.subscribe(f, session);
      }
    }
    guard.watchExpiry(() => {
      node.reject('MG_ERR_AUTH_EXPIRED', 'token expired during the SSE stream');
      session.end();
    });
  });

  return {
    streams: () => streams.size,
    closeAll: () => {
      clearInterval(heartbeat);
      for (const s of [...streams]) s.end();
    },
  };
}

/** The path segment as text, or null when it is not valid percent-encoded UTF-8. */
function decodePath(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

function sendJsonStatus(res: HttpResponse, status: number, body: unknown): void {
  res.cork(() => {
    res.writeStatus(statusLine(status)).writeHeader('Content-Type', 'application/json').end(JSON.stringify(body));
  });
}

/** Admitted without checks: auth off and no per-address limits. */
const OPEN: Admitted = Object.freeze({ principal: null, ip: null });

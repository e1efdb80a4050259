import type { HttpRequest, HttpResponse, TemplatedApp, us_socket_context_t, WebSocket } from 'uWebSockets.js';
import { type Principal, type PublishLimit, SessionGuard, statusOf, type UpgradeGate } from '../auth/mod.js';
import { closeReason, codedReason, type ErrorCode, type Metric } from '../base/mod.js';
import { decodeStructuredJson, encodeStructuredJson } from '../event/mod.js';
import type { RemoteStreams } from '../peering/mod.js';
import type { EgressFormat, MeshNode } from '../pipeline/mod.js';
import type { StreamManager } from '../streams/mod.js';
import { BufferBudget } from './buffer-budget.js';
import { negotiateCodec } from './client-protocol.js';
import { CLOSE } from './close-codes.js';
import type { AnySession, CeData, ClientData } from './connection-data.js';
import { errorFrame } from './error-frame.js';
import { dispatch } from './ops/dispatch.js';
import { hold, refreshFiltering } from './session-filters.js';
import { WsSession } from './ws-session.js';

export interface WsEndpointOptions {
  /** Largest frame uWS accepts; larger ones close the socket with 1009. */
  readonly maxFrameBytes: number;
  readonly maxSubscriptionsPerConnection: number;
  readonly maxBufferedBytes: number;
  /** Bytes buffered across all subscriber sockets before the largest are closed as slow (1008). @default 268_435_456 */
  readonly maxNodeBufferedBytes?: number;
  readonly version: string;
  readonly maxEventBytes: number;
  /** Origin, per-address limits and credentials, checked at upgrade; none: every client admitted. */
  readonly gate?: UpgradeGate;
  /** Publish rate per connection; none or rate 0: unlimited. */
  readonly publishLimit?: PublishLimit | null;
  /** The node's streams, for stream subscriptions (`sub` with `stream`); none: such a sub answers MG_ERR_STREAM_UNKNOWN. */
  readonly streams?: StreamManager | null;
  /** Streams held by peers (read across the mesh); none: a stream this node does not hold answers MG_ERR_STREAM_UNKNOWN. */
  readonly remoteStreams?: RemoteStreams | null;
}

/** Path of the meshgate client protocol. */
export const CLIENT_PATH = '/v1/ws';
/** Prefix of the plain CloudEvents WebSocket binding: /v1/ce/<topic filter>. */
export const CE_PATH_PREFIX = '/v1/ce/';
/** The CloudEvents WebSocket binding's JSON subprotocol. */
export const CE_SUBPROTOCOL = 'cloudevents.json';

/** Structured CloudEvents as plain text frames, one event per frame (CloudEvents WebSocket binding). */
const CE_JSON_FORMAT: EgressFormat = {
  name: 'cloudevents-json',
  binary: false,
  encode: (event) => Buffer.from(encodeStructuredJson(event)),
  batch: null, // the binding carries one event per message
};

/**
 * Mounts both WebSocket endpoints on a uWS app. Every refusal is counted
 * through MeshNode.reject and answered in the protocol's own terms: an
 * error frame where the client protocol has one, a close code where not.
 */
export function mountWsEndpoints(
  app: TemplatedApp,
  node: MeshNode,
  options: WsEndpointOptions,
): { connections: () => number; closeAll: () => void; budget: BufferBudget } {
  const m = node.metrics;
  const sessions = new Set<AnySession>();
  const slowHelp =
    'Subscribers closed with 1008 as slow consumers: their unsent bytes passed limits.maxBufferedBytes (limit="socket"), or they held the most when the node passed limits.maxNodeBufferedBytes (limit="node")';
  const budget = new BufferBudget(options.maxNodeBufferedBytes ?? 268_435_456, m.counter('meshgate_slow_consumer_closes_total', slowHelp, { limit: 'node' }));
  const sessionOptions = {
    maxBufferedBytes: options.maxBufferedBytes,
    slowConsumerCloses: m.counter('meshgate_slow_consumer_closes_total', slowHelp, { limit: 'socket' }),
    bytesOut: m.counter('meshgate_bytes_out_total', 'Bytes written to WebSocket subscribers'),
    budget,
  };
  m.gaugeFn('meshgate_buffered_bytes', 'Bytes buffered for WebSocket subscribers, node-wide (bound: limits.maxNodeBufferedBytes)', () => budget.total);
  const bytesIn: Metric = m.counter('meshgate_bytes_in_total', 'Bytes received in WebSocket frames');
  const opened: Metric = m.counter('meshgate_connections_opened_total', 'WebSocket connections accepted');
  const tooBig: Metric = m.counter(
    'meshgate_frames_too_large_total',
    'Connections closed for a frame over limits.maxFrameBytes (1009), or over the hard cap (cut off)',
  );
  m.gaugeFn('meshgate_connections', 'Open WebSocket connections', () => sessions.size);
  const filtered: Metric = m.counter(
    'meshgate_auth_filtered_deliveries_total',
    'Deliveries withheld from a partly authorized wildcard subscription (topic not readable by its token)',
  );
  const gate = options.gate;
  const publishLimit = options.publishLimit ?? null;

  /**
   * Origin, per-address limits and credentials, before any WebSocket
   * exists. Null when refused (answered with 401/403/429 and counted).
   */
  const admit = (res: HttpResponse, req: HttpRequest): { principal: Principal | null; ip: string | null } | null => {
    if (gate === undefined) return OPEN;
    const verdict = gate.check({
      origin: req.getHeader('origin'),
      authorization: req.getHeader('authorization'),
      queryToken: req.getQuery('token'),
      ip: Buffer.from(res.getRemoteAddressAsText()).toString(),
    });
    if (verdict.ok) return verdict;
    node.reject(verdict.code, verdict.message);
    res.writeStatus(verdict.status).end(`${verdict.code}: ${verdict.message}\n`);
    return null;
  };

  /** Expiry closes the session with 4401; counted like every refusal. */
  const watchExpiry = (guard: SessionGuard, session: AnySession) =>
    guard.watchExpiry(() => {
      node.reject('MG_ERR_AUTH_EXPIRED', 'token expired during the session');
      session.flush();
      session.end(CLOSE.AUTH_EXPIRED, codedReason('MG_ERR_AUTH_EXPIRED', 'token expired'));
    });

  /** A socket closed (any reason): drop its subscriptions, its session, its expiry timer and its address slot. */
  const release = (data: ClientData | CeData, code: number, reason: ArrayBuffer) => {
    data.guard.stop();
    gate?.release(data.ip);
    const session = data.session;
    if (session === undefined) return;
    // uWS itself cuts two protocol violations with a bare 1006 (no close
    // frame, nothing we can change): frames over its hard cap, and text
    // frames that are not UTF-8 [RFC 6455 §8.1]. Count both.
    if (code === 1006) {
      const why = Buffer.from(reason).toString();
      if (why === 'Received too big message') tooBig.inc();
      else if (why === 'Received invalid UTF-8') node.reject('MG_ERR_FRAME_MALFORMED', 'text frame is not UTF-8');
    }
    session.markClosed();
    if ('ops' in data && data.ops !== undefined) {
      for (const sub of data.ops.streamSubs.values()) sub.stop();
      data.ops.streamSubs.clear();
      // What this connection had in flight is delivered again to the consumer's next client.
      for (const binding of data.ops.consumers.values()) binding.detach();
      data.ops.consumers.clear();
    }
    for (const filter of session.subscriptions.clear()) node.unsubscribe(filter, session);
    sessions.delete(session);
  };

  const behaviour = {
    // uWS answers an oversized frame by dropping the TCP connection (1006)
    // with no close frame. We let frames up to a hard cap through to the
    // handler and close over-limit ones ourselves with 1009; only frames
    // past the cap (4x the limit, at least 16 MiB) are cut off by uWS
    // before being buffered.
    maxPayloadLength: Math.max(options.maxFrameBytes * 4, 16 * 1024 * 1024),
    // Above our own slow-consumer limit so uWS never drops silently: we close first.
    maxBackpressure: options.maxBufferedBytes + options.maxFrameBytes + 65_536,
    closeOnBackpressureLimit: 0,
    idleTimeout: 120,
    sendPingsAutomatically: true,
  };

  app.ws<ClientData>(CLIENT_PATH, {
    ...behaviour,
    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      const offered = req.getHeader('sec-websocket-protocol');
      const codec = negotiateCodec(offered);
      if (codec === null) {
        node.reject('MG_ERR_FRAME_MALFORMED', 'unsupported subprotocol');
        res.writeStatus('400 Bad Request').end(`unsupported subprotocol '${offered}'; offer meshgate.v1.json or meshgate.v1.cbor\n`);
        return;
      }
      const admitted = admit(res, req);
      if (admitted === null) return;
      const guard = new SessionGuard(admitted.principal, publishLimit);
      res.upgrade<ClientData>(
        { codec, guard, ip: admitted.ip },
        req.getHeader('sec-websocket-key'),
        offered === '' ? '' : codec.subprotocol,
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open(ws: WebSocket<ClientData>) {
      const data = ws.getUserData();
      const session = new WsSession(ws, data.codec.events, sessionOptions);
      data.session = session;
      data.ops = {
        node,
        session,
        codec: data.codec,
        guard: data.guard,
        maxSubscriptions: options.maxSubscriptionsPerConnection,
        filtered,
        streams: options.streams ?? null,
        remoteStreams: options.remoteStreams ?? null,
        streamSubs: new Map(),
        consumers: new Map(),
      };
      sessions.add(session);
      opened.inc();
      watchExpiry(data.guard, session);
      session.reply(
        data.codec.encode({
          op: 'hello',
          node: node.nodeId,
          region: node.region,
          version: options.version,
          limits: { maxFrameBytes: options.maxFrameBytes, maxEventBytes: options.maxEventBytes, maxSubscriptions: options.maxSubscriptionsPerConnection },
        }),
        data.codec.binary,
      );
    },
    message(ws: WebSocket<ClientData>, message: ArrayBuffer, isBinary: boolean) {
      const { codec, session, ops } = ws.getUserData();
      if (session === undefined || ops === undefined || session.closed) return;
      bytesIn.inc(message.byteLength);
      if (message.byteLength > options.maxFrameBytes) return refuseTooBig(node, session, message.byteLength, options.maxFrameBytes, tooBig);
      if (isBinary !== codec.binary) {
        node.reject('MG_ERR_FRAME_MALFORMED', 'wrong frame type');
        session.end(CLOSE.UNSUPPORTED_DATA, `${codec.subprotocol} takes ${codec.binary ? 'binary' : 'text'} frames`);
        return;
      }
      const decoded = codec.decode(message);
      if (!decoded.ok) {
        node.reject(decoded.code, decoded.message);
        session.reply(codec.encode(errorFrame(decoded.ref, decoded.code, decoded.message)), codec.binary);
        return;
      }
      dispatch(ops, decoded.request);
    },
    drain(ws: WebSocket<ClientData>) {
      // Live frames go to uWS at once and the slow-consumer limits are
      // checked after every flush; only stream replays hold back (they
      // page from the store). A drain lowers this socket's share of the
      // node-wide sum and lets a waiting replay read its next page.
      const data = ws.getUserData();
      data.session?.reportBuffered();
      if (data.ops !== undefined) {
        for (const sub of data.ops.streamSubs.values()) sub.wake();
        for (const binding of data.ops.consumers.values()) binding.wake();
      }
    },
    close: (ws: WebSocket<ClientData>, code: number, reason: ArrayBuffer) => release(ws.getUserData(), code, reason),
  });

  app.ws<CeData>(`${CE_PATH_PREFIX}*`, {
    ...behaviour,
    upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t) {
      const offered = req.getHeader('sec-websocket-protocol');
      if (!offered.split(',').some((p) => p.trim() === CE_SUBPROTOCOL)) {
        res.writeStatus('400 Bad Request').end(`the CloudEvents binding needs subprotocol ${CE_SUBPROTOCOL}\n`);
        return;
      }
      const admitted = admit(res, req);
      if (admitted === null) return;
      let filter: string;
      try {
        filter = decodeURIComponent(req.getUrl().slice(CE_PATH_PREFIX.length));
      } catch {
        filter = '';
      }
      const problem = node.checkFilter(filter);
      if (problem !== null) {
        gate?.release(admitted.ip);
        node.reject(problem.code, problem.message);
        res.writeStatus('400 Bad Request').end(`${problem.code}: ${problem.message}\n`);
        return;
      }
      const guard = new SessionGuard(admitted.principal, publishLimit);
      const denied = guard.checkSubscribe(filter);
      if (denied !== null) {
        gate?.release(admitted.ip);
        node.reject(denied.code, denied.message);
        res.writeStatus(statusOf(denied.code)).end(`${denied.code}: ${denied.message}\n`);
        return;
      }
      const publishTopic = node.checkTopic(filter) === null ? filter : null;
      res.upgrade<CeData>(
        { guard, ip: admitted.ip, filter, publishTopic },
        req.getHeader('sec-websocket-key'),
        CE_SUBPROTOCOL,
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open(ws: WebSocket<CeData>) {
      const data = ws.getUserData();
      const session = new WsSession(ws, CE_JSON_FORMAT, sessionOptions);
      data.session = session;
      sessions.add(session);
      opened.inc();
      refreshFiltering(session, data.guard, filtered);
      hold(node, session, data.guard, data.filter);
      watchExpiry(data.guard, session);
    },
    message(ws: WebSocket<CeData>, message: ArrayBuffer, isBinary: boolean) {
      const { publishTopic, session, guard } = ws.getUserData();
      if (session === undefined || session.closed) return;
      bytesIn.inc(message.byteLength);
      if (message.byteLength > options.maxFrameBytes) return refuseTooBig(node, session, message.byteLength, options.maxFrameBytes, tooBig);
      // The binding has no error frame: every refusal is a close with the code as reason.
      if (isBinary) return refuseCe(node, session, CLOSE.UNSUPPORTED_DATA, 'MG_ERR_FRAME_MALFORMED', 'cloudevents.json takes text frames');
      if (publishTopic === null) return refuseCe(node, session, CLOSE.POLICY, 'MG_ERR_TOPIC_INVALID', 'publish needs a concrete topic in the path');
      const refused = guard.checkPublish(publishTopic);
      if (refused !== null)
        return refuseCe(node, session, refused.code === 'MG_ERR_PUB_RATE' ? CLOSE.RATE_LIMITED : CLOSE.FORBIDDEN, refused.code, refused.message);
      const decoded = decodeStructuredJson(Buffer.from(message).toString('utf8'), publishTopic);
      if (!decoded.ok) return refuseCe(node, session, CLOSE.INVALID_PAYLOAD, 'MG_ERR_EVENT_INVALID', `${decoded.problem.attribute}: ${decoded.problem.reason}`);
      const result = node.ingest(decoded.event, 'ws');
      // A schema failure closes like any undecodable event (1007); its reasons travel in the dead letter.
      if (!result.ok)
        refuseCe(
          node,
          session,
          result.code === 'MG_ERR_EVENT_TOO_LARGE' ? CLOSE.TOO_BIG : result.code === 'MG_ERR_EVENT_SCHEMA' ? CLOSE.INVALID_PAYLOAD : CLOSE.POLICY,
          result.code,
          result.message,
          false,
        );
    },
    drain: (ws: WebSocket<CeData>) => ws.getUserData().session?.reportBuffered(),
    close: (ws: WebSocket<CeData>, code: number, reason: ArrayBuffer) => release(ws.getUserData(), code, reason),
  });

  return {
    // Shared with the SSE streams (broker/http): one node-wide bound for every subscriber socket.
    budget,
    connections: () => sessions.size,
    closeAll: () => {
      for (const s of [...sessions]) {
        s.flush();
        s.end(CLOSE.GOING_AWAY, 'node shutting down');
      }
    },
  };
}

function refuseTooBig(node: MeshNode, session: AnySession, size: number, limit: number, counter: Metric): void {
  counter.inc();
  node.reject('MG_ERR_EVENT_TOO_LARGE', `frame is ${size} bytes; the limit is ${limit}`);
  session.end(CLOSE.TOO_BIG, codedReason('MG_ERR_EVENT_TOO_LARGE', `frame over ${limit} bytes`));
}

function refuseCe(node: MeshNode, session: WsSession<CeData>, close: number, code: ErrorCode, message: string, count = true): void {
  if (count) node.reject(code, message);
  session.end(close, closeReason(`${code}: ${message}`));
}

/** Admitted without checks: auth off and no per-address limits. */
const OPEN = Object.freeze({ principal: null, ip: null });

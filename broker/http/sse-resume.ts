/**
 * Resumable Server-Sent Events (README "SSE resume"): a GET /v1/sse/<filter>
 * fed from a stream instead of the live route, so a reconnecting
 * EventSource continues where it stopped.
 *
 *   which stream   `?stream=NAME`; without it, the one local stream whose
 *                  filters cover the whole SSE filter (exactly one: with
 *                  none or several the SSE stream stays live-only);
 *                  `?stream=` (empty) asks for live-only.
 *   message id     `id: <epoch>:<offset>` on every event; the first write
 *                  is a message with only an `id:` (the start position), so
 *                  a client cut before its first event still resumes from
 *                  where it connected.
 *   resume         the `Last-Event-ID` header (EventSource sends it by
 *                  itself) or, for clients that cannot set headers, the
 *                  `lastEventId` parameter: entries after that offset.
 *                  Else `from`: first | new (default) | last | <offset>.
 *   reset          a position the stream no longer holds (pruned, another
 *                  epoch, past the end) is not refused: an `event: mg-reset`
 *                  message (data: {code, reason, stream, first, last,
 *                  epoch, position}) goes first, then the stream continues
 *                  from its first retained entry (past the end: from its
 *                  last). A read refused mid-stream (retention overtook a
 *                  slow reader, the stream was re-created) does the same;
 *                  a removed stream sends mg-reset with
 *                  MG_ERR_STREAM_UNKNOWN and ends the response (seen at
 *                  the next append or heartbeat).
 *
 * The read loop is the StreamReader of broker/streams/ (the one /v1/ws
 * stream subscriptions use): store-fed, so replay and live have no seam,
 * paged under a quarter of limits.maxBufferedBytes and woken by the
 * session's drain.
 */
import { filterCovers } from '../../routing/mod.js';
import type { ErrorCode } from '../base/mod.js';
import { type StreamManager, type StreamReadEnd, StreamReader, type StreamStart, sinkOn, startAfter } from '../streams/mod.js';
import { type SseSession, sseStreamItem } from './sse-session.js';

/** EventSource's reconnection delay, ms, sent as `retry:` (browsers default to about 3 s). */
export const SSE_RETRY_MS = 1000;

/** What the request says about streams: parameters and the Last-Event-ID header, as read from uWS. */
export interface SseResumeRequest {
  /** `stream` parameter: undefined when absent, '' for live-only. */
  readonly stream: string | undefined;
  /** The Last-Event-ID header, else the `lastEventId` parameter; '' or undefined when neither. */
  readonly lastEventId: string | undefined;
  readonly from: string | undefined;
}

/** Where to start: the stream, its epoch, the offset to read after, and a reset notice to send first. */
export type SseStart =
  | { readonly kind: 'live' }
  | {
      readonly kind: 'stream';
      readonly stream: string;
      readonly epoch: string;
      readonly after: number;
      readonly reset: SseReset | null;
      readonly resumed: boolean;
    }
  | { readonly kind: 'refused'; readonly code: ErrorCode; readonly message: string };

export interface SseReset {
  readonly code: 'MG_ERR_STREAM_PRUNED' | 'MG_ERR_STREAM_EPOCH' | 'MG_ERR_STREAM_BEYOND_END' | 'MG_ERR_STREAM_UNKNOWN';
  readonly reason: string;
  /** The position the client asked for (or the reader stood at). */
  readonly position: string;
}

const POSITION = /^([0-9A-Za-z_-]{1,64}):(\d{1,16})$/;

/** The stream an SSE filter reads from: named, or the only local stream covering it; null: live. */
export function sseStreamFor(streams: StreamManager | undefined, filter: string, named: string | undefined): string | null {
  if (named === '' || streams === undefined) return null;
  if (named !== undefined) return named;
  const covering = streams.list().filter((s) => s.config.filters.some((f) => filterCovers(f, filter)));
  return covering.length === 1 ? covering[0]!.name : null;
}

/** Resolves where an SSE stream starts, from its request. */
export function resolveSseStart(streams: StreamManager | undefined, filter: string, request: SseResumeRequest): SseStart {
  const name = sseStreamFor(streams, filter, request.stream);
  if (name === null || streams === undefined) {
    if (request.stream !== undefined && request.stream !== '') return { kind: 'refused', code: 'MG_ERR_STREAM_UNKNOWN', message: 'this node keeps no streams' };
    return { kind: 'live' };
  }
  const info = streams.info(name);
  if (info === undefined) return { kind: 'refused', code: 'MG_ERR_STREAM_UNKNOWN', message: `no stream '${name}'` };
  const last = request.lastEventId;
  if (last !== undefined && last !== '') {
    const m = POSITION.exec(last);
    if (m === null)
      return {
        kind: 'refused',
        code: 'MG_ERR_SSE_POSITION_INVALID',
        message: `Last-Event-ID '${last.slice(0, 80)}' is not <epoch>:<offset> of stream '${name}'`,
      };
    const epoch = m[1]!;
    const offset = Number(m[2]);
    const base = { kind: 'stream' as const, stream: name, epoch: info.epoch, resumed: true };
    if (epoch !== info.epoch) return { ...base, after: info.first - 1, reset: { code: 'MG_ERR_STREAM_EPOCH', reason: 'epoch', position: last } };
    if (offset > info.last) return { ...base, after: info.last, reset: { code: 'MG_ERR_STREAM_BEYOND_END', reason: 'beyond-end', position: last } };
    if (offset < info.first - 1) return { ...base, after: info.first - 1, reset: { code: 'MG_ERR_STREAM_PRUNED', reason: 'pruned', position: last } };
    return { ...base, after: offset, reset: null };
  }
  const from = parseFrom(request.from);
  if (from === null)
    return {
      kind: 'refused',
      code: 'MG_ERR_SSE_POSITION_INVALID',
      message: `from '${String(request.from).slice(0, 80)}': expected first, new, last or an offset`,
    };
  const start = startAfter(streams, name, filter, from);
  if (!start.ok) return { kind: 'refused', code: start.code, message: start.message };
  return { kind: 'stream', stream: name, epoch: info.epoch, after: start.after, reset: null, resumed: false };
}

function parseFrom(from: string | undefined): StreamStart | null {
  if (from === undefined || from === '' || from === 'new') return 'new';
  if (from === 'first' || from === 'last') return from;
  if (/^\d{1,16}$/.test(from) && Number(from) >= 1) return { offset: Number(from) };
  return null;
}

/** The `id:`-only message that sets EventSource's last event id to the start position (dispatches nothing). */
function positionMessage(epoch: string, after: number): Uint8Array {
  return Buffer.from(`retry: ${SSE_RETRY_MS}\nid: ${epoch}:${after}\n\n`);
}

function resetMessage(stream: string, reset: SseReset, at: { first: number; last: number; epoch: string }, after: number): Uint8Array {
  const data = JSON.stringify({ code: reset.code, reason: reset.reason, stream, first: at.first, last: at.last, epoch: at.epoch, position: reset.position });
  const id = at.epoch === '' ? '' : `id: ${at.epoch}:${after}\n`;
  return Buffer.from(`event: mg-reset\n${id}data: ${data}\n\n`);
}

/**
 * Feeds `session` from the stream `start` names: the position message (or
 * the reset notice), then entries after `start.after`, replay then live.
 * Returns a stop for when the session closes. `onReset` counts each reset.
 */
export function readStreamIntoSession(
  streams: StreamManager,
  session: SseSession,
  filter: string,
  start: Extract<SseStart, { kind: 'stream' }>,
  onReset: () => void,
): () => void {
  let reader: StreamReader | null = null;
  const sink = sinkOn(session, {
    deliverEntry: (event: Parameters<typeof sseStreamItem>[0], offset: number) => {
      if (session.admits !== null && !session.admits(event.topic)) return 0;
      const item = sseStreamItem(event, epochNow, offset);
      session.push(item);
      return item.byteLength;
    },
  });
  let epochNow = start.epoch;
  const begin = (epoch: string, after: number) => {
    epochNow = epoch;
    reader = new StreamReader({ streams, sink, stream: start.stream, filter, epoch, after, onEnd });
  };
  const onEnd = (end: StreamReadEnd) => {
    onReset();
    const reset: SseReset = { code: end.code, reason: end.reason, position: `${epochNow}:${end.position}` };
    const info = streams.info(start.stream);
    if (info === undefined || end.reason === 'unknown-stream') {
      session.push(resetMessage(start.stream, reset, { first: 0, last: 0, epoch: '' }, 0));
      // Let the notice go out with this turn's flush, then end the response.
      setImmediate(() => session.end());
      return;
    }
    const after = end.reason === 'beyond-end' ? info.last : info.first - 1;
    session.push(resetMessage(start.stream, reset, info, after));
    begin(info.epoch, after);
  };
  if (start.reset !== null) {
    onReset();
    const info = streams.info(start.stream)!;
    session.push(Buffer.from(`retry: ${SSE_RETRY_MS}\n\n`));
    session.push(resetMessage(start.stream, start.reset, info, start.after));
  } else session.push(positionMessage(start.epoch, start.after));
  session.onWritableAgain = () => reader?.wake();
  // A removed stream has no more appends to wake the reader: each heartbeat lets it read, see it gone and say so.
  session.onHeartbeat = () => reader?.wake();
  begin(start.epoch, start.after);
  return () => reader?.stop();
}

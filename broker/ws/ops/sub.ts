import type { ErrorCode } from '../../base/mod.js';
import { startAfter } from '../../streams/mod.js';
import type { Ref, StreamSubRequest } from '../client-protocol.js';
import { type OpContext, streamSubKey } from '../connection-data.js';
import { errorFrame } from '../error-frame.js';
import { hold, refreshFiltering } from '../session-filters.js';
import { StreamSubscription, streamErrorFrame } from '../stream-subscription.js';
import { answer, type OpHandler } from './op-context.js';
import { subscribeRemoteStream } from './sub-remote.js';

/**
 * `sub`: a filter. Held already: ok (idempotent). Then the connection's
 * subscription limit, the filter's syntax, and the token's rights, in that
 * order; each refusal is an err frame and counted. With `stream`, the
 * same checks, then the start position (README "Streams", resume).
 */
export const handleSub: OpHandler<'sub'> = (ctx, request) => {
  const { node, session, guard } = ctx;
  const ref = request.ref;
  const held = session.subscriptions;
  const stream = request.stream;
  if (stream === undefined ? held.has(request.filter) : ctx.streamSubs.has(streamSubKey(stream.name, request.filter))) {
    if (ref !== undefined) answer(ctx, { op: 'ok', ref });
    return;
  }
  const count = held.size + ctx.streamSubs.size + ctx.consumers.size;
  if (count >= ctx.maxSubscriptions) {
    const message = `this connection holds ${count} subscriptions, the limit`;
    node.reject('MG_ERR_SUB_LIMIT', message);
    answer(ctx, errorFrame(ref, 'MG_ERR_SUB_LIMIT', message));
    return;
  }
  const problem = node.checkFilter(request.filter);
  if (problem !== null) {
    node.reject(problem.code, problem.message);
    answer(ctx, errorFrame(ref, problem.code, problem.message));
    return;
  }
  if (stream !== undefined) return subscribeStream(ctx, request.filter, stream, request.ref);
  const denied = guard.checkSubscribe(request.filter);
  if (denied !== null) {
    node.reject(denied.code, denied.message);
    answer(ctx, errorFrame(ref, denied.code, denied.message));
    return;
  }
  refreshFiltering(session, guard, ctx.filtered);
  hold(node, session, guard, request.filter);
  if (ref !== undefined) answer(ctx, { op: 'ok', ref });
};

/** The `reason` of a start position startAfter() refused (docs/protocol.md, stream errors). */
const REASON = { MG_ERR_STREAM_UNKNOWN: 'unknown-stream', MG_ERR_STREAM_BEYOND_END: 'beyond-end', MG_ERR_STREAM_PRUNED: 'pruned' } as const;

/**
 * A stream subscription: the stream must exist and the position be
 * recoverable (else an err frame with the MG_ERR_STREAM_* code and the
 * stream's first, last and epoch); then rights, as a plain sub. The `ok`
 * carries the epoch and `next`, the first offset that can be delivered.
 */
function subscribeStream(ctx: OpContext, filter: string, stream: StreamSubRequest, r: Ref | undefined): void {
  const { node, session, guard, streams } = ctx;
  // Rights first, so a token without them learns nothing of the stream.
  const denied = guard.checkSubscribe(filter);
  if (denied !== null) {
    node.reject(denied.code, denied.message);
    answer(ctx, errorFrame(r, denied.code, denied.message));
    return;
  }
  const info = streams?.info(stream.name);
  const refuse = (code: ErrorCode, reason: string, message: string) => {
    // The guard remembers the filter once: forget it unless a plain sub holds it.
    if (!session.subscriptions.has(filter)) guard.unsubscribed(filter);
    node.reject(code, message);
    answer(ctx, streamErrorFrame(r, stream.name, filter, { code, reason, first: info?.first ?? 0, last: info?.last ?? 0, epoch: info?.epoch ?? '' }, message));
  };
  if (info === undefined && ctx.remoteStreams !== null) return subscribeRemoteStream(ctx, filter, stream, r);
  if (streams === null || info === undefined) return refuse('MG_ERR_STREAM_UNKNOWN', 'unknown-stream', `no stream '${stream.name}'`);
  if (stream.epoch !== undefined && stream.epoch !== info.epoch)
    return refuse('MG_ERR_STREAM_EPOCH', 'epoch', `stream '${stream.name}' has epoch ${info.epoch}, not ${stream.epoch}: its history was reset`);
  const start = startAfter(streams, stream.name, filter, stream.from);
  if (!start.ok) return refuse(start.code, REASON[start.code], start.message);
  refreshFiltering(session, guard, ctx.filtered);
  const key = streamSubKey(stream.name, filter);
  const sub = new StreamSubscription({
    streams,
    session,
    codec: ctx.codec,
    stream: stream.name,
    filter,
    epoch: info.epoch,
    after: start.after,
    picks: start.picks,
    onEnd: (end) => {
      if (ctx.streamSubs.get(key) !== sub) return;
      ctx.streamSubs.delete(key);
      if (!session.subscriptions.has(filter)) guard.unsubscribed(filter);
      refreshFiltering(session, guard, ctx.filtered);
      const message = `stream subscription '${filter}' on '${stream.name}' ended at offset ${end.position}: ${end.reason}`;
      node.reject(end.code as ErrorCode, message);
      answer(
        ctx,
        streamErrorFrame(undefined, stream.name, filter, end as { code: string; reason: string; first: number; last: number; epoch: string }, message),
      );
    },
  });
  ctx.streamSubs.set(key, sub);
  if (r !== undefined) answer(ctx, { op: 'ok', ref: r, stream: stream.name, epoch: info.epoch, next: start.picks?.[0] ?? start.after + 1, last: info.last });
}

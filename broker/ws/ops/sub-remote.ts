import type { ErrorCode } from '../../base/mod.js';
import type { Ref, StreamSubRequest } from '../client-protocol.js';
import { type OpContext, streamSubKey } from '../connection-data.js';
import { RemoteStreamSubscription } from '../remote-stream-subscription.js';
import { refreshFiltering } from '../session-filters.js';
import { streamErrorFrame } from '../stream-subscription.js';
import { answer } from './op-context.js';

/**
 * A stream subscription of a stream this node does not hold (rights were
 * checked by the caller, as for a local stream): the stream is read from
 * the peer that holds it (broker/peering/remote-streams.ts). No peer
 * holds it: MG_ERR_STREAM_UNKNOWN; its holder's link is down:
 * MG_ERR_STREAM_UNREACHABLE; otherwise the holder's answer, as a local
 * stream would give it (ok with epoch and next, or its MG_ERR_STREAM_*).
 */
export function subscribeRemoteStream(ctx: OpContext, filter: string, stream: StreamSubRequest, r: Ref | undefined): void {
  const { node, session, guard } = ctx;
  const remote = ctx.remoteStreams!;
  const key = streamSubKey(stream.name, filter);
  const forget = () => {
    // The guard remembers the filter once: forget it unless a plain sub holds it.
    if (!session.subscriptions.has(filter) && ![...ctx.streamSubs.values()].some((s) => s.filter === filter)) guard.unsubscribed(filter);
  };
  const refuse = (end: { code: string; reason: string; first: number; last: number; epoch: string }, message: string, ref: Ref | undefined) => {
    forget();
    node.reject(end.code as ErrorCode, message);
    if (!session.closed) answer(ctx, streamErrorFrame(ref, stream.name, filter, end, message));
  };
  void remote.lookup(stream.name).then((found) => {
    if (session.closed) return forget();
    if (!found.ok)
      return refuse(
        { code: found.code, reason: found.code === 'MG_ERR_STREAM_UNKNOWN' ? 'unknown-stream' : 'unreachable', first: 0, last: 0, epoch: '' },
        found.message,
        r,
      );
    if (ctx.streamSubs.has(key)) {
      if (r !== undefined) answer(ctx, { op: 'ok', ref: r }); // subscribed meanwhile
      return;
    }
    const sub = new RemoteStreamSubscription({
      remote,
      holder: found,
      session,
      codec: ctx.codec,
      stream: stream.name,
      filter,
      from: stream.from,
      ...(stream.epoch === undefined ? {} : { epoch: stream.epoch }),
      countRead: (n) => ctx.streams?.countRead(stream.name, n),
      onStarted: (s) => {
        if (ctx.streamSubs.get(key) !== sub || session.closed) return;
        refreshFiltering(session, guard, ctx.filtered);
        if (r !== undefined) answer(ctx, { op: 'ok', ref: r, stream: stream.name, epoch: s.epoch, next: s.next, last: s.last });
      },
      onEnd: (end, started, position) => {
        if (ctx.streamSubs.get(key) !== sub) return;
        ctx.streamSubs.delete(key);
        if (started) {
          refreshFiltering(session, guard, ctx.filtered);
          refuse(end, `stream subscription '${filter}' on '${stream.name}' ended at offset ${position}: ${end.reason}`, undefined);
        } else refuse(end, end.message, r);
      },
    });
    // Held from now: it counts against the limit, and an unsub stops it even before the holder answered.
    ctx.streamSubs.set(key, sub);
  });
}

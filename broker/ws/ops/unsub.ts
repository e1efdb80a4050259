import { streamSubKey } from '../connection-data.js';
import { errorFrame } from '../error-frame.js';
import { refreshFiltering } from '../session-filters.js';
import { answer, type OpHandler } from './op-context.js';

/**
 * `unsub`: a filter the connection holds; the router filters it alone needed are released.
 * With `stream`: the stream subscription of that filter stops.
 */
export const handleUnsub: OpHandler<'unsub'> = (ctx, request) => {
  const { node, session, guard } = ctx;
  const ref = request.ref;
  if (request.stream !== undefined) {
    const key = streamSubKey(request.stream, request.filter);
    const sub = ctx.streamSubs.get(key);
    if (sub === undefined) {
      const message = `not subscribed to '${request.filter}' on stream '${request.stream}'`;
      node.reject('MG_ERR_SUB_UNKNOWN', message);
      answer(ctx, errorFrame(ref, 'MG_ERR_SUB_UNKNOWN', message));
      return;
    }
    sub.stop();
    ctx.streamSubs.delete(key);
    // The guard remembers a filter once: keep it while a plain sub of the same filter remains.
    if (!session.subscriptions.has(request.filter)) guard.unsubscribed(request.filter);
    refreshFiltering(session, guard, ctx.filtered);
    if (ref !== undefined) answer(ctx, { op: 'ok', ref });
    return;
  }
  const released = session.subscriptions.remove(request.filter);
  if (released === null) {
    const message = `not subscribed to '${request.filter}'`;
    node.reject('MG_ERR_SUB_UNKNOWN', message);
    answer(ctx, errorFrame(ref, 'MG_ERR_SUB_UNKNOWN', message));
    return;
  }
  for (const filter of released) node.unsubscribe(filter, session);
  if (![...ctx.streamSubs.values()].some((s) => s.filter === request.filter)) guard.unsubscribed(request.filter);
  refreshFiltering(session, guard, ctx.filtered);
  if (ref !== undefined) answer(ctx, { op: 'ok', ref });
};

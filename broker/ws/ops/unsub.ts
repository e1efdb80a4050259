import { errorFrame } from '../error-frame.js';
import { refreshFiltering } from '../session-filters.js';
import { answer, type OpHandler } from './op-context.js';

/** `unsub`: a filter the connection holds; the router filters it alone needed are released. */
export const handleUnsub: OpHandler<'unsub'> = (ctx, request) => {
  const { node, session, guard } = ctx;
  const ref = request.ref;
  const released = session.subscriptions.remove(request.filter);
  if (released === null) {
    const message = `not subscribed to '${request.filter}'`;
    node.reject('MG_ERR_SUB_UNKNOWN', message);
    answer(ctx, errorFrame(ref, 'MG_ERR_SUB_UNKNOWN', message));
    return;
  }
  for (const filter of released) node.unsubscribe(filter, session);
  guard.unsubscribed(request.filter);
  refreshFiltering(session, guard, ctx.filtered);
  if (ref !== undefined) answer(ctx, { op: 'ok', ref });
};

import { errorFrame } from '../error-frame.js';
import { hold, refreshFiltering } from '../session-filters.js';
import { answer, type OpHandler } from './op-context.js';

/**
 * `sub`: a filter. Held already: ok (idempotent). Then the connection's
 * subscription limit, the filter's syntax, and the token's rights, in that
 * order; each refusal is an err frame and counted.
 */
export const handleSub: OpHandler<'sub'> = (ctx, request) => {
  const { node, session, guard } = ctx;
  const ref = request.ref;
  const held = session.subscriptions;
  if (held.has(request.filter)) {
    if (ref !== undefined) answer(ctx, { op: 'ok', ref });
    return;
  }
  if (held.size >= ctx.maxSubscriptions) {
    const message = `this connection holds ${held.size} subscriptions, the limit`;
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

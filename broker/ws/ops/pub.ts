import { closeReason } from '../../base/mod.js';
import { CLOSE } from '../close-codes.js';
import { errorFrame } from '../error-frame.js';
import { answer, type OpHandler } from './op-context.js';

/**
 * `pub`: one event. Rights first (refused: err frame, nothing routed), then
 * the node's pipeline; an event over the size limit closes the connection
 * with 1009, as an oversized frame does. Ack `ok` (with `duplicate` for a
 * repeat) only when the client asked with a ref. An event a local stream
 * took is acked once it is durable (README "Streams").
 */
export const handlePub: OpHandler<'pub'> = (ctx, request) => {
  const { node, session, guard } = ctx;
  const ref = request.ref;
  const refused = guard.checkPublish(request.topic);
  if (refused !== null) {
    node.reject(refused.code, refused.message);
    answer(ctx, errorFrame(ref, refused.code, refused.message));
    return;
  }
  const result = node.ingest(request.event, 'ws');
  if (!result.ok) {
    if (result.code === 'MG_ERR_EVENT_TOO_LARGE') {
      session.end(CLOSE.TOO_BIG, closeReason(`${result.code}: ${result.message}`));
      return;
    }
    answer(ctx, errorFrame(ref, result.code, result.message, result.reasons));
  } else if (result.durable !== undefined) {
    // In a local stream: `ok` only once it is on disk; a failed commit is reported instead.
    void result.durable.then((refusal) => {
      if (session.closed) return;
      if (refusal !== null) answer(ctx, errorFrame(ref, refusal.code, refusal.message));
      else if (ref !== undefined) answer(ctx, { op: 'ok', ref });
    });
  } else if (ref !== undefined) answer(ctx, result.duplicate ? { op: 'ok', ref, duplicate: true } : { op: 'ok', ref });
};

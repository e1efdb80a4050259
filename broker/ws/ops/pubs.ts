import { closeReason } from '../../base/mod.js';
import type { Refusal } from '../../pipeline/mod.js';
import { CLOSE } from '../close-codes.js';
import { errorFrame } from '../error-frame.js';
import { answer, type OpHandler } from './op-context.js';

/**
 * `pubs`: a batch. Each item is refused or accepted on its own (an err
 * frame names the refused item's index); one `ok` with the counts closes
 * the batch. An item over the size limit closes the connection, as `pub`.
 * With items in a local stream, `ok` waits until they are durable.
 */
export const handlePubs: OpHandler<'pubs'> = (ctx, request) => {
  const { node, session, guard } = ctx;
  const ref = request.ref;
  let accepted = 0;
  let duplicates = 0;
  // Items a local stream took: the batch's `ok` waits for their commit (usually one promise for all).
  let durable: Array<[number, Promise<Refusal | null>]> | undefined;
  for (let index = 0; index < request.items.length; index++) {
    const item = request.items[index];
    const refused = item.ok ? guard.checkPublish(item.event.topic) : null;
    const result = !item.ok
      ? node.reject(item.code, item.message)
      : refused !== null
        ? node.reject(refused.code, refused.message)
        : node.ingest(item.event, 'ws');
    if (result.ok) {
      accepted++;
      if (result.duplicate) duplicates++;
      if (result.durable !== undefined) (durable ??= []).push([index, result.durable]);
      continue;
    }
    if (result.code === 'MG_ERR_EVENT_TOO_LARGE') {
      session.end(CLOSE.TOO_BIG, closeReason(`${result.code}: items[${index}] ${result.message}`));
      return;
    }
    answer(ctx, { ...errorFrame(ref, result.code, result.message, result.reasons), index });
  }
  if (durable === undefined) {
    if (ref !== undefined) answer(ctx, { op: 'ok', ref, accepted, duplicates });
    return;
  }
  const waits = durable;
  void Promise.all(waits.map(([, p]) => p)).then((outcomes) => {
    if (session.closed) return;
    for (let i = 0; i < outcomes.length; i++) {
      const refusal = outcomes[i];
      if (refusal === null) continue;
      accepted--;
      answer(ctx, { ...errorFrame(ref, refusal.code, refusal.message), index: waits[i]![0] });
    }
    if (ref !== undefined) answer(ctx, { op: 'ok', ref, accepted, duplicates });
  });
};

import { errorFrame } from '../error-frame.js';
import { boundConsumer } from './ack.js';
import { answer, type OpHandler } from './op-context.js';

/** `nak`: deliver `offset` again after `delay` ms (0: at once) instead of waiting out ackWait. */
export const handleNak: OpHandler<'nak'> = (ctx, request) => {
  const { ref, stream, consumer, offset } = request;
  const binding = boundConsumer(ctx, stream, consumer, ref);
  if (binding === null) return;
  const r = binding.consumer.nak(offset, request.delay);
  if (!r.ok) {
    const message = `offset ${offset} of consumer '${consumer}' is not in flight (not delivered, or acked already)`;
    ctx.node.reject('MG_ERR_CONSUMER_NOT_IN_FLIGHT', message);
    answer(ctx, { ...errorFrame(ref, 'MG_ERR_CONSUMER_NOT_IN_FLIGHT', message), stream, consumer, offsets: [offset] });
    return;
  }
  if (ref !== undefined) answer(ctx, { op: 'ok', ref });
};

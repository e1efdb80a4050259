import { consumersOf } from '../../streams/mod.js';
import { streamSubKey } from '../connection-data.js';
import { errorFrame } from '../error-frame.js';
import { answer, type OpContext, type OpHandler } from './op-context.js';

/** The binding of (stream, consumer) on this connection, or an MG_ERR_CONSUMER_UNKNOWN err frame and null. */
export function boundConsumer(ctx: OpContext, stream: string, consumer: string, ref: string | number | undefined) {
  const binding = ctx.consumers.get(streamSubKey(stream, consumer));
  if (binding !== undefined) return binding;
  const message = `this connection has not bound consumer '${consumer}' of stream '${stream}'; send consume first`;
  ctx.node.reject('MG_ERR_CONSUMER_UNKNOWN', message);
  answer(ctx, { ...errorFrame(ref, 'MG_ERR_CONSUMER_UNKNOWN', message), stream, consumer });
  return null;
}

/**
 * `ack`: offsets the consumer delivered are done. Offsets not in flight
 * (never delivered, acked already) are refused by name
 * (MG_ERR_CONSUMER_NOT_IN_FLIGHT with `offsets`); the others are acked.
 * With a ref, `ok` comes once the moved position is durable.
 */
export const handleAck: OpHandler<'ack'> = (ctx, request) => {
  const { ref, stream, consumer } = request;
  const binding = boundConsumer(ctx, stream, consumer, ref);
  if (binding === null) return;
  const r = binding.consumer.ack(request.offsets);
  if (!r.ok) {
    const message = `offsets ${r.notInFlight.join(', ')} of consumer '${consumer}' are not in flight (not delivered, or acked already)`;
    ctx.node.reject('MG_ERR_CONSUMER_NOT_IN_FLIGHT', message);
    answer(ctx, { ...errorFrame(ref, 'MG_ERR_CONSUMER_NOT_IN_FLIGHT', message), stream, consumer, offsets: r.notInFlight });
    return;
  }
  if (ref === undefined || ctx.streams === null) return;
  consumersOf(ctx.streams)
    .saved(binding.consumer)
    .then(
      () => answer(ctx, { op: 'ok', ref, ackFloor: binding.consumer.ackFloor }),
      (err: unknown) => {
        const message = `consumer '${consumer}': the acked position was not stored (${(err as Error)?.message}); it is kept and saved with the next ack`;
        ctx.node.reject('MG_ERR_STREAM_IO', message);
        answer(ctx, errorFrame(ref, 'MG_ERR_STREAM_IO', message));
      },
    );
};

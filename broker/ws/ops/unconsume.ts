import { streamSubKey } from '../connection-data.js';
import { boundConsumer } from './ack.js';
import { answer, type OpHandler } from './op-context.js';

/** `unconsume`: ends this connection's binding to a consumer; what it had in flight is delivered again (here, if it binds again, or to another client). */
export const handleUnconsume: OpHandler<'unconsume'> = (ctx, request) => {
  const { ref, stream, consumer } = request;
  const binding = boundConsumer(ctx, stream, consumer, ref);
  if (binding === null) return;
  binding.detach();
  ctx.consumers.delete(streamSubKey(stream, consumer));
  if (ref !== undefined) answer(ctx, { op: 'ok', ref });
};

import { type ErrorCode, MeshError } from '../../base/mod.js';
import { consumersOf } from '../../streams/mod.js';
import { streamSubKey } from '../connection-data.js';
import { sessionConsumerSink } from '../consumer-sink.js';
import { errorFrame } from '../error-frame.js';
import { answer, type OpHandler } from './op-context.js';

/**
 * `consume`: binds the connection to durable consumer `consumer` of
 * `stream`, creating it with the options given when absent. Bound
 * already: ok (idempotent). Then the subscription limit, the stream, the
 * rights (FULL read rights on the consumer's filter, or on each of the
 * stream's filters when it has none: a consumer's position is shared, so
 * a partial reader would ack for others what it never saw), then the
 * registry's checks (MG_ERR_CONSUMER_INVALID, _EXISTS). The `ok` carries
 * the epoch, the ack floor and the stream's last offset; deliveries follow.
 */
export const handleConsume: OpHandler<'consume'> = (ctx, request) => {
  const { node, session, guard, streams } = ctx;
  const { ref, stream, consumer, options } = request;
  const key = streamSubKey(stream, consumer);
  const refuse = (code: ErrorCode, message: string) => {
    node.reject(code, message);
    answer(ctx, { ...errorFrame(ref, code, message), stream, consumer });
  };
  const okFrame = () => {
    const c = ctx.consumers.get(key)!.consumer;
    return { op: 'ok', ref, stream, consumer, epoch: c.epoch, ackFloor: c.ackFloor, last: streams?.info(stream)?.last ?? 0 };
  };
  if (ctx.consumers.has(key)) {
    if (ref !== undefined) answer(ctx, okFrame());
    return;
  }
  const count = session.subscriptions.size + ctx.streamSubs.size + ctx.consumers.size;
  if (count >= ctx.maxSubscriptions) return refuse('MG_ERR_SUB_LIMIT', `this connection holds ${count} subscriptions, the limit`);
  if (streams === null) return refuse('MG_ERR_STREAM_UNKNOWN', `no stream '${stream}'`);
  const registry = consumersOf(streams);
  void (async () => {
    await registry.ready();
    const info = streams.info(stream);
    if (info === undefined) return refuse('MG_ERR_STREAM_UNKNOWN', `no stream '${stream}'`);
    const existing = registry.get(stream, consumer);
    const filters = options.filter !== undefined ? [options.filter] : existing?.config.filter != null ? [existing.config.filter] : info.config.filters;
    const permissions = guard.principal?.permissions;
    if (permissions !== undefined) {
      for (const f of filters) {
        if (node.checkFilter(f) !== null) continue; // the registry names what is wrong with it
        if (permissions.canSubscribe(f) !== 'full')
          return refuse('MG_ERR_AUTH_FORBIDDEN', `'${guard.principal!.name}' may not read all of '${f}', which consumer '${consumer}' delivers`);
      }
    }
    const c = await registry.bind(stream, consumer, options);
    if (session.closed || ctx.consumers.has(key)) {
      if (!session.closed && ref !== undefined) answer(ctx, okFrame());
      return;
    }
    ctx.consumers.set(key, c.attach(sessionConsumerSink(session, ctx.codec)));
    if (ref !== undefined) answer(ctx, okFrame());
  })().catch((err: unknown) => {
    if (err instanceof MeshError) return refuse(err.code, err.message);
    refuse('MG_ERR_INTERNAL', (err as Error)?.message ?? String(err));
  });
};

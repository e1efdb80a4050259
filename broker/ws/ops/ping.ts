import { answer, type OpHandler } from './op-context.js';

/** `ping`: `pong`, with the ref when one was given. */
export const handlePing: OpHandler<'ping'> = (ctx, request) => {
  answer(ctx, request.ref === undefined ? { op: 'pong' } : { op: 'pong', ref: request.ref });
};

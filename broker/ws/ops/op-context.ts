import type { ClientRequest } from '../client-protocol.js';
import type { OpContext } from '../connection-data.js';

export type { OpContext } from '../connection-data.js';

/** The request of one op, narrowed from the union. */
export type OpRequest<K extends ClientRequest['op']> = Extract<ClientRequest, { readonly op: K }>;

/** Handles one request; answers through the session, never throws. */
export type OpHandler<K extends ClientRequest['op']> = (ctx: OpContext, request: OpRequest<K>) => void;

/** Sends one reply frame in the connection's codec. */
export function answer(ctx: OpContext, frame: Record<string, unknown>): void {
  ctx.session.reply(ctx.codec.encode(frame), ctx.codec.binary);
}

/**
 * The client protocol's requests, one handler per op. The table is checked
 * with `satisfies` over the op union: an op added to ClientRequest does not
 * compile until it has a handler here.
 */
import type { ClientRequest } from '../client-protocol.js';
import { handleAck } from './ack.js';
import { handleConsume } from './consume.js';
import { handleNak } from './nak.js';
import type { OpContext, OpHandler } from './op-context.js';
import { handlePing } from './ping.js';
import { handlePub } from './pub.js';
import { handlePubs } from './pubs.js';
import { handleSub } from './sub.js';
import { handleUnsub } from './unsub.js';

const HANDLERS = {
  pub: handlePub,
  pubs: handlePubs,
  sub: handleSub,
  unsub: handleUnsub,
  ping: handlePing,
  consume: handleConsume,
  ack: handleAck,
  nak: handleNak,
} satisfies { readonly [K in ClientRequest['op']]: OpHandler<K> };

/** Runs the handler of the request's op. */
export function dispatch(ctx: OpContext, request: ClientRequest): void {
  // TypeScript cannot tie HANDLERS[op] to the request of that same op; the table's type above does.
  (HANDLERS[request.op] as (ctx: OpContext, request: ClientRequest) => void)(ctx, request);
}

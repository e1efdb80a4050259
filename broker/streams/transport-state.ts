/**
 * What a reader (StreamReader, a durable consumer) asks of the transport it
 * feeds, read live on every step: a /v1/ws or SSE session has these.
 */
export interface TransportState {
  /** The transport went away: the reader stops. */
  readonly closed: boolean;
  /** Bytes written to the transport and not yet sent. */
  readonly bufferedBytes: number;
  /** The transport's per-subscriber limit: a reader reads on only while bufferedBytes is under a quarter of it. */
  readonly maxBufferedBytes: number;
}

/**
 * `parts` (the deliver functions) as a sink whose state is `transport`'s,
 * read through at each access (never copied: a copy would go stale).
 * @example
 * new StreamReader({ ..., sink: sinkOn(session, { deliverEntry: (event, offset) => ... }) });
 */
export function sinkOn<T extends object>(transport: TransportState, parts: T): TransportState & T {
  return Object.defineProperties(parts, {
    closed: { get: () => transport.closed },
    bufferedBytes: { get: () => transport.bufferedBytes },
    maxBufferedBytes: { get: () => transport.maxBufferedBytes },
  }) as TransportState & T;
}

/**
 * The ConsumerPositionStore seam: where a durable consumer's acknowledged
 * position lives. Each StreamStore engine hands out its own
 * (StreamStore.consumerPositions()), so a position is as durable as the
 * stream it points into and is kept in the same place: lmdb in the same
 * environment, JetStream in a KV bucket beside the streams, memory in
 * memory. One contract suite holds every engine to the same behaviour
 * (test/broker/streams/consumer-position-contract.ts).
 *
 * A position is a whole record, written over the previous one: the ack
 * floor (every offset <= floor is acknowledged) and the acknowledged
 * offsets above it. The caller coalesces writes (one save in flight per
 * consumer, latest state wins), so the store never sees a save per ack.
 */

/** How a consumer delivers; fixed when it is created. */
export interface ConsumerConfig {
  /** Only entries whose topic this filter matches are delivered (the others count as acked); null: every entry. */
  readonly filter: string | null;
  /** A delivery not acked within this many ms is delivered again. */
  readonly ackWaitMs: number;
  /** Most deliveries outstanding (sent, not acked) at once. */
  readonly maxInFlight: number;
}

export interface ConsumerPosition {
  readonly stream: string;
  /** 1-64 characters of `A-Z a-z 0-9 _ -`, unique per stream. */
  readonly name: string;
  /** The stream's epoch when the consumer was created: a position in another epoch is void. */
  readonly epoch: string;
  readonly config: ConsumerConfig;
  /** Every offset <= floor is acknowledged. */
  readonly floor: number;
  /** Acknowledged offsets above the floor, ascending. */
  readonly acked: readonly number[];
  /** Highest offset ever handed out: after a node restart, offsets in floor..delivered are redeliveries. */
  readonly delivered: number;
  /** Creation time, ms since the epoch. */
  readonly created: number;
}

export interface ConsumerPositionStore {
  /** Every saved position (all streams). */
  load(): Promise<ConsumerPosition[]>;
  /** Writes `p` over the saved one of (p.stream, p.name); resolves once durable (on disk, or acked by JetStream). */
  save(p: ConsumerPosition): Promise<void>;
  /** Forgets (stream, name); no-op when absent. */
  remove(stream: string, name: string): Promise<void>;
}

/** The one key form every engine uses. Names exclude '.', so the split is unambiguous. */
export function positionKey(stream: string, name: string): string {
  return `${stream}.${name}`;
}

/** Checks a record read back from an engine; null when it is not a position (skipped at load, never trusted). */
export function parsePosition(v: unknown): ConsumerPosition | null {
  if (v === null || typeof v !== 'object') return null;
  const p = v as Record<string, unknown>;
  const c = p.config as Record<string, unknown> | undefined;
  const whole = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  if (typeof p.stream !== 'string' || typeof p.name !== 'string' || typeof p.epoch !== 'string') return null;
  if (!whole(p.floor) || !whole(p.delivered) || typeof p.created !== 'number' || !Array.isArray(p.acked) || !p.acked.every(whole)) return null;
  if (c === undefined || c === null || typeof c !== 'object' || !whole(c.ackWaitMs) || !whole(c.maxInFlight)) return null;
  if (c.filter !== null && typeof c.filter !== 'string') return null;
  return {
    stream: p.stream,
    name: p.name,
    epoch: p.epoch,
    config: { filter: c.filter as string | null, ackWaitMs: c.ackWaitMs as number, maxInFlight: c.maxInFlight as number },
    floor: p.floor as number,
    acked: p.acked as number[],
    delivered: p.delivered as number,
    created: p.created as number,
  };
}

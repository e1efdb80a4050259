/**
 * The node's durable consumers, over its StreamManager: creates them (from
 * ConsumerOptions, at a start position), finds them again after a restart
 * (positions loaded from the store's ConsumerPositionStore), saves their
 * acked position as it moves, removes them, and reports them (ack floor,
 * in flight, lag) for /v1/streams, the CLI and /metrics.
 *
 * Saves are coalesced per consumer: one save in flight, the newest state
 * written next, so a consumer acking 10,000 events a second costs the
 * store a write per commit, not per ack. `saved(consumer)` resolves once
 * everything acked before the call is durable (what an `ack` with a ref
 * waits for).
 *
 * The in-process API (a sink inside the node: PostgreSQL apply, webhooks):
 * @example
 * const consumers = consumersOf(streams);
 * const c = await consumers.bind('orders', 'pg-apply', { start: 'first', ackWaitMs: 10_000 });
 * const binding = c.attach({
 *   closed: false, bufferedBytes: 0, maxBufferedBytes: Infinity,
 *   deliver: (d) => { void apply(d.event).then(() => c.ack([d.offset]), () => c.nak(d.offset, 1000)); return 0; },
 * });
 * // later: binding.detach(); what it had in flight is delivered again on the next attach
 */
import { MeshError, type Metric } from '../base/mod.js';
import { type ConsumerOptions, type ConsumerStart, checkConsumerName, resolveConsumerConfig, sameConsumerConfig } from './consumer-config.js';
import type { ConsumerConfig, ConsumerPosition, ConsumerPositionStore } from './consumer-position.js';
import { positionKey } from './consumer-position.js';
import { DurableConsumer } from './durable-consumer.js';
import type { StreamManager } from './stream-manager.js';

/** A consumer as operations see it. */
export interface ConsumerInfo {
  readonly stream: string;
  readonly name: string;
  readonly filter: string | null;
  readonly ackWaitMs: number;
  readonly maxInFlight: number;
  /** Every offset <= ackFloor is acked. */
  readonly ackFloor: number;
  /** Delivered and not acked. */
  readonly inFlight: number;
  /** The stream's last offset minus the ack floor. */
  readonly lag: number;
  /** Sinks attached now (connections, in-process sinks). */
  readonly bound: number;
  readonly created: number;
}

interface Entry {
  readonly consumer: DurableConsumer;
  /** A save is running; `dirty`: the state moved since it started. */
  saving: Promise<void> | null;
  dirty: boolean;
  /** Waiters for the next save to finish. */
  waiters: Array<{ resolve: () => void; reject: (e: Error) => void }>;
  readonly lag: Metric;
  readonly unlisten: () => void;
}

const registries = new WeakMap<StreamManager, ConsumerRegistry>();

/** The one consumer registry of a StreamManager (created on first use; loads saved positions once the store is open). */
export function consumersOf(streams: StreamManager): ConsumerRegistry {
  let r = registries.get(streams);
  if (r === undefined) registries.set(streams, (r = new ConsumerRegistry(streams)));
  return r;
}

export class ConsumerRegistry {
  readonly #streams: StreamManager;
  readonly #entries = new Map<string, Entry>();
  readonly #redeliveries = new Map<string, Metric>();
  readonly #pruned = new Map<string, Metric>();
  #positions: ConsumerPositionStore | null = null;
  #loaded: Promise<void> | null = null;
  #closed = false;

  constructor(streams: StreamManager) {
    this.#streams = streams;
    streams.onRemoved((name) => {
      for (const e of [...this.#entries.values()]) if (e.consumer.stream === name) void this.remove(name, e.consumer.name).catch(() => {});
    });
    streams.onClosing(() => this.close());
  }

  /** Resolves once the saved positions are loaded (at once while the node has no store open: it has no streams, so no consumers). */
  ready(): Promise<void> {
    if (this.#loaded !== null) return this.#loaded;
    const positions = this.#streams.consumerPositions();
    if (positions === null) return Promise.resolve();
    this.#positions = positions;
    this.#loaded = positions.load().then(async (saved) => {
      for (const p of saved) {
        const info = this.#streams.info(p.stream);
        // The stream went, or was re-created (new epoch) while the node was down: the position is void.
        if (info === undefined || info.epoch !== p.epoch) {
          await positions.remove(p.stream, p.name);
          continue;
        }
        if (!this.#entries.has(positionKey(p.stream, p.name))) this.#add(p);
      }
    });
    this.#loaded.catch(() => {
      this.#loaded = null; // retried on the next call
    });
    return this.#loaded;
  }

  /**
   * The consumer `name` on `stream`, created with `options` when absent.
   * When it exists, the options given (filter, ackWaitMs, maxInFlight) must
   * match its own; `start` is ignored (it continues from its ack floor).
   * Throws MeshError MG_ERR_STREAM_UNKNOWN, MG_ERR_CONSUMER_INVALID, MG_ERR_CONSUMER_EXISTS.
   */
  async bind(stream: string, name: string, options: ConsumerOptions = {}): Promise<DurableConsumer> {
    if (this.#closed) throw new MeshError('MG_ERR_STREAM_CLOSED', 'the node is closing; consumers are closed');
    checkConsumerName(name);
    await this.ready();
    const info = this.#streams.info(stream);
    if (info === undefined) throw new MeshError('MG_ERR_STREAM_UNKNOWN', `no stream '${stream}'`);
    const config = resolveConsumerConfig(options, info.config.filters, (f) => this.#streams.checkFilter(f));
    const had = this.#entries.get(positionKey(stream, name));
    if (had !== undefined) {
      const c = had.consumer.config;
      const given: ConsumerConfig = {
        filter: options.filter === undefined ? c.filter : config.filter,
        ackWaitMs: options.ackWaitMs === undefined ? c.ackWaitMs : config.ackWaitMs,
        maxInFlight: options.maxInFlight === undefined ? c.maxInFlight : config.maxInFlight,
      };
      if (!sameConsumerConfig(c, given)) {
        throw new MeshError(
          'MG_ERR_CONSUMER_EXISTS',
          `consumer '${name}' on stream '${stream}' exists with filter ${c.filter ?? '(all)'}, ackWaitMs ${c.ackWaitMs}, maxInFlight ${c.maxInFlight}; fix: bind with those options (or none), or remove it first`,
        );
      }
      return had.consumer;
    }
    const floor = this.#startFloor(stream, options.start ?? 'first');
    const position: ConsumerPosition = { stream, name, epoch: info.epoch, config, floor, acked: [], delivered: floor, created: Date.now() };
    // Saved before the first delivery: a created consumer survives a restart even before its first ack.
    await this.#positions!.save(position);
    const again = this.#entries.get(positionKey(stream, name)); // a concurrent bind won
    return again?.consumer ?? this.#add(position).consumer;
  }

  get(stream: string, name: string): DurableConsumer | undefined {
    return this.#entries.get(positionKey(stream, name))?.consumer;
  }

  /** The consumers of `stream`, by name. */
  list(stream: string): ConsumerInfo[] {
    const last = this.#streams.info(stream)?.last ?? 0;
    const out: ConsumerInfo[] = [];
    for (const { consumer: c } of this.#entries.values()) {
      if (c.stream !== stream) continue;
      out.push({
        stream,
        name: c.name,
        filter: c.config.filter,
        ackWaitMs: c.config.ackWaitMs,
        maxInFlight: c.config.maxInFlight,
        ackFloor: c.ackFloor,
        inFlight: c.inFlight,
        lag: Math.max(0, last - c.ackFloor),
        bound: c.bindings,
        created: c.created,
      });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Resolves once the consumer's position as of now is durable. */
  saved(consumer: DurableConsumer): Promise<void> {
    const e = this.#entries.get(positionKey(consumer.stream, consumer.name));
    if (e === undefined || (e.saving === null && !e.dirty)) return Promise.resolve();
    return new Promise((resolve, reject) => e.waiters.push({ resolve, reject }));
  }

  /** Removes a consumer and its saved position; false when there was none. */
  async remove(stream: string, name: string): Promise<boolean> {
    await this.ready();
    const key = positionKey(stream, name);
    const e = this.#entries.get(key);
    if (e === undefined) return false;
    this.#entries.delete(key);
    e.consumer.stop();
    e.unlisten();
    e.lag.set(0);
    await e.saving?.catch(() => {});
    await this.#positions!.remove(stream, name);
    return true;
  }

  /** Stops every consumer and waits for their last saves. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#loaded?.catch(() => {});
    for (const e of this.#entries.values()) e.consumer.stop();
    // Saves coalesced while the store was busy still go out, then the store may close.
    await Promise.all([...this.#entries.values()].map((e) => this.#flushSave(e)));
  }

  #add(p: ConsumerPosition): Entry {
    const labels = { stream: p.stream, consumer: p.name };
    const lag = this.#streams.metrics.gauge(
      'meshgate_stream_consumer_lag',
      'Offsets of a stream past a durable consumer ack floor (stream last - ack floor)',
      labels,
    );
    let entry: Entry | undefined;
    const consumer = new DurableConsumer({
      source: this.#streams,
      position: p,
      hooks: {
        changed: () => {
          if (entry === undefined) return;
          this.#updateLag(entry);
          this.#save(entry);
        },
        redelivered: () =>
          this.#counter(
            this.#redeliveries,
            'meshgate_stream_consumer_redeliveries_total',
            'Deliveries of a durable consumer sent again: ack wait passed, nak, the client went away, or the node restarted',
            labels,
          ).inc(),
        pruned: (n) =>
          this.#counter(
            this.#pruned,
            'meshgate_stream_consumer_pruned_total',
            'Offsets retention removed before a durable consumer acked them (counted as acked)',
            labels,
          ).inc(n),
        ended: () => void this.remove(p.stream, p.name).catch(() => {}),
      },
    });
    const unlisten = this.#streams.onAppended(p.stream, () => {
      if (entry !== undefined) this.#updateLag(entry);
    });
    entry = { consumer, saving: null, dirty: false, waiters: [], lag, unlisten };
    this.#entries.set(positionKey(p.stream, p.name), entry);
    this.#updateLag(entry);
    return entry;
  }

  #updateLag(e: Entry): void {
    const last = this.#streams.info(e.consumer.stream)?.last ?? 0;
    e.lag.set(Math.max(0, last - e.consumer.ackFloor));
  }

  #counter(map: Map<string, Metric>, name: string, help: string, labels: { stream: string; consumer: string }): Metric {
    const key = positionKey(labels.stream, labels.consumer);
    let m = map.get(key);
    if (m === undefined) map.set(key, (m = this.#streams.metrics.counter(name, help, labels)));
    return m;
  }

  /** One save in flight per consumer; the state as of its start is written, and a later change starts another. */
  #save(e: Entry): void {
    e.dirty = true;
    if (e.saving !== null) return;
    const run = async (): Promise<void> => {
      while (e.dirty) {
        e.dirty = false;
        const waiters = e.waiters;
        e.waiters = [];
        try {
          await this.#positions!.save(e.consumer.position());
          for (const w of waiters) w.resolve();
        } catch (err) {
          // The position stays in memory; the next ack saves it again.
          for (const w of [...waiters, ...e.waiters.splice(0)]) w.reject(err as Error);
          break;
        }
      }
      // Waiters that came while the last save ran, with nothing changed since: it covered them.
      for (const w of e.waiters.splice(0)) w.resolve();
      e.saving = null;
    };
    e.saving = run();
  }

  async #flushSave(e: Entry): Promise<void> {
    while (e.saving !== null) await e.saving;
  }

  #startFloor(stream: string, start: ConsumerStart): number {
    const info = this.#streams.info(stream)!;
    if (start === 'first') return info.first - 1;
    if (start === 'new') return info.last;
    if (typeof start === 'object' && start !== null && 'offset' in start) {
      const o = start.offset;
      if (!Number.isSafeInteger(o) || o < 1)
        throw new MeshError('MG_ERR_CONSUMER_INVALID', `consumer.start.offset: expected a whole number >= 1, got ${JSON.stringify(o)}`);
      if (o - 1 > info.last) throw new MeshError('MG_ERR_STREAM_BEYOND_END', `offset ${o} is after the end of stream '${stream}' (last ${info.last})`);
      if (o < info.first) throw new MeshError('MG_ERR_STREAM_PRUNED', `offset ${o} of stream '${stream}' was trimmed by retention (first ${info.first})`);
      return o - 1;
    }
    if (typeof start === 'object' && start !== null && 'time' in start && Number.isFinite(start.time)) {
      return (this.#streams.seekTime(stream, start.time) ?? info.last + 1) - 1;
    }
    throw new MeshError('MG_ERR_CONSUMER_INVALID', `consumer.start: expected "first", "new", {offset} or {time}, got ${JSON.stringify(start)}`);
  }
}

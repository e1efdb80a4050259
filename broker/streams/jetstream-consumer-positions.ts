/**
 * Consumer positions in JetStream, beside the streams they point into: one
 * KV bucket per store, `MG_<storeId>_consumers` (file storage, history 1,
 * so JetStream keeps only the newest record per consumer), key
 * "<stream>.<name>", value the position as JSON. A save resolves on the
 * KV put's PubAck: the position is stored by JetStream.
 */
import type { JetStreamClient, KV } from 'nats';
import { StorageType } from 'nats';
import { type ConsumerPosition, type ConsumerPositionStore, parsePosition, positionKey } from './consumer-position.js';

export class JetStreamConsumerPositions implements ConsumerPositionStore {
  readonly #js: JetStreamClient;
  readonly #bucket: string;
  readonly #replicas: number;
  #kv: Promise<KV> | null = null;

  constructor(js: JetStreamClient, bucket: string, replicas: number) {
    this.#js = js;
    this.#bucket = bucket;
    this.#replicas = replicas;
  }

  /** Opened (created if missing) on first use: a store without consumers makes no bucket. */
  #open(): Promise<KV> {
    this.#kv ??= this.#js.views.kv(this.#bucket, { history: 1, storage: StorageType.File, replicas: this.#replicas }).catch((err: unknown) => {
      this.#kv = null; // retried on the next call
      throw err;
    });
    return this.#kv;
  }

  async load(): Promise<ConsumerPosition[]> {
    const kv = await this.#open();
    const out: ConsumerPosition[] = [];
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    for (const k of keys) {
      const e = await kv.get(k);
      if (e === null || e.operation !== 'PUT') continue;
      let v: unknown;
      try {
        v = e.json();
      } catch {
        continue;
      }
      const p = parsePosition(v);
      if (p !== null) out.push(p);
    }
    return out;
  }

  async save(p: ConsumerPosition): Promise<void> {
    const kv = await this.#open();
    await kv.put(positionKey(p.stream, p.name), JSON.stringify(p));
  }

  async remove(stream: string, name: string): Promise<void> {
    const kv = await this.#open();
    await kv.purge(positionKey(stream, name));
  }
}

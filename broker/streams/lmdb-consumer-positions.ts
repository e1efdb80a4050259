/**
 * Consumer positions in the stream store's own lmdb environment, database
 * `consumers` (key "<stream>.<name>", value the position record). Writes
 * are lmdb's async puts, which it batches into one transaction per turn;
 * a put resolves once its transaction is synced to disk, so a saved
 * position survives kill -9 and power loss as the streams' entries do.
 */
import type { Database, RootDatabase } from 'lmdb';
import { type ConsumerPosition, type ConsumerPositionStore, parsePosition, positionKey } from './consumer-position.js';

export class LmdbConsumerPositions implements ConsumerPositionStore {
  readonly #env: RootDatabase;
  readonly #db: Database<unknown, string>;

  constructor(env: RootDatabase) {
    this.#env = env;
    this.#db = env.openDB<unknown, string>({ name: 'consumers' });
  }

  async load(): Promise<ConsumerPosition[]> {
    const out: ConsumerPosition[] = [];
    for (const { value } of this.#db.getRange()) {
      const p = parsePosition(value);
      if (p !== null) out.push(p);
    }
    return out;
  }

  async save(p: ConsumerPosition): Promise<void> {
    await this.#db.put(positionKey(p.stream, p.name), { ...p, acked: [...p.acked] });
    await this.#env.flushed;
  }

  async remove(stream: string, name: string): Promise<void> {
    await this.#db.remove(positionKey(stream, name));
    await this.#env.flushed;
  }
}

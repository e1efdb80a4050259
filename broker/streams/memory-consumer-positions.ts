/** Consumer positions in memory: the memory engine's, gone with the process as its streams are. */
import { type ConsumerPosition, type ConsumerPositionStore, positionKey } from './consumer-position.js';

export class MemoryConsumerPositions implements ConsumerPositionStore {
  readonly #saved = new Map<string, ConsumerPosition>();

  async load(): Promise<ConsumerPosition[]> {
    return [...this.#saved.values()];
  }

  async save(p: ConsumerPosition): Promise<void> {
    // A copy: the caller keeps mutating its state.
    this.#saved.set(positionKey(p.stream, p.name), { ...p, acked: [...p.acked] });
  }

  async remove(stream: string, name: string): Promise<void> {
    this.#saved.delete(positionKey(stream, name));
  }
}

/**
 * A minimal typed event emitter that runs in browsers and Node alike (no
 * node:events). A listener that throws does not stop the others; the
 * throw is handed to `onListenerError`.
 */
// biome-ignore lint/suspicious/noExplicitAny: a listener map of any shape; each event's own signature is checked through Events
export class Emitter<Events extends { [K in keyof Events]: (...args: any[]) => void }> {
  // biome-ignore lint/suspicious/noExplicitAny: as above
  readonly #listeners = new Map<keyof Events, Set<(...args: any[]) => void>>();
  readonly #onListenerError: (err: unknown) => void;

  constructor(onListenerError: (err: unknown) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(type: K, listener: Events[K]): () => void {
    let set = this.#listeners.get(type);
    if (set === undefined) this.#listeners.set(type, (set = new Set()));
    set.add(listener);
    return () => this.off(type, listener);
  }

  /** Like `on`, removed after its first call. */
  once<K extends keyof Events>(type: K, listener: Events[K]): () => void {
    const off = this.on(type, ((...args: unknown[]) => {
      off();
      listener(...args);
    }) as Events[K]);
    return off;
  }

  off<K extends keyof Events>(type: K, listener: Events[K]): void {
    this.#listeners.get(type)?.delete(listener);
  }

  listenerCount<K extends keyof Events>(type: K): number {
    return this.#listeners.get(type)?.size ?? 0;
  }

  emit<K extends keyof Events>(type: K, ...args: Parameters<Events[K]>): void {
    const set = this.#listeners.get(type);
    if (set === undefined) return;
    for (const l of [...set]) {
      try {
        l(...args);
      } catch (err) {
        this.#onListenerError(err);
      }
    }
  }
}

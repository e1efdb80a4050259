/**
 * Runs a step once on the next event-loop turn, however often it is asked
 * for before then. setImmediate, not a microtask: the transports flush in
 * between, so a reader that looks at buffered bytes sees current ones.
 */
export class NextTurn {
  readonly #step: () => void;
  #scheduled = false;

  constructor(step: () => void) {
    this.#step = step;
  }

  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#step();
    });
  }
}

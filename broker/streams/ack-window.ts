/**
 * A consumer's acknowledged offsets: a floor (every offset <= floor is
 * acked) and the acked offsets above it. Acks may come in any order; the
 * floor moves up over every run that closes. Pure logic, no I/O.
 */
export class AckWindow {
  #floor: number;
  readonly #above = new Set<number>();

  constructor(floor: number, acked: Iterable<number> = []) {
    this.#floor = floor;
    for (const o of acked) if (o > floor) this.#above.add(o);
    this.#close();
  }

  get floor(): number {
    return this.#floor;
  }

  /** Acked offsets above the floor. */
  get size(): number {
    return this.#above.size;
  }

  isAcked(offset: number): boolean {
    return offset <= this.#floor || this.#above.has(offset);
  }

  /** Marks `offset` acked; false when it already was. */
  ack(offset: number): boolean {
    if (this.isAcked(offset)) return false;
    this.#above.add(offset);
    this.#close();
    return true;
  }

  /** Retention dropped every offset below `first`: they can no longer be delivered, so they count as done. */
  skipTo(first: number): void {
    if (first - 1 <= this.#floor) return;
    this.#floor = first - 1;
    for (const o of this.#above) if (o <= this.#floor) this.#above.delete(o);
    this.#close();
  }

  /** The acked offsets above the floor, ascending (what a position record keeps). */
  acked(): number[] {
    return [...this.#above].sort((a, b) => a - b);
  }

  #close(): void {
    while (this.#above.delete(this.#floor + 1)) this.#floor++;
  }
}

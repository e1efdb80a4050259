import { TopicTrie } from '../../routing/mod.js';
import type { MeshEvent } from '../event/mod.js';
import type { EgressFormat, Subscriber } from './egress.js';

/**
 * Fans an event out to the subscribers whose filters match its topic.
 * Filters are validated by the caller (MeshNode) before they get here.
 */
export class LocalRouter {
  readonly #trie = new TopicTrie<Subscriber>();
  /** Who holds each filter, to answer "wanted by anyone but X". */
  readonly #byFilter = new Map<string, Set<Subscriber>>();

  add(filter: string, subscriber: Subscriber): boolean {
    if (!this.#trie.add(filter, subscriber)) return false;
    let subs = this.#byFilter.get(filter);
    if (subs === undefined) this.#byFilter.set(filter, (subs = new Set()));
    subs.add(subscriber);
    return true;
  }

  remove(filter: string, subscriber: Subscriber): boolean {
    if (!this.#trie.remove(filter, subscriber)) return false;
    const subs = this.#byFilter.get(filter)!;
    subs.delete(subscriber);
    if (subs.size === 0) this.#byFilter.delete(filter);
    return true;
  }

  /** Number of (filter, subscriber) pairs. */
  get size(): number {
    return this.#trie.size;
  }

  /** Distinct filters held, optionally ignoring those held only by `exclude`. */
  filters(exclude?: Subscriber): string[] {
    if (exclude === undefined) return this.#trie.filters();
    const held = this.#byFilter;
    const out: string[] = [];
    for (const [filter, subs] of held) if (subs.size > (subs.has(exclude) ? 1 : 0)) out.push(filter);
    return out;
  }

  /**
   * Delivers `event` to every matching subscriber once, encoding it at
   * most once per egress format. Returns the number of deliveries.
   * `durableOnly`: only to durable subscribers (Subscriber.durable).
   */
  route(event: MeshEvent, durableOnly = false): number {
    const targets = this.#trie.match(event.topic);
    const n = targets.length;
    if (n === 0) return 0;
    let delivered = 0;
    // Almost every event meets one or two formats: a pair of locals beats
    // a Map per event, and the array only appears for a third format.
    let fmtA: EgressFormat | undefined;
    let frameA: Uint8Array | undefined;
    let fmtB: EgressFormat | undefined;
    let frameB: Uint8Array | undefined;
    let more: Array<[EgressFormat, Uint8Array]> | undefined;
    for (let i = 0; i < n; i++) {
      const sub = targets[i];
      if (durableOnly && sub.durable !== true) continue;
      delivered++;
      const fmt = sub.format;
      let frame: Uint8Array;
      if (fmt === fmtA) frame = frameA!;
      else if (fmt === fmtB) frame = frameB!;
      else if (fmtA === undefined) {
        fmtA = fmt;
        frame = frameA = fmt.encode(event);
      } else if (fmtB === undefined) {
        fmtB = fmt;
        frame = frameB = fmt.encode(event);
      } else {
        more ??= [];
        const hit = more.find(([f]) => f === fmt);
        if (hit) frame = hit[1];
        else {
          frame = fmt.encode(event);
          more.push([fmt, frame]);
        }
      }
      sub.deliver(frame, event);
    }
    return delivered;
  }
}

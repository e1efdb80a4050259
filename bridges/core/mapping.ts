import { filterMatches } from '../../routing/mod.js';

/**
 * One import or export mapping as a prefix rewrite between two views of
 * the same topic space, both in mesh token form:
 *
 * ```
 *   broker side  sensors/+/temp   --dialect-->  sensors.*.temp
 *                                               [prefix] [rest]
 *   mesh side    iot.*.temp                     iot      *.temp
 * ```
 *
 * The literal prefixes (tokens before the first wildcard) are swapped;
 * the rest must be the same on both sides. A broker side given without
 * wildcards is a plain prefix and takes the mesh side's rest.
 */
export class TopicMapping {
  /** Mesh filter: what this mapping carries, in mesh terms. */
  readonly meshFilter: string;
  /** The broker side's filter in mesh token form (broker prefix + rest). */
  readonly brokerFilter: string;
  readonly #meshPrefix: readonly string[];
  readonly #brokerPrefix: readonly string[];

  constructor(meshFilter: string, brokerPrefix: readonly string[]) {
    const tokens = meshFilter.split('.');
    const prefix = literalPrefix(tokens);
    this.meshFilter = meshFilter;
    this.#meshPrefix = tokens.slice(0, prefix);
    this.#brokerPrefix = brokerPrefix;
    this.brokerFilter = [...brokerPrefix, ...tokens.slice(prefix)].join('.');
  }

  /** Broker topic (mesh token form) -> mesh topic, or null when outside this mapping. */
  toMesh(brokerSide: string): string | null {
    if (!filterMatches(this.brokerFilter, brokerSide)) return null;
    return swap(brokerSide, this.#brokerPrefix, this.#meshPrefix);
  }

  /** Mesh topic -> broker topic (mesh token form), or null when outside this mapping. */
  toBroker(meshTopic: string): string | null {
    if (!filterMatches(this.meshFilter, meshTopic)) return null;
    return swap(meshTopic, this.#meshPrefix, this.#brokerPrefix);
  }

  /** A mesh filter inside meshFilter -> the broker-side filter (mesh token form). */
  filterToBroker(meshFilter: string): string {
    return swap(meshFilter, this.#meshPrefix, this.#brokerPrefix);
  }
}

/** Number of leading tokens that are not wildcards. */
export function literalPrefix(tokens: readonly string[]): number {
  let i = 0;
  while (i < tokens.length && tokens[i] !== '*' && tokens[i] !== '>') i++;
  return i;
}

function swap(text: string, from: readonly string[], to: readonly string[]): string {
  if (from.length === 0 && to.length === 0) return text;
  const tail = text.split('.').slice(from.length);
  const out = [...to, ...tail];
  // A mapping of a literal prefix onto nothing ("a.b" -> ""), cannot produce an empty topic: config forbids it.
  return out.join('.');
}

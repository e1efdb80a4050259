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
  readonly #meshTokens: readonly string[];
  readonly #brokerTokens: readonly string[];
  readonly #meshPrefix: readonly string[];
  readonly #brokerPrefix: readonly string[];
  /** The literal prefixes joined: a topic that matched one side starts with its prefix text. */
  readonly #meshPrefixText: string;
  readonly #brokerPrefixText: string;

  constructor(meshFilter: string, brokerPrefix: readonly string[]) {
    const tokens = meshFilter.split('.');
    const prefix = literalPrefix(tokens);
    this.meshFilter = meshFilter;
    this.#meshPrefix = tokens.slice(0, prefix);
    this.#brokerPrefix = brokerPrefix;
    this.brokerFilter = [...brokerPrefix, ...tokens.slice(prefix)].join('.');
    this.#meshTokens = tokens;
    this.#brokerTokens = this.brokerFilter.split('.');
    this.#meshPrefixText = this.#meshPrefix.join('.');
    this.#brokerPrefixText = brokerPrefix.join('.');
  }

  /** Broker topic (mesh token form) -> mesh topic, or null when outside this mapping. Per message: no split, no arrays. */
  toMesh(brokerSide: string): string | null {
    if (!matches(this.#brokerTokens, brokerSide)) return null;
    return swapMatched(brokerSide, this.#brokerPrefixText, this.#meshPrefixText);
  }

  /** Mesh topic -> broker topic (mesh token form), or null when outside this mapping. Per event: no split, no arrays. */
  toBroker(meshTopic: string): string | null {
    if (!matches(this.#meshTokens, meshTopic)) return null;
    return swapMatched(meshTopic, this.#meshPrefixText, this.#brokerPrefixText);
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

/**
 * routing's `filterMatches(filter, topic)` for a filter split once: walks
 * the topic's tokens in place instead of splitting it per message.
 */
export function matches(filter: readonly string[], topic: string): boolean {
  const last = filter.length - 1;
  let at = 0; // start of the topic's token i; past the end when the topic has no token i
  for (let i = 0; i <= last; i++) {
    if (at > topic.length) return false;
    const tok = filter[i];
    if (tok === '>' && i === last) return true; // '>' takes the token at `at` and any after it
    let end = topic.indexOf('.', at);
    if (end === -1) end = topic.length;
    if (tok !== '*' && (end - at !== tok.length || !topic.startsWith(tok, at))) return false;
    at = end + 1;
  }
  return at > topic.length;
}

/** swap() for a topic that matched the `from` side: its first tokens are `fromText` literally, so only the text before them changes. */
function swapMatched(topic: string, fromText: string, toText: string): string {
  if (fromText === toText) return topic;
  if (fromText === '') return toText + '.' + topic;
  const rest = topic.slice(fromText.length); // '' or '.<tokens>'
  return toText === '' ? rest.slice(1) : toText + rest;
}

function swap(text: string, from: readonly string[], to: readonly string[]): string {
  if (from.length === 0 && to.length === 0) return text;
  const tail = text.split('.').slice(from.length);
  const out = [...to, ...tail];
  // A mapping of a literal prefix onto nothing ("a.b" -> ""), cannot produce an empty topic: config forbids it.
  return out.join('.');
}

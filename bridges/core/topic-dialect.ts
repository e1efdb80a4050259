/**
 * How one broker spells topics, as routing/ translates them. Each bridge
 * folder provides one; the core never sees a broker's separator or
 * wildcard characters. Every method may throw routing's TopicError for a
 * topic or filter with no form on the other side: callers catch and count.
 */
export interface TopicDialect {
  /** Broker topic -> mesh topic (canonical, dot-separated). */
  topicToMesh(brokerTopic: string): string;
  /** Mesh topic -> broker topic. */
  topicFromMesh(meshTopic: string): string;
  /** Broker filter -> mesh filters whose union matches the same topics (the last is the most general). */
  filterToMesh(brokerFilter: string): string[];
  /** Mesh filter -> broker filter matching the same topics. */
  filterFromMesh(meshFilter: string): string;
  /** The broker filter meaning "every topic" (`#`, `>`). */
  readonly everything: string;
  /** What separates levels or words in a broker topic (`/`, `.`). */
  readonly separator: string;
}

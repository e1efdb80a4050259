/**
 * Dead letters (docs/protocol.md, "Dead letters"): the event a node
 * publishes, as itself, when it refuses an event after accepting its
 * frame, so the refusal is seen where the producer's protocol cannot carry
 * an error (bridges) and kept where it can (WebSocket acks are gone once read).
 *
 *   topic            _mg.deadletter.<original topic>
 *   type             meshgate.deadletter
 *   source           meshgate://<node id>
 *   id               derived from the original (topic, source, id): a
 *                    producer retry of the same event is deduplicated to
 *                    one letter
 *   subject          the original topic (whole, even when the topic is cut)
 *   datacontenttype  application/json
 *   data             {"reasons":[{path, message}], "event": <original structured CloudEvent>}
 */
import { createHash } from 'node:crypto';
import type { MeshEvent } from '../event/mod.js';
import { encodeStructuredJson } from '../event/mod.js';
import type { SchemaReason } from './ingress-validation.js';

/** Every dead-letter topic starts with this (a reserved `_mg.` topic). */
export const DEAD_LETTER_PREFIX = '_mg.deadletter.';
/** CloudEvents `type` of a dead letter. */
export const DEAD_LETTER_TYPE = 'meshgate.deadletter';

/**
 * `_mg.deadletter.<topic>`, or, when that breaks the node's topic limits
 * (the prefix adds 2 tokens and 15 characters), the prefix with as many
 * leading tokens of `topic` as fit: `_mg.deadletter.>` still matches it,
 * and the letter's `subject` keeps the whole topic. Null only when not
 * even one token fits.
 *
 * @example deadLetterTopic('db.orders.insert', ok) // '_mg.deadletter.db.orders.insert'
 */
export function deadLetterTopic(topic: string, fits: (topic: string) => boolean): string | null {
  let candidate = DEAD_LETTER_PREFIX + topic;
  if (fits(candidate)) return candidate;
  const tokens = topic.split('.');
  for (let n = tokens.length - 1; n >= 1; n--) {
    candidate = DEAD_LETTER_PREFIX + tokens.slice(0, n).join('.');
    if (fits(candidate)) return candidate;
  }
  return null;
}

/**
 * The dead letter's id: the same original (topic, source, id) always gives
 * the same id, so the node's dedup keeps one letter per event. The topic is
 * in it because a long topic's letter topic is cut (deadLetterTopic): two
 * originals on different topics can share a letter topic, and without it
 * a producer could suppress the letter of an event on a topic it may not
 * publish, as it could the event itself (dedup.ts).
 */
export function deadLetterId(topic: string, source: string, id: string): string {
  return createHash('sha256')
    .update(JSON.stringify([topic, source, id]))
    .digest('hex');
}

export interface DeadLetterOptions {
  /** The refusing node, named in `source`. */
  readonly nodeId: string;
  /** From {@link deadLetterTopic}. */
  readonly topic: string;
  /**
   * Largest data the mesh carries (limits.maxEventBytes). A letter that
   * would be larger leaves the original's data out and says how many bytes
   * it had in `omittedDataBytes`, rather than being refused itself.
   */
  readonly maxDataBytes: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * Builds the dead letter for `event`, refused for `reasons`. `event` is
 * the event as it arrived (no provenance yet), encoded as the producer's
 * structured CloudEvent with its data bytes as sent.
 */
export function deadLetter(event: MeshEvent, reasons: readonly SchemaReason[], options: DeadLetterOptions): MeshEvent {
  const head = `{"reasons":${JSON.stringify(reasons)},"event":`;
  let data = Buffer.from(`${head}${encodeStructuredJson(event)}}`);
  if (data.byteLength > options.maxDataBytes && event.data !== undefined) {
    data = Buffer.from(`${head}${encodeStructuredJson({ ...event, data: undefined })},"omittedDataBytes":${event.data.byteLength}}`);
  }
  return {
    id: deadLetterId(event.topic, event.source, event.id),
    source: `meshgate://${options.nodeId}`,
    type: DEAD_LETTER_TYPE,
    topic: options.topic,
    data,
    attrs: { datacontenttype: 'application/json', subject: event.topic, time: new Date((options.now ?? Date.now)()).toISOString() },
    // The refused event's creation context: the dead-lettering shows in the producer's trace.
    traceparent: event.traceparent,
    tracestate: event.tracestate,
    hops: [],
  };
}
